// 2-D PCA: see pca.h.
#include "trident/viz/pca.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "trident/core/error.h"
#include "trident/core/shape.h"

namespace trident::viz {

namespace {

// Makes the entry of largest magnitude positive. A tie (magnitudes within a relative 1e-9 of the largest, so that
// rounding does not decide) goes to the first such entry.
void fix_sign(double* v, std::int64_t d) {
  double largest = 0;
  for (std::int64_t i = 0; i < d; ++i) largest = std::max(largest, std::abs(v[i]));
  std::int64_t best = 0;
  while (best < d && std::abs(v[best]) < largest * (1 - 1e-9)) ++best;
  if (best < d && v[best] < 0) {
    for (std::int64_t i = 0; i < d; ++i) v[i] = -v[i] + 0.0;
  }
}

// A fixed pseudo-random sequence (splitmix64) for the start block: deterministic, and with probability 1 not
// orthogonal to the eigenvectors sought.
double start_value(std::uint64_t i) {
  std::uint64_t z = i * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) / 9007199254740992.0 - 0.5;
}

// Orthonormalises the p columns of q (d x p, row-major) in place by modified Gram-Schmidt, applied twice for
// accuracy. A column that (nearly) vanishes is replaced by a fresh start vector and orthogonalised again.
void orthonormalise(std::vector<double>& q, std::int64_t d, std::int64_t p, std::uint64_t& fresh) {
  const auto col = [&](std::int64_t i, std::int64_t j) -> double& { return q[i * p + j]; };
  for (std::int64_t j = 0; j < p; ++j) {
    for (int attempt = 0; attempt < 4; ++attempt) {
      double before = 0;
      for (std::int64_t i = 0; i < d; ++i) before += col(i, j) * col(i, j);
      for (int pass = 0; pass < 2; ++pass) {
        for (std::int64_t k = 0; k < j; ++k) {
          double dot = 0;
          for (std::int64_t i = 0; i < d; ++i) dot += col(i, k) * col(i, j);
          for (std::int64_t i = 0; i < d; ++i) col(i, j) -= dot * col(i, k);
        }
      }
      double norm = 0;
      for (std::int64_t i = 0; i < d; ++i) norm += col(i, j) * col(i, j);
      if (norm > 1e-20 * before && norm > 0) {
        const double inv = 1 / std::sqrt(norm);
        for (std::int64_t i = 0; i < d; ++i) col(i, j) *= inv;
        break;
      }
      for (std::int64_t i = 0; i < d; ++i) col(i, j) = start_value(fresh++);
    }
  }
}

}  // namespace

SymmetricEigen symmetric_eigen(const std::vector<double>& matrix, std::int64_t n) {
  TRIDENT_CHECK(n >= 0 && static_cast<std::int64_t>(matrix.size()) == n * n,
                "symmetric_eigen: expected {} x {} = {} values, got {}", n, n, n * n, matrix.size());
  std::vector<double> a = matrix, v(n * n, 0.0);
  for (std::int64_t i = 0; i < n; ++i) v[i * n + i] = 1;
  const auto A = [&](std::int64_t i, std::int64_t j) -> double& { return a[i * n + j]; };
  double scale = 0;
  for (double x : a) scale += x * x;
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0;
    for (std::int64_t p = 0; p < n; ++p) {
      for (std::int64_t q = p + 1; q < n; ++q) off += 2 * A(p, q) * A(p, q);
    }
    if (off <= 1e-32 * scale) break;
    for (std::int64_t p = 0; p < n; ++p) {
      for (std::int64_t q = p + 1; q < n; ++q) {
        const double apq = A(p, q);
        if (apq == 0) continue;
        // Note [Jacobi rotation]: with J = I except J_pp = J_qq = c, J_pq = s, J_qp = -s, the entry (p, q) of
        // J^T A J is cs (a_pp - a_qq) + (c^2 - s^2) a_pq. It vanishes for t = s / c solving t^2 + 2 theta t - 1 = 0,
        // theta = (a_qq - a_pp) / (2 a_pq); the root of smaller magnitude (|t| <= 1, a rotation by at most 45
        // degrees) is sgn(theta) / (|theta| + sqrt(theta^2 + 1)), which keeps the sweeps convergent.
        const double theta = (A(q, q) - A(p, p)) / (2 * apq);
        const double t = (theta >= 0 ? 1.0 : -1.0) / (std::abs(theta) + std::sqrt(theta * theta + 1));
        const double c = 1 / std::sqrt(t * t + 1), s = t * c;
        for (std::int64_t k = 0; k < n; ++k) {  // A <- A J
          const double akp = A(k, p), akq = A(k, q);
          A(k, p) = c * akp - s * akq;
          A(k, q) = s * akp + c * akq;
        }
        for (std::int64_t k = 0; k < n; ++k) {  // A <- J^T A
          const double apk = A(p, k), aqk = A(q, k);
          A(p, k) = c * apk - s * aqk;
          A(q, k) = s * apk + c * aqk;
        }
        A(p, q) = A(q, p) = 0;
        for (std::int64_t k = 0; k < n; ++k) {  // V <- V J: the columns of V are the eigenvectors
          const double vkp = v[k * n + p], vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  std::vector<std::int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::int64_t i, std::int64_t j) { return A(i, i) > A(j, j); });
  SymmetricEigen out;
  out.values.resize(n);
  out.vectors.resize(n * n);
  for (std::int64_t r = 0; r < n; ++r) {
    out.values[r] = A(order[r], order[r]);
    for (std::int64_t k = 0; k < n; ++k) out.vectors[r * n + k] = v[k * n + order[r]];
    fix_sign(&out.vectors[r * n], n);
  }
  return out;
}

double Pca2::explained(int k) const { return total_variance > 0 ? variance.at(k) / total_variance : 0.0; }

std::string Pca2::axis_label(int k) const {
  return fmt::format("PC{} ({:.1f}% of variance)", k + 1, 100 * explained(k));
}

Pca2 pca_2d(const std::vector<double>& data, std::int64_t n, std::int64_t d) {
  TRIDENT_CHECK(n >= 1 && d >= 1, "pca_2d: need at least one row and one column, got [{}, {}]", n, d);
  TRIDENT_CHECK(static_cast<std::int64_t>(data.size()) == n * d, "pca_2d: [{}, {}] needs {} values, got {}", n, d,
                n * d, data.size());
  for (std::int64_t i = 0; i < n * d; ++i) {
    TRIDENT_CHECK(std::isfinite(data[i]), "pca_2d: non-finite value {} at row {}, column {}", data[i], i / d, i % d);
  }
  Pca2 out;
  out.mean.assign(d, 0.0);
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t j = 0; j < d; ++j) out.mean[j] += data[i * d + j];
  }
  for (double& m : out.mean) m /= static_cast<double>(n);
  std::vector<double> xc(data.size());
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t j = 0; j < d; ++j) xc[i * d + j] = data[i * d + j] - out.mean[j];
  }
  // Covariance: the upper triangle, row by row in parallel (each thread owns its rows), then mirrored.
  std::vector<double> cov(d * d, 0.0);
  const double denom = n > 1 ? static_cast<double>(n - 1) : 1.0;
#pragma omp parallel for schedule(dynamic, 4) if (n * d * d > (1 << 20))
  for (std::int64_t a = 0; a < d; ++a) {
    double* row = &cov[a * d];
    for (std::int64_t i = 0; i < n; ++i) {
      const double* x = &xc[i * d];
      const double xa = x[a];
      for (std::int64_t b = a; b < d; ++b) row[b] += xa * x[b];
    }
    for (std::int64_t b = a; b < d; ++b) row[b] /= denom;
  }
  for (std::int64_t a = 0; a < d; ++a) {
    for (std::int64_t b = 0; b < a; ++b) cov[a * d + b] = cov[b * d + a];
  }
  for (std::int64_t a = 0; a < d; ++a) out.total_variance += cov[a * d + a];

  std::array<std::vector<double>, 2> comp{std::vector<double>(d, 0.0), std::vector<double>(d, 0.0)};
  if (d <= 64) {
    // Small: the full eigen-decomposition.
    const SymmetricEigen e = symmetric_eigen(cov, d);
    for (int k = 0; k < 2 && k < d; ++k) {
      std::copy(&e.vectors[k * d], &e.vectors[k * d] + d, comp[k].begin());
      out.variance[k] = std::max(0.0, e.values[k]);
    }
  } else {
    // Subspace iteration with a block of p vectors and a Rayleigh-Ritz step (see pca.h).
    const std::int64_t p = std::min<std::int64_t>(d, 8);
    std::uint64_t fresh = 0;
    std::vector<double> q(d * p), z(d * p), h(p * p);
    for (double& value : q) value = start_value(fresh++);
    orthonormalise(q, d, p, fresh);
    for (int iteration = 0; iteration < 3000; ++iteration) {
      std::fill(z.begin(), z.end(), 0.0);  // z = cov q
      for (std::int64_t i = 0; i < d; ++i) {
        for (std::int64_t k = 0; k < d; ++k) {
          const double c = cov[i * d + k];
          for (std::int64_t j = 0; j < p; ++j) z[i * p + j] += c * q[k * p + j];
        }
      }
      for (std::int64_t a = 0; a < p; ++a) {  // h = q^T cov q, symmetrised against rounding
        for (std::int64_t b = 0; b < p; ++b) {
          double s = 0;
          for (std::int64_t i = 0; i < d; ++i) s += q[i * p + a] * z[i * p + b];
          h[a * p + b] = s;
        }
      }
      for (std::int64_t a = 0; a < p; ++a) {
        for (std::int64_t b = 0; b < a; ++b) h[a * p + b] = h[b * p + a] = (h[a * p + b] + h[b * p + a]) / 2;
      }
      const SymmetricEigen ritz = symmetric_eigen(h, p);
      // Ritz vectors u_r = q w_r and cov u_r = z w_r; converged when ||cov u - theta u|| is small for r = 0, 1.
      std::vector<double> u(d * p, 0.0), cu(d * p, 0.0);
      for (std::int64_t i = 0; i < d; ++i) {
        for (std::int64_t r = 0; r < p; ++r) {
          double su = 0, sc = 0;
          for (std::int64_t a = 0; a < p; ++a) {
            su += q[i * p + a] * ritz.vectors[r * p + a];
            sc += z[i * p + a] * ritz.vectors[r * p + a];
          }
          u[i * p + r] = su, cu[i * p + r] = sc;
        }
      }
      bool converged = true;
      const double tolerance = 1e-10 * std::max(std::abs(ritz.values[0]), 1e-300);
      for (std::int64_t r = 0; r < 2 && r < p; ++r) {
        double res = 0;
        for (std::int64_t i = 0; i < d; ++i) {
          const double e = cu[i * p + r] - ritz.values[r] * u[i * p + r];
          res += e * e;
        }
        converged = converged && std::sqrt(res) <= tolerance;
      }
      if (converged || iteration == 2999) {
        for (int k = 0; k < 2; ++k) {
          for (std::int64_t i = 0; i < d; ++i) comp[k][i] = u[i * p + k];
          out.variance[k] = std::max(0.0, ritz.values[k]);
        }
        break;
      }
      q = cu;  // the next block: cov times the Ritz vectors, in their order
      orthonormalise(q, d, p, fresh);
    }
  }
  for (int k = 0; k < 2; ++k) fix_sign(comp[k].data(), d);
  out.component = comp;
  out.x.assign(n, 0.0);
  out.y.assign(n, 0.0);
  for (std::int64_t i = 0; i < n; ++i) {
    double sx = 0, sy = 0;
    for (std::int64_t j = 0; j < d; ++j) {
      sx += xc[i * d + j] * comp[0][j];
      sy += xc[i * d + j] * comp[1][j];
    }
    out.x[i] = sx, out.y[i] = sy;
  }
  return out;
}

Pca2 pca_2d(const Tensor& embeddings) {
  TRIDENT_CHECK(embeddings.defined(), "pca_2d: undefined tensor");
  TRIDENT_CHECK(embeddings.dim() == 2, "pca_2d: embeddings must be [N, D], got {}", shape_str(embeddings.sizes()));
  TRIDENT_CHECK(is_floating(embeddings.dtype()), "pca_2d: embeddings must be float32 or float64, got {}",
                embeddings.dtype());
  const Tensor t = embeddings.detach().cpu().to(kFloat64).contiguous();
  const std::int64_t n = t.size(0), d = t.size(1);
  const double* p = t.data_ptr<double>();
  return pca_2d(std::vector<double>(p, p + n * d), n, d);
}

}  // namespace trident::viz

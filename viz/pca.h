// A 2-D PCA projection of embeddings for the embedding map (viz::scatter_svg), in float64 on the CPU.
//
//   viz::Pca2 p = viz::pca_2d(embeddings);              // [N, D] float32 or float64, any device
//   std::string svg = viz::scatter_svg(p.x, p.y, labels, names,
//                                      {.x_label = p.axis_label(0), .y_label = p.axis_label(1)});
//
// Method: centre the rows, form the D x D covariance (divided by N - 1; by 1 when N = 1), and find its top two
// eigenvectors by subspace iteration (a block of min(D, 8) vectors multiplied by the covariance and re-orthonormalised,
// with a Rayleigh-Ritz step solved by cyclic Jacobi on the small block) until the top two eigenpairs' residuals are
// below 1e-10 of the largest eigenvalue, or 3000 iterations (then the best Ritz vectors so far: with near-equal
// eigenvalues, any vectors of their subspace show the same spread). D <= 64 uses the full Jacobi decomposition of
// the covariance instead. The start block is fixed (a splitmix64 sequence, not a random seed), so the result is
// deterministic. Sign convention: each component's entry of largest magnitude is positive (on a tie -- magnitudes
// within a relative 1e-9 -- the first of them). Cost: O(N D^2) for the covariance, O(D^2) per iteration.
//
// Degenerate input: D = 1 gives a zero second component (y all 0); no variance along the second direction (N = 1,
// equal rows, rank-1 data) gives a deterministic unit vector orthogonal to the first, with variance 0.
// N = 0, D = 0, a non-[N, D] tensor, a non-floating dtype and non-finite values throw trident::Error.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "trident/core/tensor.h"

namespace trident::viz {

struct Pca2 {
  std::vector<double> x, y;                      // the N projections on the first and second component
  std::array<std::vector<double>, 2> component;  // unit vectors of length D (orthogonal)
  std::array<double, 2> variance{};              // their eigenvalues: the variance of x and of y
  double total_variance = 0;                     // the trace of the covariance
  std::vector<double> mean;                      // the D column means that were subtracted

  // The fraction of the total variance explained by component k (0 when the total is 0).
  double explained(int k) const;
  // "PC1 (42.0% of variance)" for the axis label of component k (0 or 1).
  std::string axis_label(int k) const;
};

// data: n rows of d values, row-major.
Pca2 pca_2d(const std::vector<double>& data, std::int64_t n, std::int64_t d);
// embeddings: [N, D] float32 or float64 on any device (copied to the CPU as float64; autograd is not involved).
Pca2 pca_2d(const Tensor& embeddings);

// Eigen-decomposition of a symmetric n x n matrix (row-major) by cyclic Jacobi rotations: eigenvalues in decreasing
// order and the matching unit eigenvectors as the rows of `vectors` (row-major n x n). Exposed for tests and small
// problems (O(n^3) per sweep).
struct SymmetricEigen {
  std::vector<double> values;
  std::vector<double> vectors;
};
SymmetricEigen symmetric_eigen(const std::vector<double>& matrix, std::int64_t n);

}  // namespace trident::viz

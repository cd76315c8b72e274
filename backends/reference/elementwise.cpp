// Naive elementwise reference. Contract: backends/reference/elementwise.h.
#include "trident/backends/reference/elementwise.h"

#include <cmath>
#include <limits>
#include <vector>

#include "trident/ops/factory.h"

namespace trident::reference {
namespace {

using kernels::BinaryOp;
using kernels::UnaryOp;

// Every multi-index of `sizes` in C order.
std::vector<std::vector<std::int64_t>> all_indices(const Shape& sizes) {
  std::vector<std::vector<std::int64_t>> out;
  const std::int64_t n = shape_numel(sizes);
  std::vector<std::int64_t> idx(sizes.size(), 0);
  for (std::int64_t k = 0; k < n; ++k) {
    out.push_back(idx);
    for (std::size_t d = sizes.size(); d-- > 0;) {
      if (++idx[d] < sizes[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

double unary_value(UnaryOp op, double x, double arg0, double arg1) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  switch (op) {
    case UnaryOp::Neg:
      return -x;
    case UnaryOp::Exp:
      return std::exp(x);
    case UnaryOp::Log:
      return std::log(x);
    case UnaryOp::Sqrt:
      return std::sqrt(x);
    case UnaryOp::Abs:
      return std::fabs(x);
    case UnaryOp::Relu:
      return std::isnan(x) ? x : (x > 0 ? x : 0.0);
    case UnaryOp::Sigmoid:
      return 1.0 / (1.0 + std::exp(-x));
    case UnaryOp::Tanh:
      return std::tanh(x);
    case UnaryOp::Softplus:
      return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
    case UnaryOp::Sign:
      return std::isnan(x) ? nan : (x > 0 ? 1.0 : (x < 0 ? -1.0 : 0.0));
    case UnaryOp::PowScalar:
      return std::pow(x, arg0);
    case UnaryOp::Clamp: {
      if (std::isnan(x)) return x;
      const double lower = x < arg0 ? arg0 : x;
      return lower > arg1 ? arg1 : lower;
    }
  }
  return nan;
}

double binary_value(BinaryOp op, double x, double y) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  switch (op) {
    case BinaryOp::Add:
      return x + y;
    case BinaryOp::Sub:
      return x - y;
    case BinaryOp::Mul:
      return x * y;
    case BinaryOp::Div:
      return x / y;
    case BinaryOp::Pow:
      return std::pow(x, y);
    case BinaryOp::Maximum:
      return std::isnan(x) || std::isnan(y) ? nan : (x > y ? x : y);
    case BinaryOp::Minimum:
      return std::isnan(x) || std::isnan(y) ? nan : (x < y ? x : y);
    case BinaryOp::Eq:
      return x == y;
    case BinaryOp::Ne:
      return x != y;
    case BinaryOp::Lt:
      return x < y;
    case BinaryOp::Le:
      return x <= y;
    case BinaryOp::Gt:
      return x > y;
    case BinaryOp::Ge:
      return x >= y;
    case BinaryOp::LogicalAnd:
      return x != 0 && y != 0;
    case BinaryOp::LogicalOr:
      return x != 0 || y != 0;
  }
  return nan;
}

bool has_bool_result(BinaryOp op) {
  switch (op) {
    case BinaryOp::Eq:
    case BinaryOp::Ne:
    case BinaryOp::Lt:
    case BinaryOp::Le:
    case BinaryOp::Gt:
    case BinaryOp::Ge:
    case BinaryOp::LogicalAnd:
    case BinaryOp::LogicalOr:
      return true;
    default:
      return false;
  }
}

}  // namespace

Tensor unary(UnaryOp op, const Tensor& in, double arg0, double arg1) {
  std::vector<double> out;
  for (const auto& idx : all_indices(in.sizes())) out.push_back(unary_value(op, in.at<double>(idx), arg0, arg1));
  return tensor(out, in.sizes());
}

Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b) {
  TRIDENT_CHECK(a.sizes() == b.sizes(), "reference::binary: shapes {} and {} differ", shape_str(a.sizes()),
                shape_str(b.sizes()));
  std::vector<double> out;
  for (const auto& idx : all_indices(a.sizes())) out.push_back(binary_value(op, a.at<double>(idx), b.at<double>(idx)));
  if (!has_bool_result(op)) return tensor(out, a.sizes());
  std::vector<bool> flags(out.begin(), out.end());
  return tensor(flags, a.sizes());
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  std::vector<double> out;
  for (const auto& idx : all_indices(cond.sizes()))
    out.push_back(cond.at<bool>(idx) ? a.at<double>(idx) : b.at<double>(idx));
  return tensor(out, cond.sizes());
}

}  // namespace trident::reference

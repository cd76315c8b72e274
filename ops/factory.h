// Tensor factories: constant, ranges, from C++ data, random.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <vector>

#include "trident/core/random.h"
#include "trident/core/tensor.h"

namespace trident {

Tensor zeros(const Shape& shape, TensorOptions options = {});
Tensor ones(const Shape& shape, TensorOptions options = {});
Tensor full(const Shape& shape, double value, TensorOptions options = {});
Tensor scalar_tensor(double value, TensorOptions options = {});  // shape []
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor full_like(const Tensor& t, double value);
Tensor empty_like(const Tensor& t);

// [start, end) with step; the dtype defaults to int64 when the options don't say (like torch.arange with integers).
Tensor arange(double end, TensorOptions options = {.dtype = kInt64});
Tensor arange(double start, double end, double step = 1, TensorOptions options = {.dtype = kInt64});
// `steps` evenly spaced values from start to end inclusive.
Tensor linspace(double start, double end, std::int64_t steps, TensorOptions options = {});
// n x m identity (m = n when m < 0).
Tensor eye(std::int64_t n, std::int64_t m = -1, TensorOptions options = {});

// From C++ data (copied). The shape defaults to 1-d; its element count must match.
// tensor({1.f, 2.f, 3.f, 4.f}, {2, 2}) -> float32; tensor(std::vector<double>{...}) -> float64.
template <typename T>
Tensor tensor(const std::vector<T>& values, const Shape& shape = {-1}, TensorOptions options = {.dtype = dtype_of<T>()});
Tensor tensor(std::initializer_list<float> values, const Shape& shape = {-1});
Tensor tensor(std::initializer_list<double> values, const Shape& shape = {-1});
Tensor tensor(std::initializer_list<std::int64_t> values, const Shape& shape = {-1});
Tensor tensor(std::initializer_list<bool> values, const Shape& shape = {-1});

// Random tensors from a Generator (default: the global one, seeded by manual_seed). Same seed -> same numbers, on
// every run and machine.
Tensor rand(const Shape& shape, TensorOptions options = {}, Generator* gen = nullptr);   // U[0, 1)
Tensor randn(const Shape& shape, TensorOptions options = {}, Generator* gen = nullptr);  // N(0, 1)
Tensor uniform(const Shape& shape, double low, double high, TensorOptions options = {}, Generator* gen = nullptr);
Tensor normal(const Shape& shape, double mean, double std, TensorOptions options = {}, Generator* gen = nullptr);
// Integers in [low, high), int64 by default.
Tensor randint(std::int64_t low, std::int64_t high, const Shape& shape, TensorOptions options = {.dtype = kInt64},
               Generator* gen = nullptr);
// A random permutation of 0..n-1 (int64).
Tensor randperm(std::int64_t n, Generator* gen = nullptr);
// 1 with probability p (elementwise from a tensor of probabilities, or one p), as the given dtype.
Tensor bernoulli(const Tensor& p, Generator* gen = nullptr);
Tensor bernoulli(const Shape& shape, double p, TensorOptions options = {}, Generator* gen = nullptr);

}  // namespace trident

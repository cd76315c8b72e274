// Uses an installed trident through its one public header: a tensor, a backward, a known gradient.
#include <trident/trident.h>

#include <cmath>
#include <cstdio>

int main() {
  using namespace trident;
  // f(x) = sum(x * x + 3 x) at x = (1, 2, 3): f = 32 and df/dx = 2 x + 3 = (5, 7, 9).
  Tensor x = tensor({1.0, 2.0, 3.0}).set_requires_grad();
  Tensor f = (x * x + x * 3.0).sum();
  f.backward();
  const double value = f.item<double>();
  const Tensor grad = x.grad();
  std::printf("f = %g, df/dx = (%g, %g, %g)\n", value, grad.at<double>({0}), grad.at<double>({1}),
              grad.at<double>({2}));
  const bool right =
      value == 32.0 && grad.at<double>({0}) == 5.0 && grad.at<double>({1}) == 7.0 && grad.at<double>({2}) == 9.0;
  if (!right) {
    std::fprintf(stderr, "consumer: wrong result (expected f = 32, df/dx = (5, 7, 9))\n");
    return 1;
  }
  std::printf("consumer: OK\n");
  return 0;
}

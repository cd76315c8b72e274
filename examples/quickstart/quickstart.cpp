// quickstart: the smallest complete training loop in trident.
//
// This program learns the line behind some noisy points. The data come from
//     y = 3 x1 - 2 x2 + 0.5 + noise,
// and the model is y_hat = w1 x1 + w2 x2 + b with the three numbers w = (w1, w2) and b unknown. Training means:
//
//   1. forward:  compute the predictions and one number that says how wrong they are, the mean squared error
//                L = mean((y_hat - y)^2). Every operation on a tensor that requires a gradient is recorded: trident
//                builds a graph of what was computed from w and b, as it goes (reverse-mode autograd, as in PyTorch).
//   2. backward: L.backward() walks that graph from L back to the leaves w and b and stores dL/dw and dL/db in
//                w.grad() and b.grad(). Nobody wrote those derivatives down: each op knows its own local derivative,
//                and the chain rule composes them.
//   3. update:   plain gradient descent, w <- w - lr * dL/dw. The update must not itself be recorded in the graph (it
//                is not part of the model), so it runs under a NoGradGuard; then the gradients are zeroed, because
//                backward *adds* into .grad() (that is what lets a weight used twice get both contributions).
//
// Repeat, and L falls towards the noise level while w and b approach (3, -2) and 0.5.
//
// Nothing here needs a matrix product: with two features, X w is (X * w).sum(1) -- an elementwise product that
// broadcasts w: [2] over X: [N, 2], then a sum over the feature dimension. The program also checks autograd against
// the gradient derived by hand, dL/dw = 2/N * sum_i (y_hat_i - y_i) x_i, because trusting a gradient you did not test
// is how training code goes quietly wrong.
//
// Usage: quickstart [--steps N] [--check]
//   --check  exit with status 1 unless autograd matches the hand gradient, the loss fell, and (from 100 steps on) the
//            fit is close to the truth. The test suite runs it so, as a smoke test.
#include <trident/trident.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

using namespace trident;

namespace {

// A tiny deterministic pseudo-random source (xorshift64*), so the data are the same on every machine and run.
class NoiseSource {
 public:
  explicit NoiseSource(std::uint64_t seed) : state_(seed) {}
  double uniform(double low, double high) {  // in [low, high)
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    const std::uint64_t bits = (state_ * 0x2545F4914F6CDD1DULL) >> 11;  // 53 random bits
    return low + (high - low) * static_cast<double>(bits) * 0x1.0p-53;
  }

 private:
  std::uint64_t state_;
};

struct Dataset {
  Tensor x;  // [N, 2] features
  Tensor y;  // [N]    targets
};

// y = 3 x1 - 2 x2 + 0.5 + noise, with x uniform in [-1, 1)^2 and noise uniform in [-0.1, 0.1).
Dataset make_dataset(std::int64_t n) {
  NoiseSource rng(2024);
  std::vector<float> x(static_cast<std::size_t>(2 * n)), y(static_cast<std::size_t>(n));
  for (std::size_t i = 0; i < y.size(); ++i) {
    const double x1 = rng.uniform(-1, 1), x2 = rng.uniform(-1, 1);
    x[2 * i] = static_cast<float>(x1);
    x[2 * i + 1] = static_cast<float>(x2);
    y[i] = static_cast<float>(3 * x1 - 2 * x2 + 0.5 + rng.uniform(-0.1, 0.1));
  }
  return {tensor(x, {n, 2}), tensor(y, {n})};
}

// The model: y_hat = x . w + b.   x: [N, 2], w: [2], b: [1] -> [N]
Tensor predict(const Tensor& x, const Tensor& w, const Tensor& b) { return (x * w).sum({1}) + b; }

// Mean squared error.   pred, target: [N] -> []
Tensor mse(const Tensor& pred, const Tensor& target) {
  const Tensor diff = pred - target;
  return (diff * diff).mean();
}

// Autograd against the gradient derived by hand. For L = mean((y_hat - y)^2) with y_hat_i = x_i . w + b,
//     dL/dw = 2/N * sum_i (y_hat_i - y_i) x_i.
// Prints both; returns the sum of their squared differences. Leaves the gradients zeroed.
double compare_with_hand_gradient(const Dataset& data, Tensor& w, Tensor& b) {
  const Tensor pred = predict(data.x, w, b);
  mse(pred, data.y).backward();

  NoGradGuard no_grad;  // the hand computation is plain arithmetic: no graph needed
  const std::int64_t n = data.y.size(0);
  const Tensor residual = (pred.detach() - data.y).unsqueeze(1);                         // [N, 1]
  const Tensor by_hand = (residual * data.x).sum({0}) * (2.0 / static_cast<double>(n));  // [2]
  const Tensor difference = by_hand - w.grad();
  const double squared_difference = (difference * difference).sum().item<double>();
  std::printf("gradient check: autograd dL/dw = (%.5f, %.5f), by hand (%.5f, %.5f)\n", w.grad().at<float>({0}),
              w.grad().at<float>({1}), by_hand.at<float>({0}), by_hand.at<float>({1}));
  w.zero_grad();
  b.zero_grad();
  return squared_difference;
}

struct Options {
  int steps = 150;
  bool check = false;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--steps") == 0 && i + 1 < argc) {
      o.steps = std::atoi(argv[++i]);
    } else if (std::strcmp(argv[i], "--check") == 0) {
      o.check = true;
    } else {
      std::fprintf(stderr, "usage: %s [--steps N] [--check]\n", argv[0]);
      std::exit(2);
    }
  }
  if (o.steps < 1) {
    std::fprintf(stderr, "quickstart: --steps must be at least 1\n");
    std::exit(2);
  }
  return o;
}

int run(const Options& options) {
  const std::int64_t n = 256;
  const double learning_rate = 0.1;
  const Dataset data = make_dataset(n);

  // The parameters: leaves of the graph that ask for gradients. Starting at zero is fine for a linear model.
  Tensor w = zeros({2}, {.requires_grad = true});
  Tensor b = zeros({1}, {.requires_grad = true});

  std::printf("Fitting y = w1*x1 + w2*x2 + b to %lld noisy points of y = 3*x1 - 2*x2 + 0.5\n",
              static_cast<long long>(n));
  const double gradient_error = compare_with_hand_gradient(data, w, b);
  std::printf("\n%6s %12s %9s %9s %9s\n", "step", "loss", "w1", "w2", "b");

  float first_loss = 0, last_loss = 0;
  for (int step = 0; step < options.steps; ++step) {
    // 1. forward
    const Tensor pred = predict(data.x, w, b);
    const Tensor loss = mse(pred, data.y);

    // 2. backward: fills w.grad() and b.grad()
    loss.backward();

    last_loss = loss.item<float>();
    if (step == 0) first_loss = last_loss;
    if (step % 10 == 0 || step == options.steps - 1) {
      std::printf("%6d %12.6f %9.4f %9.4f %9.4f\n", step, last_loss, w.at<float>({0}), w.at<float>({1}),
                  b.at<float>({0}));
    }

    // 3. update, outside the graph; then clear the accumulated gradients for the next step.
    {
      NoGradGuard no_grad;
      w.add_(w.grad(), -learning_rate);
      b.add_(b.grad(), -learning_rate);
    }
    w.zero_grad();
    b.zero_grad();
  }

  // How good is the fit? The mean absolute error on the training points, and the distance of the parameters from
  // the true ones.
  NoGradGuard no_grad;
  const Tensor residual = predict(data.x, w, b) - data.y;
  double total_abs_error = 0;
  for (float r : residual.to_vector<float>()) total_abs_error += std::fabs(r);
  const double mean_abs_error = total_abs_error / static_cast<double>(n);
  const double w1 = w.at<float>({0}), w2 = w.at<float>({1}), bias = b.at<float>({0});
  const double parameter_error = std::fabs(w1 - 3) + std::fabs(w2 + 2) + std::fabs(bias - 0.5);
  std::printf("\nloss %.6f -> %.6f after %d steps\n", first_loss, last_loss, options.steps);
  std::printf("learned y = %.3f*x1 %+.3f*x2 %+.3f   (true: 3*x1 - 2*x2 + 0.5)\n", w1, w2, bias);
  std::printf("mean absolute error on the training points: %.4f (the noise alone gives about 0.05)\n", mean_abs_error);

  if (options.check) {
    // Autograd must agree with the hand gradient and the loss must fall; after 100 steps or more the fit must also
    // be close to the truth.
    const bool gradient_ok = gradient_error < 1e-8;
    const bool fell = last_loss < first_loss;
    const bool close = options.steps < 100 || (parameter_error < 0.1 && mean_abs_error < 0.1);
    if (!gradient_ok || !fell || !close) {
      std::fprintf(stderr,
                   "quickstart --check FAILED: autograd matches the hand gradient: %s (%.3g), loss fell: %s, "
                   "parameters close: %s (error %.4f)\n",
                   gradient_ok ? "yes" : "no", gradient_error, fell ? "yes" : "no", close ? "yes" : "no",
                   parameter_error);
      return 1;
    }
    std::printf("check passed\n");
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse(argc, argv);
  try {
    return run(options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "quickstart: %s\n", e.what());
    return 1;
  }
}

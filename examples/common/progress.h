// Shared by the examples: a training progress line (loss, images/s, ETA) that redraws itself on a terminal and
// prints plain lines in logs.
#pragma once

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace examples {

inline std::string format_duration(double seconds) {
  const auto s = static_cast<long>(seconds + 0.5);
  return fmt::format("{}:{:02d}", s / 60, s % 60);
}

// One line of progress per training step on a terminal (redrawn in place with '\r'); when stdout is a file or a
// pipe (a log, a test), a plain line every `every` steps instead, so logs stay readable.
class Progress {
 public:
  Progress(int epoch, std::int64_t total, std::int64_t batch)
      : epoch_(epoch),
        total_(total),
        batch_(batch),
        tty_(isatty(STDOUT_FILENO) != 0),
        every_(std::max<std::int64_t>(1, total / 10)),
        start_(std::chrono::steady_clock::now()) {}

  void update(std::int64_t done, double loss) {
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const double images_per_s = elapsed > 0 ? static_cast<double>(done * batch_) / elapsed : 0.0;
    const double eta = done > 0 ? elapsed / static_cast<double>(done) * static_cast<double>(total_ - done) : 0.0;
    if (tty_) {
      constexpr int kWidth = 30;
      const int filled = static_cast<int>(kWidth * done / std::max<std::int64_t>(total_, 1));
      std::string bar(static_cast<std::size_t>(filled), '=');
      if (filled < kWidth) bar += '>';
      bar.resize(kWidth, ' ');
      std::printf("\repoch %d [%s] %lld/%lld  loss %.4f  %.0f img/s  ETA %s ", epoch_, bar.c_str(),
                  static_cast<long long>(done), static_cast<long long>(total_), loss, images_per_s,
                  format_duration(eta).c_str());
      std::fflush(stdout);
    } else if (done % every_ == 0 || done == total_) {
      std::printf("epoch %d step %lld/%lld  loss %.4f  %.0f img/s  ETA %s\n", epoch_, static_cast<long long>(done),
                  static_cast<long long>(total_), loss, images_per_s, format_duration(eta).c_str());
      std::fflush(stdout);
    }
  }
  void finish() {
    if (tty_) std::printf("\n");
  }
  double elapsed() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }

 private:
  int epoch_;
  std::int64_t total_, batch_;
  bool tty_;
  std::int64_t every_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace examples

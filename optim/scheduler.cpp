// Learning-rate schedulers. See optim/scheduler.h.
#include "trident/optim/scheduler.h"

#include <cmath>
#include <numbers>

namespace trident::optim {

LRScheduler::LRScheduler(Optimizer& optimizer, std::vector<double> base_lrs)
    : optimizer_(optimizer), base_lrs_(std::move(base_lrs)) {
  const auto& groups = optimizer_.param_groups();
  if (base_lrs_.empty()) {
    for (const auto& group : groups) base_lrs_.push_back(group.lr());
  }
  TRIDENT_CHECK(base_lrs_.size() == groups.size(), "LRScheduler: {} base learning rates for {} parameter groups",
                base_lrs_.size(), groups.size());
}

std::vector<double> LRScheduler::get_lr() const {
  std::vector<double> lrs;
  lrs.reserve(base_lrs_.size());
  for (double base : base_lrs_) lrs.push_back(lr_at(last_epoch_, base));
  return lrs;
}

void LRScheduler::apply() {
  auto& groups = optimizer_.param_groups();
  TRIDENT_CHECK(groups.size() == base_lrs_.size(),
                "LRScheduler: the optimizer has {} parameter groups, the scheduler was made for {} (make the "
                "scheduler after adding every group)",
                groups.size(), base_lrs_.size());
  const std::vector<double> lrs = get_lr();
  for (std::size_t g = 0; g < groups.size(); ++g) groups[g].set_lr(lrs[g]);
}

void LRScheduler::step() {
  ++last_epoch_;
  apply();
}

void LRScheduler::set_last_epoch(std::int64_t epoch) {
  TRIDENT_CHECK(epoch >= 0, "LRScheduler: the epoch must be >= 0, got {}", epoch);
  last_epoch_ = epoch;
  apply();
}

StepLR::StepLR(Optimizer& optimizer, std::int64_t step_size, double gamma)
    : LRScheduler(optimizer), step_size_(step_size), gamma_(gamma) {
  TRIDENT_CHECK(step_size >= 1, "StepLR: step_size must be >= 1, got {}", step_size);
  TRIDENT_CHECK(gamma >= 0 && std::isfinite(gamma), "StepLR: gamma must be finite and >= 0, got {}", gamma);
  apply();
}

double StepLR::lr_at(std::int64_t epoch, double base_lr) const {
  return base_lr * std::pow(gamma_, static_cast<double>(epoch / step_size_));
}

CosineAnnealingLR::CosineAnnealingLR(Optimizer& optimizer, std::int64_t T_max, double eta_min)
    : LRScheduler(optimizer), t_max_(T_max), eta_min_(eta_min) {
  TRIDENT_CHECK(T_max >= 1, "CosineAnnealingLR: T_max must be >= 1, got {}", T_max);
  TRIDENT_CHECK(eta_min >= 0 && std::isfinite(eta_min), "CosineAnnealingLR: eta_min must be finite and >= 0, got {}",
                eta_min);
  apply();
}

double CosineAnnealingLR::lr_at(std::int64_t epoch, double base_lr) const {
  const double angle = std::numbers::pi * static_cast<double>(epoch) / static_cast<double>(t_max_);
  return eta_min_ + (base_lr - eta_min_) * (1 + std::cos(angle)) / 2;
}

namespace {
std::vector<double> base_lrs_of(const LRScheduler* after) { return after ? after->base_lrs() : std::vector<double>{}; }
}  // namespace

LinearWarmup::LinearWarmup(Optimizer& optimizer, std::int64_t warmup_steps, double start_factor,
                           std::unique_ptr<LRScheduler> after)
    : LRScheduler(optimizer, base_lrs_of(after.get())),
      warmup_steps_(warmup_steps),
      start_factor_(start_factor),
      after_(std::move(after)) {
  TRIDENT_CHECK(!after_ || &after_->optimizer() == &optimizer,
                "LinearWarmup: the scheduler to run after the warm-up drives a different optimizer");
  TRIDENT_CHECK(warmup_steps >= 1, "LinearWarmup: warmup_steps must be >= 1, got {}", warmup_steps);
  TRIDENT_CHECK(start_factor >= 0 && start_factor <= 1, "LinearWarmup: start_factor must be in [0, 1], got {}",
                start_factor);
  apply();
}

double LinearWarmup::lr_at(std::int64_t epoch, double base_lr) const {
  if (epoch < warmup_steps_) {
    const double progress = static_cast<double>(epoch) / static_cast<double>(warmup_steps_);
    return base_lr * (start_factor_ + (1 - start_factor_) * progress);
  }
  return after_ ? after_->lr_at(epoch - warmup_steps_, base_lr) : base_lr;
}

}  // namespace trident::optim

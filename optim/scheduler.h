// Learning-rate schedulers: StepLR, CosineAnnealingLR and a linear warm-up that can run before either.
//
// A scheduler owns an epoch counter (which may count iterations: it is whatever step() is called once per) and
// sets the "lr" of every group of its optimizer to a closed-form function of that counter and the group's base
// learning rate (its lr when the scheduler was made):
//
//   optim::SGD opt(params, {.lr = 0.1, .momentum = 0.9});
//   optim::LinearWarmup sched(opt, /*warmup_steps=*/5, /*start_factor=*/0.1,
//                             std::make_unique<optim::CosineAnnealingLR>(opt, /*T_max=*/95));
//   for (int epoch = 0; epoch < 100; ++epoch) { train_one_epoch(opt); sched.step(); }
//
// Making a scheduler sets the lrs of epoch 0; step() moves to the next epoch and sets its lrs. Being closed forms,
// set_last_epoch(e) can jump anywhere (resuming from a checkpoint) and gives the same lrs as e calls of step().
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "trident/optim/optimizer.h"

namespace trident::optim {

class LRScheduler {
 public:
  virtual ~LRScheduler() = default;
  LRScheduler(const LRScheduler&) = delete;
  LRScheduler& operator=(const LRScheduler&) = delete;

  // Advances one epoch and sets every group's lr to get_lr().
  void step();
  // The learning rates of the current epoch, one per group.
  std::vector<double> get_lr() const;
  std::int64_t last_epoch() const { return last_epoch_; }
  // Moves to `epoch` (>= 0) and sets the lrs.
  void set_last_epoch(std::int64_t epoch);
  const std::vector<double>& base_lrs() const { return base_lrs_; }
  const Optimizer& optimizer() const { return optimizer_; }

  // The schedule itself: the lr at `epoch` (>= 0) of a group whose base lr is base_lr.
  virtual double lr_at(std::int64_t epoch, double base_lr) const = 0;

 protected:
  // Records the optimizer's current lrs as the base lrs (or `base_lrs` when given). The derived constructor calls
  // apply() once its schedule is set up.
  explicit LRScheduler(Optimizer& optimizer, std::vector<double> base_lrs = {});
  void apply();  // sets the lrs of last_epoch

 private:
  Optimizer& optimizer_;
  std::vector<double> base_lrs_;
  std::int64_t last_epoch_ = 0;
};

// lr = base_lr * gamma^floor(epoch / step_size): decays by gamma every step_size epochs.
class StepLR final : public LRScheduler {
 public:
  StepLR(Optimizer& optimizer, std::int64_t step_size, double gamma = 0.1);
  double lr_at(std::int64_t epoch, double base_lr) const override;

 private:
  std::int64_t step_size_;
  double gamma_;
};

// lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2: half a cosine from base_lr down to
// eta_min over T_max epochs (PyTorch's closed form; past T_max the cosine goes on, rising again).
class CosineAnnealingLR final : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& optimizer, std::int64_t T_max, double eta_min = 0.0);
  double lr_at(std::int64_t epoch, double base_lr) const override;

 private:
  std::int64_t t_max_;
  double eta_min_;
};

// A linear warm-up over the first warmup_steps epochs, then `after` (if any) started afresh at its epoch 0:
//   epoch < warmup_steps:  lr = base_lr * (start_factor + (1 - start_factor) * epoch / warmup_steps)
//   otherwise:             lr = after ? after->lr_at(epoch - warmup_steps, base_lr) : base_lr
// (PyTorch's SequentialLR([LinearLR(start_factor, total_iters=warmup_steps), after], milestones=[warmup_steps])).
// `after` must be a scheduler of the same optimizer; the warm-up takes over its base lrs and drives it (do not
// call after->step() yourself).
class LinearWarmup final : public LRScheduler {
 public:
  LinearWarmup(Optimizer& optimizer, std::int64_t warmup_steps, double start_factor,
               std::unique_ptr<LRScheduler> after = nullptr);
  double lr_at(std::int64_t epoch, double base_lr) const override;
  const LRScheduler* after() const { return after_.get(); }

 private:
  std::int64_t warmup_steps_;
  double start_factor_;
  std::unique_ptr<LRScheduler> after_;
};

}  // namespace trident::optim

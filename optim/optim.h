// trident::optim: optimizers, gradient clipping, learning-rate schedulers and training checkpoints.
#pragma once

#include "trident/optim/adam.h"
#include "trident/optim/checkpoint.h"
#include "trident/optim/clip.h"
#include "trident/optim/optimizer.h"
#include "trident/optim/scheduler.h"
#include "trident/optim/sgd.h"

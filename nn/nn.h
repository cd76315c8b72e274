// trident::nn: modules (layers and containers) and their initialisation, in the manner of torch.nn.
#pragma once

#include "trident/nn/activation.h"
#include "trident/nn/container.h"
#include "trident/nn/conv.h"
#include "trident/nn/dropout.h"
#include "trident/nn/embedding.h"
#include "trident/nn/init.h"
#include "trident/nn/linear.h"
#include "trident/nn/module.h"
#include "trident/nn/normalization.h"
#include "trident/nn/pooling.h"

// trident's data pipeline: IDX files, datasets (MNIST), samplers, transforms and the DataLoader.
#pragma once

#include "trident/data/dataloader.h"
#include "trident/data/dataset.h"
#include "trident/data/idx.h"
#include "trident/data/image_folder.h"
#include "trident/data/mnist.h"
#include "trident/data/pk_sampler.h"
#include "trident/data/random_engine.h"
#include "trident/data/sampler.h"
#include "trident/data/synthetic_faces.h"
#include "trident/data/transforms.h"

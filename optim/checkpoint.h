// Training checkpoints: a model's parameters and buffers, and optionally an optimizer's state, in one safetensors
// file (core/io/safetensors.h), so that training can stop and resume exactly where it was.
//
// Layout of the file:
//   "<dotted name>"                      every parameter and buffer of the model ("fc1.weight", "bn.running_mean")
//   "optim.<group>.<index>.<state>"      each optimizer state tensor, e.g. "optim.0.3.exp_avg" for parameter 3 of
//                                        group 0 (parameters in the order of the optimizer's groups)
//   __metadata__:
//     "optim.type"                       "SGD", "Adam", "AdamW"
//     "optim.groups", "optim.<g>.params" the number of groups and of parameters in each
//     "optim.<g>.<option>"               every hyper-parameter of group g ("optim.0.lr"), as the shortest decimal
//                                        that reads back to the same double
//     "optim.<g>.<i>.step"               the update count of each parameter that has state
//     anything the caller adds (its keys may not start with "optim." or "trident.")
//
// Loading is all-or-nothing: the whole file is read and validated -- every key present, no unexpected one, every
// dtype and shape equal to the destination's, the optimizer's type, groups and options -- before any tensor of the
// model or the optimizer is written. A truncated or corrupt file, or a mismatch, is an error that leaves both
// untouched. Tensors are copied into the existing parameters (in place, so an optimizer holding them stays valid),
// converted to each destination's device.
#pragma once

#include <map>
#include <string>

#include "trident/core/io/safetensors.h"
#include "trident/optim/optimizer.h"

namespace trident::nn {
class Module;
}

namespace trident::optim {

// A module's parameters and buffers by dotted name (named_parameters() then named_buffers()), with the optimizer's
// state when one is given. `metadata` is stored in the file's __metadata__ beside trident's own keys.
void save_checkpoint(const std::string& path, const nn::Module& module, const Optimizer* optimizer = nullptr,
                     const std::map<std::string, std::string>& metadata = {});
// Loads into the module's existing tensors (and the optimizer's state); returns the file's metadata.
std::map<std::string, std::string> load_checkpoint(const std::string& path, nn::Module& module,
                                                   Optimizer* optimizer = nullptr);

// The tensor-level form: `tensors` are the model's named parameters and buffers (the destinations when loading).
void save_checkpoint(const std::string& path, const NamedTensors& tensors, const Optimizer* optimizer = nullptr,
                     const std::map<std::string, std::string>& metadata = {});
// Returns the file's metadata (the caller's keys and the "optim." ones).
std::map<std::string, std::string> load_checkpoint(const std::string& path, const NamedTensors& tensors,
                                                   Optimizer* optimizer = nullptr);

}  // namespace trident::optim

// Training checkpoints in safetensors files. Layout and guarantees: optim/checkpoint.h.
#include "trident/optim/checkpoint.h"

#include <cerrno>
#include <cstdlib>
#include <set>

#include "trident/core/autograd/grad_mode.h"
#include "trident/nn/module.h"

namespace trident::optim {

namespace {

constexpr std::string_view kOptimPrefix = "optim.";

bool starts_with(const std::string& s, std::string_view prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

// The whole string as a number, or nullopt.
std::optional<double> parse_double(const std::string& s) {
  if (s.empty()) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || errno == ERANGE) return std::nullopt;
  return v;
}
std::optional<std::int64_t> parse_int(const std::string& s) {
  if (s.empty()) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  if (end != s.c_str() + s.size() || errno == ERANGE) return std::nullopt;
  return static_cast<std::int64_t>(v);
}

// One optimizer state tensor named "optim.<g>.<i>.<state>", parsed.
struct StateKey {
  std::size_t group = 0, index = 0;
  std::string state;
};
std::optional<StateKey> parse_state_key(const std::string& key) {
  if (!starts_with(key, kOptimPrefix)) return std::nullopt;
  const std::size_t a = kOptimPrefix.size();
  const std::size_t b = key.find('.', a);
  if (b == std::string::npos) return std::nullopt;
  const std::size_t c = key.find('.', b + 1);
  if (c == std::string::npos || c + 1 >= key.size()) return std::nullopt;
  const auto g = parse_int(key.substr(a, b - a)), i = parse_int(key.substr(b + 1, c - b - 1));
  if (!g || !i || *g < 0 || *i < 0) return std::nullopt;
  return StateKey{static_cast<std::size_t>(*g), static_cast<std::size_t>(*i), key.substr(c + 1)};
}

std::string dtype_str(DType t) { return std::string(dtype_name(t)); }

// A module's checkpoint entries: parameters, then buffers, by dotted name.
NamedTensors module_tensors(const nn::Module& module) {
  NamedTensors all = module.named_parameters();
  for (auto& entry : module.named_buffers()) all.push_back(std::move(entry));
  return all;
}

}  // namespace

void save_checkpoint(const std::string& path, const NamedTensors& tensors, const Optimizer* optimizer,
                     const std::map<std::string, std::string>& metadata) {
  NamedTensors all;
  for (const auto& [name, t] : tensors) {
    TRIDENT_CHECK(!starts_with(name, kOptimPrefix),
                  "save_checkpoint: {}: the model's tensor '{}' has a name reserved for optimizer state", path, name);
    all.emplace_back(name, t.detach());
  }
  std::map<std::string, std::string> meta;
  for (const auto& [key, value] : metadata) {
    TRIDENT_CHECK(!starts_with(key, kOptimPrefix) && !starts_with(key, "trident."),
                  "save_checkpoint: {}: the metadata key '{}' is reserved (keys starting with \"optim.\" or "
                  "\"trident.\" are trident's)",
                  path, key);
    meta[key] = value;
  }
  meta.insert_or_assign("trident.checkpoint", std::string("1"));  // a format version
  if (optimizer) {
    const auto& groups = optimizer->param_groups();
    meta["optim.type"] = optimizer->name();
    meta["optim.groups"] = fmt::format("{}", groups.size());
    for (std::size_t g = 0; g < groups.size(); ++g) {
      meta[fmt::format("optim.{}.params", g)] = fmt::format("{}", groups[g].params.size());
      // fmt writes the shortest decimal that reads back as the same double.
      for (const auto& [option, value] : groups[g].options)
        meta[fmt::format("optim.{}.{}", g, option)] = fmt::format("{}", value);
      for (std::size_t i = 0; i < groups[g].params.size(); ++i) {
        const ParamState* state = optimizer->find_state(groups[g].params[i]);
        if (!state) continue;
        meta[fmt::format("optim.{}.{}.step", g, i)] = fmt::format("{}", state->step);
        for (const auto& [name, t] : state->buffers) all.emplace_back(fmt::format("optim.{}.{}.{}", g, i, name), t);
      }
    }
  }
  save_safetensors(path, all, meta);
}

std::map<std::string, std::string> load_checkpoint(const std::string& path, const NamedTensors& tensors,
                                                   Optimizer* optimizer) {
  // Reading validates the file itself (format, offsets, sizes); nothing is written before everything is checked.
  SafetensorsFile file = load_safetensors(path);
  auto fail = [&path](const std::string& what) {
    detail::throw_error(fmt::format("load_checkpoint: {}: {}", path, what));
  };
  std::map<std::string, Tensor> model_entries, optim_entries;
  for (auto& [name, t] : file.tensors) (starts_with(name, kOptimPrefix) ? optim_entries : model_entries)[name] = t;

  // 1. The model: every destination present with its dtype and shape, and nothing else in the file.
  std::vector<Tensor> sources;  // converted to each destination's device, in the order of `tensors`
  std::set<std::string> expected;
  for (const auto& [name, dst] : tensors) {
    TRIDENT_CHECK(dst.defined(), "load_checkpoint: {}: the model's tensor '{}' is undefined", path, name);
    expected.insert(name);
    const auto it = model_entries.find(name);
    if (it == model_entries.end()) fail(fmt::format("missing key '{}'", name));
    const Tensor& src = it->second;
    if (src.dtype() != dst.dtype())
      fail(fmt::format("'{}' is {} in the file, the model has {}", name, src.dtype(), dst.dtype()));
    if (src.sizes() != dst.sizes())
      fail(fmt::format("'{}' has shape {} in the file, the model has {}", name, shape_str(src.sizes()),
                       shape_str(dst.sizes())));
    sources.push_back(src.to(dst.device()));
  }
  for (const auto& [name, t] : model_entries) {
    if (!expected.count(name))
      fail(fmt::format("unexpected key '{}' (the model has no such parameter or buffer)", name));
  }

  // 2. The optimizer: same type, groups and parameter counts; valid options; state tensors shaped like their
  //    parameters. Everything is parsed into new objects first.
  std::vector<Options> new_options;
  std::map<std::pair<std::size_t, std::size_t>, ParamState> new_state;
  if (optimizer) {
    const auto& meta = file.metadata;
    auto get = [&](const std::string& key) -> const std::string& {
      const auto it = meta.find(key);
      if (it == meta.end()) fail(fmt::format("the metadata has no '{}'", key));
      return it->second;
    };
    if (!meta.count("optim.type")) fail(fmt::format("the file holds no optimizer state (it was saved without one)"));
    if (get("optim.type") != optimizer->name())
      fail(fmt::format("the file holds {} state, the optimizer is {}", get("optim.type"), optimizer->name()));
    const auto& groups = optimizer->param_groups();
    const auto n_groups = parse_int(get("optim.groups"));
    if (!n_groups || *n_groups != static_cast<std::int64_t>(groups.size()))
      fail(fmt::format("the file's optimizer has {} parameter groups, this one has {}", get("optim.groups"),
                       groups.size()));
    for (std::size_t g = 0; g < groups.size(); ++g) {
      const auto n = parse_int(get(fmt::format("optim.{}.params", g)));
      if (!n || *n != static_cast<std::int64_t>(groups[g].params.size()))
        fail(fmt::format("group {} has {} parameters in the file, {} in the optimizer", g,
                         get(fmt::format("optim.{}.params", g)), groups[g].params.size()));
      Options options;
      for (const auto& [option, current] : groups[g].options) {
        const std::string key = fmt::format("optim.{}.{}", g, option);
        const auto value = parse_double(get(key));
        if (!value) fail(fmt::format("the metadata '{}' = '{}' is not a number", key, get(key)));
        options[option] = *value;
      }
      try {
        optimizer->check_options(options);
      } catch (const Error& e) {
        fail(fmt::format("group {}: {}", g, e.what()));
      }
      new_options.push_back(std::move(options));
      for (std::size_t i = 0; i < groups[g].params.size(); ++i) {
        const auto it = meta.find(fmt::format("optim.{}.{}.step", g, i));
        if (it == meta.end()) continue;
        const auto step = parse_int(it->second);
        if (!step || *step < 0)
          fail(fmt::format("the metadata '{}' = '{}' is not a step count", it->first, it->second));
        new_state[{g, i}].step = *step;
      }
    }
    for (const auto& [name, t] : optim_entries) {
      const auto key = parse_state_key(name);
      if (!key || key->group >= groups.size() || key->index >= groups[key->group].params.size())
        fail(fmt::format("unexpected key '{}' (not the state of a parameter of the optimizer)", name));
      const auto st = new_state.find({key->group, key->index});
      if (st == new_state.end()) fail(fmt::format("'{}' has no step count in the metadata", name));
      const Tensor& param = groups[key->group].params[key->index];
      if (t.dtype() != param.dtype())
        fail(fmt::format("'{}' is {} in the file, its parameter is {}", name, dtype_str(t.dtype()), param.dtype()));
      if (t.sizes() != param.sizes())
        fail(fmt::format("'{}' has shape {} in the file, its parameter has {}", name, shape_str(t.sizes()),
                         shape_str(param.sizes())));
      st->second.buffers[key->state] = t.to(param.device());
    }
  } else {
    optim_entries.clear();  // a model-only load ignores the optimizer's part of a training checkpoint
  }

  // 3. Everything is valid: write.
  {
    NoGradGuard no_grad;
    for (std::size_t k = 0; k < tensors.size(); ++k) {
      Tensor dst = tensors[k].second;
      dst.copy_(sources[k]);
    }
  }
  if (optimizer) {
    auto& groups = optimizer->param_groups();
    optimizer->clear_state();
    for (std::size_t g = 0; g < groups.size(); ++g) groups[g].options = new_options[g];
    for (auto& [gi, state] : new_state) optimizer->state(groups[gi.first].params[gi.second]) = std::move(state);
  }
  return file.metadata;
}

void save_checkpoint(const std::string& path, const nn::Module& module, const Optimizer* optimizer,
                     const std::map<std::string, std::string>& metadata) {
  save_checkpoint(path, module_tensors(module), optimizer, metadata);
}

std::map<std::string, std::string> load_checkpoint(const std::string& path, nn::Module& module, Optimizer* optimizer) {
  return load_checkpoint(path, module_tensors(module), optimizer);
}

}  // namespace trident::optim

// safetensors files (core/io/safetensors.h) and training checkpoints (optim/checkpoint.h): round trips of every
// dtype, interoperability with a Python reader/writer written from the specification (tests/data/
// safetensors_fixture.py and its fixture), every corruption case with its message, atomic writes, all-or-nothing
// loading, and training resumed from a checkpoint that continues bit for bit (a hand-made parameter set through the
// tensor-level API, and an nn::Module with BatchNorm buffers through the module-level one).
#include <dirent.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iterator>

#include "file_testing.h"
#include "gradcheck.h"
#include "trident/backends/kernels.h"
#include "trident/core/io/safetensors.h"
#include "trident/losses/classification.h"
#include "trident/nn/nn.h"
#include "trident/optim/adam.h"
#include "trident/optim/checkpoint.h"
#include "trident/optim/scheduler.h"
#include "trident/optim/sgd.h"

using namespace trident;

namespace {

using trident::testing::random_tensor;

using trident::testing::kData;
using trident::testing::list_dir;
using trident::testing::read_bytes;
using trident::testing::write_bytes;

// Same dtype, shape and bytes (so -0.0 and NaN payloads count).
void expect_identical(const Tensor& got, const Tensor& want, const std::string& what) {
  ASSERT_EQ(got.dtype(), want.dtype()) << what;
  ASSERT_EQ(got.sizes(), want.sizes()) << what;
  if (got.numel() == 0) return;  // an empty tensor may have no storage: memcmp must not see its null pointer
  const Tensor a = got.contiguous(), b = want.contiguous();
  EXPECT_EQ(std::memcmp(a.raw_data(), b.raw_data(), static_cast<std::size_t>(a.numel()) * a.itemsize()), 0) << what;
}

// A file from a header text (padded here to a multiple of 8) and raw data bytes.
std::string safetensors_bytes(std::string header, const std::string& data, bool pad = true) {
  if (pad) header.append((8 - header.size() % 8) % 8, ' ');
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((std::uint64_t{header.size()} >> (8 * i)) & 0xff);
  return out + header + data;
}

// The content of tests/data/fixture.safetensors (EXPECTED in safetensors_fixture.py), in the fixture's data order.
NamedTensors expected_fixture() {
  return {{"mask", tensor({true, false, false, true}, {2, 2})},
          {"ids", tensor(std::vector<std::int64_t>{-1, 0, std::int64_t{1} << 40, -(std::int64_t{1} << 62)})},
          {"empty", zeros({0, 3})},
          {"weight", tensor({0.5f, -1.25f, 3.0f, 1e-8f, -0.0f, 65504.0f}, {2, 3})},
          {"scalar", scalar_tensor(1.0 / 3.0, {.dtype = kFloat64})}};
}
const std::map<std::string, std::string> kFixtureMetadata = {{"format", "pt"}, {"producer", "trident interop test"}};

class Safetensors : public trident::testing::TempDirTest {};

// ---- round trips and interoperability
// ---------------------------------------------------------------------------------

TEST_F(Safetensors, RoundTripEveryDtype) {
  const Tensor m = random_tensor({3, 5}, 1);
  const NamedTensors tensors = {
      {"f32", random_tensor({2, 3, 4}, 2, 0, 0, kFloat32)},
      {"f64.transposed", m.t()},  // non-contiguous: written in C order of its own shape
      {"i64", arange(-7, 8)},
      {"bool", tensor({true, false, true}, {3})},
      {"scalar", scalar_tensor(-2.5)},
      {"empty", zeros({0, 4}, {.dtype = kInt64})},
      {"requires_grad", ones({2}, {.requires_grad = true})},
  };
  save_safetensors(path("a.safetensors"), tensors, {{"epoch", "3"}, {"note", "ünïcode ✓"}});
  const SafetensorsFile f = load_safetensors(path("a.safetensors"));
  ASSERT_EQ(f.tensors.size(), tensors.size());
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    EXPECT_EQ(f.tensors[i].first, tensors[i].first);  // the order of the data is the order given
    expect_identical(f.tensors[i].second, tensors[i].second.detach().contiguous(), tensors[i].first);
    EXPECT_FALSE(f.tensors[i].second.requires_grad());
  }
  EXPECT_EQ(f.metadata, (std::map<std::string, std::string>{{"epoch", "3"}, {"note", "ünïcode ✓"}}));
  // The layout: an 8-byte length, then a header that is a multiple of 8 bytes and starts with the metadata.
  const std::string bytes = read_bytes(path("a.safetensors"));
  std::uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= std::uint64_t{static_cast<unsigned char>(bytes[i])} << (8 * i);
  EXPECT_EQ(n % 8, 0u);
  EXPECT_EQ(bytes.substr(8, 16), "{\"__metadata__\":");
  // No tensors and no metadata is a valid file too.
  save_safetensors(path("empty.safetensors"), {});
  EXPECT_TRUE(load_safetensors(path("empty.safetensors")).tensors.empty());
}

TEST_F(Safetensors, LoadsTheFileWrittenByPython) {
  // Written byte by byte by tests/data/safetensors_fixture.py: keys sorted alphabetically in the header, data in
  // another order, an empty tensor between two others.
  const SafetensorsFile f = load_safetensors(kData + "fixture.safetensors");
  const NamedTensors want = expected_fixture();
  ASSERT_EQ(f.tensors.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(f.tensors[i].first, want[i].first);
    expect_identical(f.tensors[i].second, want[i].second, want[i].first);
  }
  EXPECT_EQ(f.metadata, kFixtureMetadata);
}

TEST_F(Safetensors, PythonReaderParsesTridentFile) {
  if (::access("/usr/bin/python3", X_OK) != 0) GTEST_SKIP() << "/usr/bin/python3 not found";
  if (std::system("/usr/bin/python3 -c 'import torch' > /dev/null 2>&1") != 0)
    GTEST_SKIP() << "torch is not importable from /usr/bin/python3: the Python reader was not run";
  save_safetensors(path("t.safetensors"), expected_fixture(), kFixtureMetadata);
  const std::string cmd =
      fmt::format("/usr/bin/python3 {}safetensors_fixture.py check {}", kData, path("t.safetensors"));
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

// ---- corrupt files
// ----------------------------------------------------------------------------------------------------

TEST_F(Safetensors, CorruptFilesAreClearErrors) {
  const std::string p = path("bad.safetensors");
  auto expect_error = [&](const std::string& bytes, const std::string& message) {
    write_bytes(p, bytes);
    EXPECT_THROW_MSG(load_safetensors(p), "load_safetensors: " + p + ": " + message);
  };
  const std::string f32x2(8, '\0');
  const std::string ok = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  ASSERT_NO_THROW({
    write_bytes(p, safetensors_bytes(ok, f32x2));
    load_safetensors(p);
  });

  expect_error("", "truncated file: 0 bytes, too short for the 8-byte header length");
  expect_error(std::string("\x10\0\0", 3), "truncated file: 3 bytes");
  expect_error(safetensors_bytes(ok, f32x2).substr(0, 20),
               "the header length 56 goes beyond the end of the file (20 bytes)");
  expect_error(std::string("\xff\xff\xff\xff\xff\xff\xff\xff", 8) + "{}",
               "the header length 18446744073709551615 goes beyond");
  expect_error(safetensors_bytes(R"({"a":{"dtype":"F32",)", ""), "malformed JSON header: [json.exception.parse_error");
  expect_error(safetensors_bytes("[1, 2]", ""), "the header is a JSON array, not an object");
  expect_error(safetensors_bytes(R"({"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}})", "abcd"),
               "'a' has unsupported dtype 'F16' (trident reads F32, F64, I64 and BOOL)");
  expect_error(safetensors_bytes(R"({"a":{"shape":[2],"data_offsets":[0,8]}})", f32x2), "'a' has no \"dtype\" string");
  expect_error(safetensors_bytes(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", f32x2),
               "'a' has a shape entry -2 that is not a size");
  expect_error(safetensors_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", f32x2),
               "'a' has no \"data_offsets\" pair [begin, end]");
  // Offsets out of range: the data is shorter than the header says (a truncated file).
  expect_error(safetensors_bytes(ok, f32x2.substr(0, 5)),
               "'a' has data_offsets [0, 8] out of range: the file holds 5 bytes of data (truncated?)");
  expect_error(safetensors_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", f32x2),
               "'a' has data_offsets [8, 0] with begin > end");
  expect_error(safetensors_bytes(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", f32x2),
               "'a' has data_offsets [0, 8] (8 bytes), but F32 of shape [3] takes 12 bytes");
  expect_error(safetensors_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                 R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                                 f32x2),
               "'b' (bytes [4, 8)) overlaps 'a' (bytes [0, 8))");
  expect_error(safetensors_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", f32x2),
               "bytes [0, 4) of the data belong to no tensor (before 'a')");
  expect_error(safetensors_bytes(ok, f32x2 + "junk"),
               "bytes [8, 12) of the data belong to no tensor (after the last one)");
  expect_error(
      safetensors_bytes(R"({"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}})", f32x2),
      "'a' has shape [4611686018427387904,4], more elements than the 8 bytes of data hold");
  expect_error(
      safetensors_bytes(R"({"b":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}})", std::string("\x01\x02", 2)),
      "'b' is BOOL but element 1 has the byte value 2");
  expect_error(safetensors_bytes(R"({"__metadata__":{"epoch":3}})", ""),
               "metadata 'epoch' is a JSON number, not a string");
  expect_error(safetensors_bytes(R"({"__metadata__":[]})", ""), "\"__metadata__\" is not a JSON object");
  EXPECT_THROW_MSG(load_safetensors(path("missing.safetensors")),
                   "load_safetensors: " + path("missing.safetensors") + ": cannot open the file: No such file");
}

TEST_F(Safetensors, SaveErrorsAndAtomicWrites) {
  const std::string p = path("a.safetensors");
  save_safetensors(p, {{"x", ones({3})}});
  EXPECT_EQ(list_dir(dir_), (std::vector<std::string>{"a.safetensors"}));
  const std::string before = read_bytes(p);
  // Failed saves leave the previous file as it was and no temporary file behind.
  EXPECT_THROW_MSG(save_safetensors(p, {{"x", ones({1})}, {"x", ones({1})}}),
                   "save_safetensors: " + p + ": the name 'x' appears twice");
  EXPECT_THROW_MSG(save_safetensors(p, {{"", ones({1})}}), "a tensor has an empty name");
  EXPECT_THROW_MSG(save_safetensors(p, {{"__metadata__", ones({1})}}), "'__metadata__' is reserved for the metadata");
  EXPECT_THROW_MSG(save_safetensors(p, {{"u", Tensor()}}), "tensor 'u' is undefined");
  EXPECT_THROW_MSG(save_safetensors(p, {{std::string("\xff\xfe", 2), ones({1})}}), "cannot encode the header");
  const std::string bad = path("no_such_dir/a.safetensors");
  EXPECT_THROW_MSG(save_safetensors(bad, {{"x", ones({1})}}),
                   "save_safetensors: " + bad + ": cannot create the temporary file");
  EXPECT_EQ(read_bytes(p), before);
  EXPECT_EQ(list_dir(dir_), (std::vector<std::string>{"a.safetensors"}));
  // Overwriting replaces the whole content in one step.
  save_safetensors(p, {{"y", zeros({2}, {.dtype = kInt64})}});
  EXPECT_EQ(list_dir(dir_), (std::vector<std::string>{"a.safetensors"}));
  const SafetensorsFile f = load_safetensors(p);
  ASSERT_EQ(f.tensors.size(), 1u);
  EXPECT_EQ(f.tensors[0].first, "y");
}

// ---- checkpoints
// ------------------------------------------------------------------------------------------------------

// A tiny float32 classifier built by hand: logits = x W + b, written with broadcasting ops.
struct TinyModel {
  Tensor weight, bias;   // [4, 3], [3]
  Tensor running_count;  // a buffer: int64 [1]

  explicit TinyModel(std::uint32_t seed)
      : weight(random_tensor({4, 3}, seed, 0, 0, kFloat32).set_requires_grad(true)),
        bias(random_tensor({3}, seed + 1, 0, 0, kFloat32).set_requires_grad(true)),
        running_count(zeros({1}, {.dtype = kInt64})) {}
  NamedTensors named_tensors() const { return {{"fc.weight", weight}, {"fc.bias", bias}, {"count", running_count}}; }
  std::vector<Tensor> parameters() const { return {weight, bias}; }
  Tensor forward(const Tensor& x) const { return (x.unsqueeze(2) * weight.unsqueeze(0)).sum({1}) + bias; }
};

// A fixed data set; step t trains on a batch that depends only on t.
struct TinyData {
  Tensor x = random_tensor({12, 4}, 99, 0, 0, kFloat32);
  Tensor y = tensor(std::vector<std::int64_t>{0, 1, 2, 2, 1, 0, 0, 0, 1, 2, 1, 2});
  double train_step(TinyModel& model, optim::Optimizer& opt, std::int64_t t) const {
    const std::int64_t start = (t % 3) * 4;
    opt.zero_grad();
    Tensor loss = cross_entropy(model.forward(x.slice(0, start, start + 4)), y.slice(0, start, start + 4), 0.05);
    loss.backward();
    opt.step();
    NoGradGuard no_grad;
    model.running_count.add_(1.0);
    return loss.item<double>();
  }
};

template <typename MakeOptimizer>
void expect_resume_is_exact(const std::string& dir, MakeOptimizer make_optimizer) {
  const TinyData data;
  constexpr int kSteps = 12;
  auto make_scheduler = [](optim::Optimizer& opt) {
    return std::make_unique<optim::LinearWarmup>(opt, 3, 0.2, std::make_unique<optim::CosineAnnealingLR>(opt, 9));
  };

  // Straight through.
  std::vector<double> straight;
  {
    TinyModel model(1);
    auto opt = make_optimizer(model.parameters());
    auto sched = make_scheduler(*opt);
    for (int t = 0; t < kSteps; ++t) {
      straight.push_back(data.train_step(model, *opt, t));
      sched->step();
    }
  }
  // Half, save, and the other half in fresh objects (different initial weights) loaded from the file.
  std::vector<double> resumed;
  const std::string path = dir + "resume.safetensors";
  {
    TinyModel model(1);
    auto opt = make_optimizer(model.parameters());
    auto sched = make_scheduler(*opt);
    for (int t = 0; t < kSteps / 2; ++t) {
      resumed.push_back(data.train_step(model, *opt, t));
      sched->step();
    }
    optim::save_checkpoint(path, model.named_tensors(), opt.get(), {{"epoch", std::to_string(sched->last_epoch())}});
  }
  {
    TinyModel model(7);
    auto opt = make_optimizer(model.parameters());
    auto sched = make_scheduler(*opt);
    const auto meta = optim::load_checkpoint(path, model.named_tensors(), opt.get());
    sched->set_last_epoch(std::stoll(meta.at("epoch")));
    EXPECT_EQ(model.running_count.item<std::int64_t>(), kSteps / 2);
    for (int t = kSteps / 2; t < kSteps; ++t) {
      resumed.push_back(data.train_step(model, *opt, t));
      sched->step();
    }
  }
  ASSERT_EQ(resumed.size(), straight.size());
  for (int t = 0; t < kSteps; ++t) EXPECT_EQ(resumed[t], straight[t]) << "step " << t;  // bit for bit
  EXPECT_LT(straight.back(), straight.front());
}

TEST_F(Safetensors, ResumedTrainingContinuesBitForBit) {
  expect_resume_is_exact(dir_, [](std::vector<Tensor> params) {
    return std::make_unique<optim::Adam>(std::move(params), optim::AdamOptions{.lr = 0.05, .weight_decay = 1e-3});
  });
  expect_resume_is_exact(dir_, [](std::vector<Tensor> params) {
    return std::make_unique<optim::SGD>(std::move(params),
                                        optim::SGDOptions{.lr = 0.3, .momentum = 0.9, .nesterov = true});
  });
  expect_resume_is_exact(dir_, [](std::vector<Tensor> params) {
    return std::make_unique<optim::AdamW>(std::move(params), optim::AdamWOptions{.lr = 0.05, .fused = false});
  });
}

TEST_F(Safetensors, CheckpointLayout) {
  TinyModel model(1);
  optim::Adam opt(model.parameters(), {.lr = 0.01});
  opt.add_param_group({random_tensor({2}, 5, 0, 0, kFloat32).set_requires_grad(true)}, {{"lr", 0.1}});
  TinyData().train_step(model, opt, 0);  // group 1's parameter has no gradient: no state
  optim::save_checkpoint(path("c.safetensors"), model.named_tensors(), &opt, {{"epoch", "1"}});
  const SafetensorsFile f = load_safetensors(path("c.safetensors"));
  std::vector<std::string> names;
  for (const auto& [name, t] : f.tensors) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"fc.weight", "fc.bias", "count", "optim.0.0.exp_avg",
                                             "optim.0.0.exp_avg_sq", "optim.0.1.exp_avg", "optim.0.1.exp_avg_sq"}));
  EXPECT_EQ(f.metadata.at("optim.type"), "Adam");
  EXPECT_EQ(f.metadata.at("optim.groups"), "2");
  EXPECT_EQ(f.metadata.at("optim.1.params"), "1");
  EXPECT_EQ(f.metadata.at("optim.0.lr"), "0.01");
  EXPECT_EQ(f.metadata.at("optim.1.lr"), "0.1");
  EXPECT_EQ(f.metadata.at("optim.0.eps"), "1e-08");
  EXPECT_EQ(f.metadata.at("optim.0.1.step"), "1");
  EXPECT_EQ(f.metadata.count("optim.1.0.step"), 0u);
  EXPECT_EQ(f.metadata.at("epoch"), "1");
  // Group options are restored, state too.
  TinyModel other(3);
  optim::Adam opt2(other.parameters(), {.lr = 0.5});
  opt2.add_param_group({random_tensor({2}, 6, 0, 0, kFloat32).set_requires_grad(true)});
  optim::load_checkpoint(path("c.safetensors"), other.named_tensors(), &opt2);
  EXPECT_EQ(opt2.param_groups()[0].lr(), 0.01);
  EXPECT_EQ(opt2.param_groups()[1].lr(), 0.1);
  EXPECT_EQ(opt2.state(other.weight).step, 1);
  expect_identical(opt2.state(other.bias).buffers.at("exp_avg"), opt.state(model.bias).buffers.at("exp_avg"), "m");
  EXPECT_EQ(opt2.find_state(opt2.param_groups()[1].params[0]), nullptr);
  // A model-only load of a training checkpoint ignores the optimizer's part.
  TinyModel third(4);
  optim::load_checkpoint(path("c.safetensors"), third.named_tensors());
  expect_identical(third.weight, model.weight, "weight");
}

TEST_F(Safetensors, CheckpointLoadIsAllOrNothing) {
  const std::string p = path("c.safetensors");
  TinyModel model(1);
  optim::SGD opt(model.parameters(), {.lr = 0.1, .momentum = 0.9});
  TinyData().train_step(model, opt, 0);
  optim::save_checkpoint(p, model.named_tensors(), &opt);

  TinyModel fresh(2);
  optim::SGD fresh_opt(fresh.parameters(), {.lr = 0.7, .momentum = 0.5});
  const Tensor w0 = fresh.weight.detach().clone(), b0 = fresh.bias.detach().clone();
  auto expect_untouched = [&] {
    expect_identical(fresh.weight, w0, "weight");
    expect_identical(fresh.bias, b0, "bias");
    EXPECT_EQ(fresh.running_count.item<std::int64_t>(), 0);
    EXPECT_EQ(fresh_opt.param_groups()[0].lr(), 0.7);
    EXPECT_EQ(fresh_opt.find_state(fresh.weight), nullptr);
  };
  const std::string at = "load_checkpoint: " + p + ": ";

  // The model's keys, dtypes and shapes (the bias, checked last, must not be written before the failure).
  NamedTensors wrong_shape = {
      {"fc.bias", fresh.bias}, {"fc.weight", zeros({4, 2}, {.requires_grad = true})}, {"count", fresh.running_count}};
  EXPECT_THROW_MSG(optim::load_checkpoint(p, wrong_shape, &fresh_opt),
                   at + "'fc.weight' has shape [4, 3] in the file, the model has [4, 2]");
  NamedTensors missing = {{"fc.bias", fresh.bias}, {"fc1.weight", fresh.weight}, {"count", fresh.running_count}};
  EXPECT_THROW_MSG(optim::load_checkpoint(p, missing, &fresh_opt), at + "missing key 'fc1.weight'");
  NamedTensors fewer = {{"fc.bias", fresh.bias}, {"fc.weight", fresh.weight}};
  EXPECT_THROW_MSG(optim::load_checkpoint(p, fewer, &fresh_opt),
                   at + "unexpected key 'count' (the model has no such parameter or buffer)");
  NamedTensors wrong_dtype = {
      {"fc.bias", fresh.bias}, {"fc.weight", fresh.weight}, {"count", zeros({1}, {.dtype = kFloat64})}};
  EXPECT_THROW_MSG(optim::load_checkpoint(p, wrong_dtype, &fresh_opt),
                   at + "'count' is int64 in the file, the model has float64");
  expect_untouched();

  // The optimizer's type, groups, and state shapes.
  optim::Adam adam(fresh.parameters(), {});
  EXPECT_THROW_MSG(optim::load_checkpoint(p, fresh.named_tensors(), &adam),
                   at + "the file holds SGD state, the optimizer is Adam");
  optim::SGD two_groups(fresh.parameters(), {.lr = 0.1});
  two_groups.add_param_group({zeros({1}, {.requires_grad = true})});
  EXPECT_THROW_MSG(optim::load_checkpoint(p, fresh.named_tensors(), &two_groups),
                   at + "the file's optimizer has 1 parameter groups, this one has 2");
  Tensor other_shape = zeros({3, 4}, {.requires_grad = true});
  optim::SGD swapped({other_shape, fresh.bias}, {.lr = 0.1});
  EXPECT_THROW_MSG(optim::load_checkpoint(p, fresh.named_tensors(), &swapped),
                   at + "'optim.0.0.momentum_buffer' has shape [4, 3] in the file, its parameter has [3, 4]");
  optim::save_checkpoint(path("model_only.safetensors"), model.named_tensors());
  EXPECT_THROW_MSG(optim::load_checkpoint(path("model_only.safetensors"), fresh.named_tensors(), &fresh_opt),
                   "the file holds no optimizer state");
  expect_untouched();

  // Truncated or corrupt files: every prefix of the file fails cleanly, and so does a flipped header byte.
  const std::string bytes = read_bytes(p);
  for (std::size_t n :
       {std::size_t{0}, std::size_t{7}, std::size_t{8}, std::size_t{100}, bytes.size() / 2, bytes.size() - 1}) {
    write_bytes(path("cut.safetensors"), bytes.substr(0, n));
    EXPECT_THROW(optim::load_checkpoint(path("cut.safetensors"), fresh.named_tensors(), &fresh_opt), Error) << n;
  }
  std::string flipped = bytes;
  flipped[20] = '\x01';
  write_bytes(path("flipped.safetensors"), flipped);
  EXPECT_THROW_MSG(optim::load_checkpoint(path("flipped.safetensors"), fresh.named_tensors(), &fresh_opt),
                   "malformed JSON header");
  expect_untouched();

  // Finally a good load writes everything.
  optim::load_checkpoint(p, fresh.named_tensors(), &fresh_opt);
  expect_identical(fresh.weight, model.weight, "weight");
  EXPECT_EQ(fresh.running_count.item<std::int64_t>(), 1);
  EXPECT_EQ(fresh_opt.param_groups()[0].lr(), 0.1);
  EXPECT_EQ(fresh_opt.param_groups()[0].get("momentum"), 0.9);

  // Reserved names.
  EXPECT_THROW_MSG(optim::save_checkpoint(path("r.safetensors"), {{"optim.x", ones({1})}}),
                   "the model's tensor 'optim.x' has a name reserved for optimizer state");
  EXPECT_THROW_MSG(optim::save_checkpoint(path("r.safetensors"), NamedTensors{}, nullptr, {{"optim.lr", "1"}}),
                   "the metadata key 'optim.lr' is reserved");
}

TEST_F(Safetensors, CheckpointShapeMessageForALargeLayer) {
  // The message of the issue, at its real size.
  const std::string p = path("big.safetensors");
  optim::save_checkpoint(p, {{"fc1.weight", zeros({128, 9216})}});
  const NamedTensors model = {{"fc1.weight", zeros({128, 9215})}};
  EXPECT_THROW_MSG(
      optim::load_checkpoint(p, model),
      "load_checkpoint: " + p + ": 'fc1.weight' has shape [128, 9216] in the file, the model has [128, 9215]");
}

// ---- nn modules
// -------------------------------------------------------------------------------------------------------

// Linear -> BatchNorm1d (running statistics and an int64 batch count as buffers) -> ReLU -> Linear.
struct Net : nn::Module {
  std::shared_ptr<nn::Linear> fc1, fc2;
  std::shared_ptr<nn::BatchNorm1d> bn;
  explicit Net(std::int64_t in_features = 4, std::int64_t hidden = 8) {
    fc1 = register_module("fc1", std::make_shared<nn::Linear>(in_features, hidden));
    bn = register_module("bn", std::make_shared<nn::BatchNorm1d>(hidden));
    fc2 = register_module("fc2", std::make_shared<nn::Linear>(hidden, 3));
  }
  Tensor forward(const Tensor& x) override { return (*fc2)(relu((*bn)((*fc1)(x)))); }
};

TEST_F(Safetensors, ModuleTrainingResumesBitForBit) {
  const TinyData data;  // 12 samples of 4 features, 3 classes
  constexpr int kSteps = 10;
  // AdamW with two groups (the head at twice the lr) and a warm-up into a step decay.
  auto make_optimizer = [](Net& net) {
    auto opt = std::make_unique<optim::AdamW>(optim::AdamWOptions{.lr = 0.02, .weight_decay = 0.05});
    std::vector<Tensor> body = net.fc1->parameters();
    for (const Tensor& p : net.bn->parameters()) body.push_back(p);
    opt->add_param_group(body);
    opt->add_param_group(net.fc2->parameters(), {{"lr", 0.04}});
    return opt;
  };
  auto make_scheduler = [](optim::Optimizer& opt) {
    return std::make_unique<optim::LinearWarmup>(opt, 2, 0.5, std::make_unique<optim::StepLR>(opt, 3, 0.5));
  };
  auto train_step = [&](Net& net, optim::Optimizer& opt, int t) {
    const std::int64_t start = (t % 3) * 4;
    opt.zero_grad();
    Tensor loss = cross_entropy(net(data.x.slice(0, start, start + 4)), data.y.slice(0, start, start + 4));
    loss.backward();
    opt.step();
    return loss.item<double>();
  };

  std::vector<double> straight;
  Tensor straight_eval;
  {
    manual_seed(1);
    Net net;
    auto opt = make_optimizer(net);
    auto sched = make_scheduler(*opt);
    for (int t = 0; t < kSteps; ++t) {
      straight.push_back(train_step(net, *opt, t));
      sched->step();
    }
    net.eval();  // uses the running statistics: the buffers must have been restored too
    straight_eval = net(data.x).detach();
  }
  std::vector<double> resumed;
  const std::string p = path("net.safetensors");
  {
    manual_seed(1);
    Net net;
    auto opt = make_optimizer(net);
    auto sched = make_scheduler(*opt);
    for (int t = 0; t < kSteps / 2; ++t) {
      resumed.push_back(train_step(net, *opt, t));
      sched->step();
    }
    optim::save_checkpoint(p, net, opt.get(), {{"epoch", std::to_string(sched->last_epoch())}});
  }
  {
    manual_seed(2);  // other initial weights
    Net net;
    auto opt = make_optimizer(net);
    auto sched = make_scheduler(*opt);
    const auto meta = optim::load_checkpoint(p, net, opt.get());
    sched->set_last_epoch(std::stoll(meta.at("epoch")));
    EXPECT_EQ(net.bn->num_batches_tracked.item<std::int64_t>(), kSteps / 2);
    for (int t = kSteps / 2; t < kSteps; ++t) {
      resumed.push_back(train_step(net, *opt, t));
      sched->step();
    }
    net.eval();
    expect_identical(net(data.x).detach(), straight_eval, "eval output");
  }
  for (int t = 0; t < kSteps; ++t) EXPECT_EQ(resumed[t], straight[t]) << "step " << t;

  // The file holds the module's dotted names, parameters then buffers, then the optimizer's state.
  const SafetensorsFile f = load_safetensors(p);
  std::vector<std::string> names;
  for (const auto& [name, t] : f.tensors) names.push_back(name);
  const std::vector<std::string> first = {"fc1.weight",       "fc1.bias",       "bn.weight",
                                          "bn.bias",          "fc2.weight",     "fc2.bias",
                                          "bn.running_mean",  "bn.running_var", "bn.num_batches_tracked",
                                          "optim.0.0.exp_avg"};
  EXPECT_EQ(std::vector<std::string>(names.begin(), names.begin() + 10), first);
}

TEST_F(Safetensors, ModuleLoadErrorsNameTheKey) {
  const std::string p = path("big.safetensors");
  manual_seed(3);
  Net saved(9216, 128);
  optim::save_checkpoint(p, saved);
  Net narrower(9215, 128);
  const Tensor before = narrower.fc2->weight.detach().clone();
  EXPECT_THROW_MSG(
      optim::load_checkpoint(p, narrower),
      "load_checkpoint: " + p + ": 'fc1.weight' has shape [128, 9216] in the file, the model has [128, 9215]");
  expect_identical(narrower.fc2->weight, before, "fc2.weight is untouched");  // fc2 matched but was not written

  struct Renamed : nn::Module {
    Renamed() {
      register_module("fc0", std::make_shared<nn::Linear>(9216, 128));
      register_module("bn", std::make_shared<nn::BatchNorm1d>(128));
      register_module("fc2", std::make_shared<nn::Linear>(128, 3));
    }
  };
  optim::save_checkpoint(p, Renamed());
  EXPECT_THROW_MSG(optim::load_checkpoint(p, saved), "load_checkpoint: " + p + ": missing key 'fc1.weight'");
  Net same(9216, 128);
  optim::save_checkpoint(p, saved);
  optim::load_checkpoint(p, same);
  expect_identical(same.fc1->weight, saved.fc1->weight, "fc1.weight");
}

TEST_F(Safetensors, CudaTensorsAndModules) {
  if (!cuda_is_available()) GTEST_SKIP() << "no CUDA device";
  // The model uses BatchNorm, whose CUDA kernels do not exist yet: until they do, say so instead of failing.
  if (!kernels::batch_norm_forward.has(Device::cuda(0)))
    GTEST_SKIP() << "batch_norm has no CUDA kernel yet (CUDA covers the core ops; CNN kernels come later)";
  const Device cuda = Device::cuda(0);
  const Tensor x = random_tensor({3, 4}, 70, 0, 0, kFloat32);
  save_safetensors(path("c.safetensors"), {{"x", x.to(cuda)}, {"i", arange(5).to(cuda)}});
  const SafetensorsFile f = load_safetensors(path("c.safetensors"));
  expect_identical(f.tensors[0].second, x, "x");  // loaded on the CPU
  // A model on the GPU with its optimizer: saved, loaded into another GPU model, resumed.
  manual_seed(5);
  Net net;
  net.to(cuda);
  optim::Adam opt(net.parameters(), {.lr = 0.01});
  const Tensor in = random_tensor({4, 4}, 71, 0, 0, kFloat32).to(cuda);
  const Tensor y = tensor(std::vector<std::int64_t>{0, 1, 2, 1}).to(cuda);
  cross_entropy(net(in), y).backward();
  opt.step();
  optim::save_checkpoint(path("net.safetensors"), net, &opt);
  manual_seed(6);
  Net other;
  other.to(cuda);
  optim::Adam other_opt(other.parameters(), {.lr = 0.5});
  optim::load_checkpoint(path("net.safetensors"), other, &other_opt);
  EXPECT_EQ(other.fc1->weight.device(), cuda);
  expect_identical(other.fc1->weight.cpu(), net.fc1->weight.cpu(), "fc1.weight");
  EXPECT_EQ(other_opt.state(other.fc1->weight).buffers.at("exp_avg").device(), cuda);
  expect_identical(other.bn->running_var.cpu(), net.bn->running_var.cpu(), "bn.running_var");
}

}  // namespace

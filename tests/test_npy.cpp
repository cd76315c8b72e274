// .npy files: round trips of every dtype (0-d, empty, non-contiguous), byte equality with NumPy-written fixtures
// (tests/data, made by tests/data/make_npy_fixtures.py), every load error on hand-made bad files, atomic writes, and
// a live round trip through /usr/bin/python3's NumPy when it is available.
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iterator>

#include "file_testing.h"
#include "gradcheck.h"

using namespace trident;

namespace {

using trident::testing::kData;
using trident::testing::list_dir;
using trident::testing::read_bytes;
using trident::testing::write_bytes;

// A fresh empty directory per test.
class Npy : public trident::testing::TempDirTest {};

// A version 1.0 header for `dict` (padded to 64 bytes like NumPy's) followed by `data`.
std::string npy_file(const std::string& dict, const std::string& data, char major = 1) {
  std::string header = dict;
  const std::size_t prefix = major == 1 ? 10 : 12;
  while ((prefix + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string out = std::string("\x93NUMPY", 6) + major + '\0';
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  if (major != 1) out += std::string(2, '\0');
  return out + header + data;
}

void expect_same(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.dtype(), b.dtype());
  EXPECT_EQ(a.sizes(), b.sizes());
  EXPECT_EQ(a.to_vector<double>(), b.to_vector<double>());
}

}  // namespace

TEST_F(Npy, RoundTripEveryDtype) {
  const std::vector<Tensor> tensors = {
      tensor({1.5f, -2.f, 3.25f, 0.f, 1e-3f, -7.5f}, {2, 3}),
      tensor({1.0, -1e300, 5e-324}, {3, 1}),
      tensor(std::vector<std::int64_t>{0, -1, std::int64_t{1} << 62, 9}, {2, 1, 2}),
      tensor({true, false, true}),
      scalar_tensor(2.5),                                                    // 0-d
      scalar_tensor(7, {.dtype = kInt64}),                                   // 0-d int
      zeros({0, 4}),                                                         // empty
      zeros({3, 0, 2}, {.dtype = kBool}),                                    // empty bool
      randn({5, 7}, {.dtype = kFloat64}).t(),                                // non-contiguous
      arange(24, {.dtype = kFloat32}).reshape({2, 3, 4}).slice(2, 1, 4, 2),  // a strided slice with an offset
  };
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const std::string p = path(fmt::format("t{}.npy", i));
    save_npy(p, tensors[i]);
    Tensor back = load_npy(p);
    // (Tensor::is_contiguous is false for some empty shapes such as [3, 0, 2]: a core quirk, not checked here.)
    if (back.numel() > 0) {
      EXPECT_TRUE(back.is_contiguous()) << i;
    }
    expect_same(back, tensors[i]);
  }
}

TEST_F(Npy, SavesRequiresGradTensorsAsData) {
  Tensor w = randn({3}, {.requires_grad = true});
  save_npy(path("w.npy"), w * 2.0);
  Tensor back = load_npy(path("w.npy"));
  EXPECT_FALSE(back.requires_grad());
  EXPECT_EQ(back.to_vector<float>(), (w * 2.0).to_vector<float>());
}

// NumPy's files load with the right values, and trident writes the same tensors byte for byte.
TEST_F(Npy, MatchesNumpyFixturesByteForByte) {
  struct Fixture {
    std::string name;
    Tensor expected;
  };
  Tensor f64_100 = arange(100, {.dtype = kFloat64}) / 8.0;
  const std::vector<Fixture> fixtures = {
      {"f32_2x3.npy", tensor({1.5f, -2.25f, 3.f, 0.f, 1e-3f, -7.5f}, {2, 3})},
      {"f64_scalar.npy", scalar_tensor(3.25, {.dtype = kFloat64})},
      {"i64_5.npy", tensor(std::vector<std::int64_t>{0, -1, std::int64_t{1} << 40, -(std::int64_t{1} << 62), 7})},
      {"bool_2x2.npy", tensor({true, false, false, true}, {2, 2})},
      {"f32_empty_0x3.npy", zeros({0, 3})},
      {"f64_100.npy", f64_100},
  };
  for (const auto& f : fixtures) {
    SCOPED_TRACE(f.name);
    Tensor loaded = load_npy(kData + f.name);
    expect_same(loaded, f.expected);
    save_npy(path(f.name), f.expected);
    EXPECT_EQ(read_bytes(path(f.name)), read_bytes(kData + f.name));
  }
}

TEST_F(Npy, ReadsVersion2Headers) {
  expect_same(load_npy(kData + "f32_v2.npy"), tensor({1.f, 2.f, 3.f, 4.f}, {2, 2}));
  // Hand-made: version 2.0 and 3.0 differ from 1.0 only in the 4-byte header length.
  const std::string data(reinterpret_cast<const char*>(std::vector<double>{1.0, 2.0}.data()), 16);
  write_bytes(path("v3.npy"), npy_file("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", data, 3));
  expect_same(load_npy(path("v3.npy")), tensor({1.0, 2.0}));
}

TEST_F(Npy, ToleratesHeaderVariants) {
  // Keys in another order, double quotes, no trailing comma, extra spaces, a Python 2 long.
  const std::string data(reinterpret_cast<const char*>(std::vector<float>{1.f, 2.f, 3.f}.data()), 12);
  write_bytes(path("h.npy"), npy_file("{ \"shape\" : (3L,) , 'fortran_order':False,'descr':'<f4'}", data));
  expect_same(load_npy(path("h.npy")), tensor({1.f, 2.f, 3.f}));
  // Bool bytes other than 0/1 read as true.
  write_bytes(path("b.npy"),
              npy_file("{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", std::string("\x00\x02\x01", 3)));
  EXPECT_EQ(load_npy(path("b.npy")).to_vector<bool>(), (std::vector<bool>{false, true, true}));
}

TEST_F(Npy, LoadErrorsNameTheFileAndTheProblem) {
  const std::string missing = path("missing.npy");
  EXPECT_THROW_MSG(load_npy(missing), "load_npy: " + missing + ": cannot open the file: No such file or directory");

  write_bytes(path("magic.npy"), "hello, this is not numpy");
  EXPECT_THROW_MSG(load_npy(path("magic.npy")), "load_npy: " + path("magic.npy") + ": not a .npy file (bad magic");
  write_bytes(path("tiny.npy"), "\x93NU");
  EXPECT_THROW_MSG(load_npy(path("tiny.npy")), ": not a .npy file (bad magic");

  const std::string good = read_bytes(kData + "f32_2x3.npy");
  write_bytes(path("header.npy"), good.substr(0, 30));
  EXPECT_THROW_MSG(load_npy(path("header.npy")),
                   "load_npy: " + path("header.npy") + ": truncated header: expected 118 bytes, found 20");
  write_bytes(path("header2.npy"), good.substr(0, 9));
  EXPECT_THROW_MSG(load_npy(path("header2.npy")), ": truncated header: the file ends inside the header length");

  write_bytes(path("data.npy"),
              npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (1024,), }", std::string(1000, '\0')));
  EXPECT_THROW_MSG(load_npy(path("data.npy")),
                   "load_npy: " + path("data.npy") + ": truncated data: expected 4096 bytes, found 1000");

  EXPECT_THROW_MSG(load_npy(kData + "i32.npy"), "load_npy: " + kData + "i32.npy: unsupported dtype '<i4'");
  EXPECT_THROW_MSG(load_npy(kData + "f4_big_endian.npy"),
                   "load_npy: " + kData + "f4_big_endian.npy: big-endian data ('>f4') is not supported");
  EXPECT_THROW_MSG(load_npy(kData + "f64_fortran.npy"),
                   "load_npy: " + kData + "f64_fortran.npy: Fortran-order (column-major) arrays are not supported");

  std::string v4 = good;
  v4[6] = 4;
  write_bytes(path("v4.npy"), v4);
  EXPECT_THROW_MSG(load_npy(path("v4.npy")), ": unsupported .npy format version 4.0");

  write_bytes(path("key.npy"), npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", "abcd"));
  EXPECT_THROW_MSG(load_npy(path("key.npy")), ": malformed header: unexpected key 'x'");
  write_bytes(path("nokey.npy"), npy_file("{'descr': '<f4', 'shape': (1,)}", "abcd"));
  EXPECT_THROW_MSG(load_npy(path("nokey.npy")),
                   ": malformed header: the dict must hold the keys 'descr', 'fortran_order' and 'shape'");
  write_bytes(path("shape.npy"), npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", "abcd"));
  EXPECT_THROW_MSG(load_npy(path("shape.npy")), ": malformed header: expected a non-negative integer");
  write_bytes(path("struct.npy"),
              npy_file("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", "abcd"));
  EXPECT_THROW_MSG(load_npy(path("struct.npy")), ": malformed header: unsupported dtype: structured arrays");
}

TEST_F(Npy, AtomicWriteLeavesNoTemporaryFile) {
  save_npy(path("a.npy"), ones({4}));
  EXPECT_EQ(list_dir(dir_), (std::vector<std::string>{"a.npy"}));
  // Overwriting replaces the content in one step.
  save_npy(path("a.npy"), zeros({2, 2}, {.dtype = kInt64}));
  EXPECT_EQ(list_dir(dir_), (std::vector<std::string>{"a.npy"}));
  expect_same(load_npy(path("a.npy")), zeros({2, 2}, {.dtype = kInt64}));
  // A directory that does not exist: an error naming the file, nothing created.
  const std::string bad = path("no_such_dir/a.npy");
  EXPECT_THROW_MSG(save_npy(bad, ones({1})), "save_npy: " + bad + ": cannot create the temporary file");
  EXPECT_EQ(list_dir(dir_), (std::vector<std::string>{"a.npy"}));
  EXPECT_THROW_MSG(save_npy(path("u.npy"), Tensor()), "save_npy: " + path("u.npy") + ": the tensor is undefined");
}

// Interoperability with a live NumPy: trident writes, NumPy reads and writes back, trident reads.
TEST_F(Npy, RoundTripThroughNumpy) {
  const char* python = "/usr/bin/python3";
  if (::access(python, X_OK) != 0)
    GTEST_SKIP() << python << " not found: NumPy interoperability not checked live "
                 << "(the byte-equality fixtures still cover it)";
  if (std::system("/usr/bin/python3 -c 'import numpy' > /dev/null 2>&1") != 0)
    GTEST_SKIP() << "NumPy is not importable from /usr/bin/python3";
  const Tensor x = randn({3, 4}, {.dtype = kFloat64}).t();  // non-contiguous [4, 3]
  const Tensor i = arange(-5, 5).reshape({2, 5});
  const Tensor b = tensor({true, false, true});
  const Tensor f = tensor({0.5f, -1.5f});
  save_npy(path("x.npy"), x);
  save_npy(path("i.npy"), i);
  save_npy(path("b.npy"), b);
  save_npy(path("f.npy"), f);
  const std::string script = fmt::format(
      "import numpy as np, sys\n"
      "d = '{0}'\n"
      "x = np.load(d + 'x.npy'); i = np.load(d + 'i.npy'); b = np.load(d + 'b.npy'); f = np.load(d + 'f.npy')\n"
      "assert x.dtype == np.float64 and x.shape == (4, 3), (x.dtype, x.shape)\n"
      "assert i.dtype == np.int64 and i.shape == (2, 5) and (i.ravel() == np.arange(-5, 5)).all()\n"
      "assert b.dtype == np.bool_ and b.tolist() == [True, False, True]\n"
      "assert f.dtype == np.float32 and f.tolist() == [0.5, -1.5]\n"
      "np.save(d + 'x2.npy', x * 2); np.save(d + 'i2.npy', i + 1); np.save(d + 'b2.npy', ~b)\n"
      "np.save(d + 'f2.npy', f - 1)\n",
      dir_);
  write_bytes(path("check.py"), script);
  ASSERT_EQ(std::system(fmt::format("/usr/bin/python3 {}", path("check.py")).c_str()), 0);
  expect_same(load_npy(path("x2.npy")), x * 2.0);
  expect_same(load_npy(path("i2.npy")), i + 1.0);
  EXPECT_EQ(load_npy(path("b2.npy")).to_vector<bool>(), (std::vector<bool>{false, true, false}));
  expect_same(load_npy(path("f2.npy")), f - 1.0);
}

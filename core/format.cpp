// Printing tensors in PyTorch's style. See core/format.h for the rules; the structure follows torch/_tensor_str.py
// (a Formatter that looks at the printed values to choose a width and a notation, then a recursive layout).
#include "trident/core/format.h"

#include <cmath>
#include <functional>
#include <vector>

#include "trident/core/autograd/node.h"

namespace trident {
namespace {

constexpr int kPrecision = 4;
constexpr std::int64_t kThreshold = 1000;  // summarise above this many elements
constexpr std::int64_t kEdgeItems = 3;
constexpr std::int64_t kLineWidth = 80;

// A CPU tensor read element by element at offsets (in elements) from its first element.
struct HostTensor {
  Tensor t;
  double real(std::int64_t off) const {
    return dispatch_dtype(t.dtype(), "format",
                          [&]<typename T>() { return static_cast<double>(static_cast<const T*>(t.raw_data())[off]); });
  }
  std::int64_t integer(std::int64_t off) const { return static_cast<const std::int64_t*>(t.raw_data())[off]; }
  bool boolean(std::int64_t off) const { return static_cast<const bool*>(t.raw_data())[off]; }
};

// Calls f(offset) for every element that is printed, in order: all of them, or, when summarising, the first and last
// kEdgeItems along every dim that is longer than 2 * kEdgeItems (PyTorch's get_summarized_data).
void for_each_printed(const Tensor& t, std::int64_t dim, std::int64_t off, bool summarize,
                      const std::function<void(std::int64_t)>& f) {
  if (dim == t.dim()) {
    f(off);
    return;
  }
  const std::int64_t n = t.size(dim), stride = t.stride(dim);
  for (std::int64_t i = 0; i < n; ++i) {
    if (summarize && n > 2 * kEdgeItems && i == kEdgeItems) i = n - kEdgeItems;
    for_each_printed(t, dim + 1, off + i * stride, summarize, f);
  }
}

std::string python_float(double v, const char* spec) {
  if (std::isnan(v)) return "nan";  // Python prints every NaN as "nan", without a sign
  return fmt::format(fmt::runtime(spec), v);
}

// Chooses one width and one notation for all printed values (PyTorch's _Formatter).
class Formatter {
 public:
  Formatter(const HostTensor& h, bool summarize) : h_(h), floating_(is_floating(h.t.dtype())) {
    if (!floating_) {
      for_each_printed(h.t, 0, 0, summarize, [&](std::int64_t off) { widen(raw(off).size()); });
      return;
    }
    std::vector<double> nonzero_finite;
    for_each_printed(h.t, 0, 0, summarize, [&](std::int64_t off) {
      const double v = h.real(off);
      if (std::isfinite(v) && v != 0.0) nonzero_finite.push_back(v);
    });
    if (nonzero_finite.empty()) return;  // only zeros, infs and NaNs: integer mode, width 1
    double lo = std::abs(nonzero_finite[0]), hi = lo;
    for (double v : nonzero_finite) {
      lo = std::min(lo, std::abs(v));
      hi = std::max(hi, std::abs(v));
      if (v != std::ceil(v)) int_mode_ = false;
    }
    if (int_mode_) {
      // Integral values: "3." unless the range calls for scientific notation.
      sci_mode_ = hi / lo > 1000.0 || hi > 1.0e8;
      for (double v : nonzero_finite)
        widen(sci_mode_ ? python_float(v, "{:.4e}").size() : python_float(v, "{:.0f}").size() + 1);
    } else {
      sci_mode_ = hi / lo > 1000.0 || hi > 1.0e8 || lo < 1.0e-4;
      for (double v : nonzero_finite) widen(python_float(v, sci_mode_ ? "{:.4e}" : "{:.4f}").size());
    }
  }

  std::size_t width() const { return max_width_; }

  std::string format(std::int64_t off) const {
    std::string s;
    if (!floating_) {
      s = raw(off);
    } else {
      const double v = h_.real(off);
      if (sci_mode_) {
        s = python_float(v, "{:.4e}");
      } else if (int_mode_) {
        s = python_float(v, "{:.0f}");
        if (std::isfinite(v)) s += ".";
      } else {
        s = python_float(v, "{:.4f}");
      }
    }
    if (s.size() < max_width_) s.insert(0, max_width_ - s.size(), ' ');
    return s;
  }

 private:
  std::string raw(std::int64_t off) const {  // Python's str() of an int64 or bool element
    if (h_.t.dtype() == kBool) return h_.boolean(off) ? "True" : "False";
    return fmt::format("{}", h_.integer(off));
  }
  void widen(std::size_t w) { max_width_ = std::max(max_width_, w); }

  const HostTensor& h_;
  bool floating_;
  bool int_mode_ = true;
  bool sci_mode_ = false;
  std::size_t max_width_ = 1;
};

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += sep;
    out += parts[i];
  }
  return out;
}

// The innermost dim: as many elements per line as fit in the line width.
std::string vector_str(const Tensor& t, std::int64_t off, std::int64_t indent, bool summarize, const Formatter& f) {
  const std::int64_t element_length = static_cast<std::int64_t>(f.width()) + 2;
  const std::int64_t per_line = std::max<std::int64_t>(1, (kLineWidth - indent) / element_length);
  const std::int64_t n = t.size(-1), stride = t.stride(-1);
  std::vector<std::string> data;
  for (std::int64_t i = 0; i < n; ++i) {
    if (summarize && n > 2 * kEdgeItems && i == kEdgeItems) {
      data.emplace_back(" ...");
      i = n - kEdgeItems;
    }
    data.push_back(f.format(off + i * stride));
  }
  std::vector<std::string> lines;
  for (std::size_t i = 0; i < data.size(); i += static_cast<std::size_t>(per_line)) {
    const auto end = std::min(data.size(), i + static_cast<std::size_t>(per_line));
    lines.push_back(join(std::vector<std::string>(data.begin() + static_cast<std::ptrdiff_t>(i),
                                                  data.begin() + static_cast<std::ptrdiff_t>(end)),
                         ", "));
  }
  return "[" + join(lines, ",\n" + std::string(static_cast<std::size_t>(indent + 1), ' ')) + "]";
}

std::string tensor_str(const Tensor& t, std::int64_t dim, std::int64_t off, std::int64_t indent, bool summarize,
                       const Formatter& f) {
  if (t.dim() == 0) return f.format(off);
  if (dim == t.dim() - 1) return vector_str(t, off, indent, summarize, f);
  const std::int64_t n = t.size(dim), stride = t.stride(dim);
  std::vector<std::string> slices;
  for (std::int64_t i = 0; i < n; ++i) {
    if (summarize && n > 2 * kEdgeItems && i == kEdgeItems) {
      slices.emplace_back("...");
      i = n - kEdgeItems;
    }
    slices.push_back(tensor_str(t, dim + 1, off + i * stride, indent + 1, summarize, f));
  }
  // Rows of a matrix are separated by one newline, matrices of a 3-d tensor by two, and so on.
  const std::size_t remaining = static_cast<std::size_t>(t.dim() - dim);
  return "[" +
         join(slices, "," + std::string(remaining - 1, '\n') + std::string(static_cast<std::size_t>(indent + 1), ' ')) +
         "]";
}

// Appends ", suffix" to the text, or starts a new line when the suffix would pass the line width (_add_suffixes).
std::string add_suffixes(std::string text, const std::vector<std::string>& suffixes, std::int64_t indent) {
  const std::size_t newline = text.rfind('\n');
  // PyTorch's arithmetic, kept as is: len(text) - text.rfind("\n") + 1, where rfind gives -1 when absent.
  std::int64_t last_line_len = static_cast<std::int64_t>(text.size()) -
                               (newline == std::string::npos ? -1 : static_cast<std::int64_t>(newline)) + 1;
  for (const std::string& suffix : suffixes) {
    const auto len = static_cast<std::int64_t>(suffix.size());
    if (last_line_len + len + 2 > kLineWidth) {
      text += ",\n" + std::string(static_cast<std::size_t>(indent), ' ') + suffix;
      last_line_len = indent + len;
    } else {
      text += ", " + suffix;
      last_line_len += len + 2;
    }
  }
  return text + ")";
}

std::string python_tuple(const Shape& s) {
  if (s.size() == 1) return fmt::format("({},)", s[0]);
  return fmt::format("({})", fmt::join(s, ", "));
}

}  // namespace

std::string to_string(const Tensor& t) {
  if (!t.defined()) return "tensor(undefined)";
  const std::string prefix = "tensor(";
  const auto indent = static_cast<std::int64_t>(prefix.size());
  std::vector<std::string> suffixes;
  if (!t.device().is_cpu()) suffixes.push_back(fmt::format("device='{}'", t.device()));

  std::string body;
  if (t.numel() == 0) {
    // No values to show the dtype by, so it is named unless it is the default; the shape too unless it is [0].
    if (t.dim() != 1) suffixes.push_back("size=" + python_tuple(t.sizes()));
    if (t.dtype() != kFloat32) suffixes.push_back(fmt::format("dtype={}", t.dtype()));
    body = "[]";
  } else {
    if (t.dtype() == kFloat64) suffixes.push_back("dtype=float64");  // float32, int64 and bool go unnamed
    const HostTensor host{t.detach().to(kCPU)};
    const bool summarize = t.numel() > kThreshold;
    const Formatter formatter(host, summarize);
    body = tensor_str(host.t, 0, 0, indent, summarize, formatter);
  }
  if (const auto& fn = t.grad_fn()) {
    suffixes.push_back("grad_fn=<" + fn->name() + ">");
  } else if (t.requires_grad()) {
    suffixes.push_back("requires_grad=True");
  }
  return add_suffixes(prefix + body, suffixes, indent);
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << to_string(t); }

}  // namespace trident

// The examples' command lines: each program declares its flags once, in a table, and gets parsing, strict value
// checks and its usage text from it (instead of an if-chain per program that parsed "3x" as 3).
//
//   Args args;                                              // the program's settings, with their defaults
//   examples::Flags flags("mnist_embed", "learn a digit embedding on MNIST and evaluate it by retrieval");
//   flags.add("--epochs", args.epochs, "N");                // int, std::int64_t, std::uint64_t, double, string
//   flags.add("--margin", args.margin, "M");                // std::optional<...> of those: set when given
//   flags.add("--check", args.check);                       // bool: a switch, sets true
//   flags.add_switch("--no-augment", args.augment, false);  // a switch that sets another value
//   flags.add_custom("--image-size", "HxW", [&](const std::string& v) { ... });  // anything else
//   flags.parse(argc, argv);
//   if (args.epochs < 1) flags.fail("--epochs must be positive");
//
// Every error (an unknown flag, a missing or malformed value, a custom parser's exception, fail()) prints
// "program: what went wrong" and the usage to stderr and exits with status 2; --help / -h prints the usage and exits
// with status 0.
#pragma once

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace examples {

class Flags {
 public:
  Flags(std::string program, std::string about) : program_(std::move(program)), about_(std::move(about)) {}

  // A flag that takes a value, parsed strictly as T (the whole text, finite for doubles, in range for integers).
  template <class T>
  Flags& add(const std::string& name, T& target, const std::string& metavar) {
    return add_custom(name, metavar,
                      [this, &target, name](const std::string& text) { target = parse_value<T>(name, text); });
  }
  template <class T>
  Flags& add(const std::string& name, std::optional<T>& target, const std::string& metavar) {
    return add_custom(name, metavar,
                      [this, &target, name](const std::string& text) { target = parse_value<T>(name, text); });
  }
  // A switch: present means true.
  Flags& add(const std::string& name, bool& target) { return add_switch(name, target, true); }
  // A switch that stores `value` in target (--no-augment: augment = false).
  template <class T>
  Flags& add_switch(const std::string& name, T& target, T value) {
    entries_.push_back({name, "", [&target, value](const std::string&) { target = value; }});
    return *this;
  }
  // A flag whose value the caller parses; an exception it throws becomes a usage error with its message.
  Flags& add_custom(const std::string& name, const std::string& metavar, std::function<void(const std::string&)> set) {
    entries_.push_back({name, metavar.empty() ? "VALUE" : metavar, std::move(set)});
    return *this;
  }

  void parse(int argc, char** argv) const {
    for (int i = 1; i < argc; ++i) {
      const std::string flag = argv[i];
      if (flag == "--help" || flag == "-h") {
        std::printf("%s: %s\n%s", program_.c_str(), about_.c_str(), usage().c_str());
        std::exit(0);
      }
      const Entry* entry = find(flag);
      if (entry == nullptr) fail("unknown flag " + flag);
      std::string value;
      if (!entry->metavar.empty()) {
        if (i + 1 >= argc) fail("missing value after " + flag + " (expected " + entry->metavar + ")");
        value = argv[++i];
      }
      try {
        entry->set(value);
      } catch (const std::exception& e) {
        fail(flag + ": " + e.what());
      }
    }
  }

  [[noreturn]] void fail(const std::string& message) const {
    std::fprintf(stderr, "%s: %s\n%s", program_.c_str(), message.c_str(), usage().c_str());
    std::exit(2);
  }

  // "usage: program [--a A] [--b] ..." wrapped at 118 columns.
  std::string usage() const {
    std::string out = "usage: " + program_;
    const std::string indent(out.size(), ' ');
    std::size_t line_start = 0;
    for (const Entry& e : entries_) {
      const std::string item = " [" + e.name + (e.metavar.empty() ? "" : " " + e.metavar) + "]";
      if (out.size() - line_start + item.size() > 118) {
        out += "\n";
        line_start = out.size();
        out += indent;
      }
      out += item;
    }
    return out + "\n";
  }

 private:
  struct Entry {
    std::string name, metavar;  // metavar empty: a switch
    std::function<void(const std::string&)> set;
  };

  const Entry* find(const std::string& name) const {
    for (const Entry& e : entries_) {
      if (e.name == name) return &e;
    }
    return nullptr;
  }

  template <class T>
  T parse_value(const std::string& flag, const std::string& text) const {
    if constexpr (std::is_same_v<T, std::string>) {
      return text;
    } else {
      const char* begin = text.c_str();
      char* end = nullptr;
      errno = 0;
      T value{};
      const char* expected = "";
      if constexpr (std::is_floating_point_v<T>) {
        value = static_cast<T>(std::strtod(begin, &end));
        expected = "a finite number";
        if (!std::isfinite(value)) end = const_cast<char*>(begin);
      } else if constexpr (std::is_unsigned_v<T>) {
        const unsigned long long v = std::strtoull(begin, &end, 10);
        expected = "an integer >= 0";
        if (text.find('-') != std::string::npos || v > static_cast<unsigned long long>(static_cast<T>(-1))) {
          end = const_cast<char*>(begin);
        }
        value = static_cast<T>(v);
      } else {
        static_assert(std::is_integral_v<T>, "Flags: unsupported flag type");
        const long long v = std::strtoll(begin, &end, 10);
        expected = "an integer";
        if (static_cast<long long>(static_cast<T>(v)) != v) end = const_cast<char*>(begin);
        value = static_cast<T>(v);
      }
      if (text.empty() || errno == ERANGE || end != begin + text.size()) {
        fail("bad value for " + flag + ": '" + text + "' (expected " + expected + ")");
      }
      return value;
    }
  }

  std::string program_, about_;
  std::vector<Entry> entries_;
};

}  // namespace examples

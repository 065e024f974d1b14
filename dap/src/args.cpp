#include "args.hpp"

#include <cctype>
#include <stdexcept>

#include <cmath>

namespace goscope::dap::args {
namespace {

[[noreturn]] void wrong(const json::value& v, std::string_view key, std::string_view go_type) {
  throw ArgumentError("cannot unmarshal " + json_kind(v) + " into \"" + std::string(key) +
                      "\" of type " + std::string(go_type));
}

}  // namespace

std::string json_kind(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return "null";
    case json::kind::bool_:
      return "bool";
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_:
      return "number";
    case json::kind::string:
      return "string";
    case json::kind::array:
      return "array";
    case json::kind::object:
      return "object";
  }
  return "value";
}

std::optional<std::int64_t> opt_int(const json::object& a, std::string_view key) {
  const auto* v = a.if_contains(key);
  if (v == nullptr || v->is_null())
    return std::nullopt;
  if (v->is_int64())
    return v->as_int64();
  if (v->is_uint64() && v->as_uint64() <= static_cast<std::uint64_t>(INT64_MAX))
    return static_cast<std::int64_t>(v->as_uint64());
  if (v->is_double()) {
    const double d = v->as_double();
    if (std::trunc(d) == d && std::fabs(d) < 9.2e18)
      return static_cast<std::int64_t>(d);
    throw ArgumentError("cannot unmarshal number " + json::serialize(*v) + " into \"" +
                        std::string(key) + "\" of type int");
  }
  wrong(*v, key, "int");
}

std::optional<std::string> opt_string(const json::object& a, std::string_view key) {
  const auto* v = a.if_contains(key);
  if (v == nullptr || v->is_null())
    return std::nullopt;
  if (!v->is_string())
    wrong(*v, key, "string");
  return std::string(v->as_string());
}

std::optional<bool> opt_bool(const json::object& a, std::string_view key) {
  const auto* v = a.if_contains(key);
  if (v == nullptr || v->is_null())
    return std::nullopt;
  if (!v->is_bool())
    wrong(*v, key, "bool");
  return v->as_bool();
}

const json::object* opt_object(const json::object& a, std::string_view key) {
  const auto* v = a.if_contains(key);
  if (v == nullptr || v->is_null())
    return nullptr;
  if (!v->is_object())
    wrong(*v, key, "struct");
  return &v->as_object();
}

const json::array* opt_array(const json::object& a, std::string_view key) {
  const auto* v = a.if_contains(key);
  if (v == nullptr || v->is_null())
    return nullptr;
  if (!v->is_array())
    wrong(*v, key, "slice");
  return &v->as_array();
}

std::vector<std::string> get_strings(const json::object& a, std::string_view key) {
  std::vector<std::string> out;
  if (const auto* arr = opt_array(a, key)) {
    for (const auto& e : *arr) {
      if (!e.is_string())
        wrong(e, key, "string");
      out.emplace_back(e.as_string());
    }
  }
  return out;
}

}  // namespace goscope::dap::args

namespace goscope::dap {

std::uint64_t parse_go_integer(const std::string& s, bool is_signed) {
  const std::string fn = is_signed ? "strconv.ParseInt" : "strconv.ParseUint";
  const auto fail = [&](const char* why) -> std::runtime_error {
    std::string q = "\"";
    for (char c : s) q += c == '"' || c == '\\' ? std::string("\\") + c : std::string(1, c);
    return std::runtime_error(fn + ": parsing " + q + "\": " + why);
  };
  std::string_view t = s;
  bool neg = false;
  if (is_signed && !t.empty() && (t[0] == '+' || t[0] == '-')) {
    neg = t[0] == '-';
    t.remove_prefix(1);
  }
  if (t.empty())
    throw fail("invalid syntax");
  unsigned base = 10;
  bool prefixed = false;
  if (t.size() >= 2 && t[0] == '0') {
    const char p = static_cast<char>(std::tolower(static_cast<unsigned char>(t[1])));
    if (p == 'x' || p == 'o' || p == 'b') {
      base = p == 'x' ? 16 : p == 'o' ? 8 : 2;
      t.remove_prefix(2);
      prefixed = true;
    } else {
      base = 8;
      t.remove_prefix(1);
      prefixed = true;
    }
  }
  if (t.empty() && !(base == 8 && prefixed))
    throw fail("invalid syntax");
  // Underscores: only with a base prefix, and only between digits or between the prefix
  // and a digit (Go's underscoreOK).
  std::uint64_t v = 0;
  bool overflow = false;
  char prev = '0';
  for (char c : t) {
    if (c == '_') {
      if (!prefixed || prev == '_')
        throw fail("invalid syntax");
      prev = c;
      continue;
    }
    unsigned d = 0;
    if (c >= '0' && c <= '9')
      d = static_cast<unsigned>(c - '0');
    else if (c >= 'a' && c <= 'z')
      d = static_cast<unsigned>(c - 'a' + 10);
    else if (c >= 'A' && c <= 'Z')
      d = static_cast<unsigned>(c - 'A' + 10);
    else
      throw fail("invalid syntax");
    if (d >= base)
      throw fail("invalid syntax");
    if (v > (UINT64_MAX - d) / base)
      overflow = true;
    v = v * base + d;
    prev = c;
  }
  if (prev == '_')
    throw fail("invalid syntax");
  if (overflow)
    throw fail("value out of range");
  if (is_signed) {
    const std::uint64_t limit = neg ? (1ull << 63) : (1ull << 63) - 1;
    if (v > limit)
      throw fail("value out of range");
    return neg ? 0 - v : v;
  }
  return v;
}

}  // namespace goscope::dap

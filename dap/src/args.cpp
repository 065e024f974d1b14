#include "args.hpp"

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

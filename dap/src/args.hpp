#pragma once
// Typed reads of request arguments: a missing field gives the default, a field of the
// wrong JSON type throws ArgumentError worded as Go's encoding/json (what dlv answers).
#include <boost/json.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "errors.hpp"

namespace goscope::dap::args {

namespace json = boost::json;

std::optional<std::int64_t> opt_int(const json::object& a, std::string_view key);
std::optional<std::string> opt_string(const json::object& a, std::string_view key);
std::optional<bool> opt_bool(const json::object& a, std::string_view key);
const json::object* opt_object(const json::object& a, std::string_view key);
const json::array* opt_array(const json::object& a, std::string_view key);

inline std::int64_t get_int(const json::object& a, std::string_view key, std::int64_t def = 0) {
  return opt_int(a, key).value_or(def);
}
inline std::string get_string(const json::object& a, std::string_view key,
                              const std::string& def = {}) {
  return opt_string(a, key).value_or(def);
}
inline bool get_bool(const json::object& a, std::string_view key, bool def = false) {
  return opt_bool(a, key).value_or(def);
}
/// A JSON array of strings.
std::vector<std::string> get_strings(const json::object& a, std::string_view key);

/// Go's name of a JSON value's type in unmarshal errors ("number", "string", ...).
std::string json_kind(const json::value& v);

}  // namespace goscope::dap::args

namespace goscope::dap {
/// Go's strconv.ParseInt(s, 0, 64) (`is_signed`) or ParseUint(s, 0, 64): base from the
/// prefix (0x, 0o, 0b, 0), underscores only after a prefix. Throws std::runtime_error with
/// Go's text ("strconv.ParseInt: parsing \"x\": invalid syntax", "... value out of range").
std::uint64_t parse_go_integer(const std::string& s, bool is_signed);
inline std::uint64_t parse_go_int(const std::string& s) {
  return parse_go_integer(s, true);
}
}  // namespace goscope::dap

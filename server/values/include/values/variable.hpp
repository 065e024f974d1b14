#pragma once
// A loaded Go value and how much of it to load, in the shape of Delve's api.Variable and
// api.LoadConfig (same fields, same meanings). The target fills them; the session API and
// both protocol front ends use the very same objects (session::api::Variable is this type).
#include <cstdint>
#include <string>
#include <vector>

namespace goscope::values {

/// How much of a value to read, Delve's api.LoadConfig (same field meanings, same limits).
struct LoadConfig {
  bool follow_pointers = true;
  int max_variable_recurse = 1;
  int max_string_len = 64;
  int max_array_values = 64;
  int max_struct_fields = -1;  ///< -1: all
  bool operator==(const LoadConfig&) const = default;
};

/// dlv's terminal ShortLoadConfig: what `dlv trace` loads for arguments and results, and
/// args/locals without -v.
inline constexpr LoadConfig kShortLoadConfig{false, 0, 64, 0, 3};

/// Variable flags, Delve's api.VariableFlags bit values.
enum VariableFlags : std::uint16_t {
  kFlagEscaped = 1,
  kFlagShadowed = 2,
  kFlagConstant = 4,
  kFlagArgument = 8,
  kFlagReturnArgument = 16,
  kFlagFakeAddress = 32,
  kFlagCPtr = 64,
  kFlagCPURegister = 128,
};

/// A loaded Go value, Delve's api.Variable. `kind` is reflect.Kind.
struct Variable {
  std::string name;
  std::uint64_t addr = 0;
  bool only_addr = false;
  std::string type;
  std::string real_type;
  std::uint16_t flags = 0;
  int kind = 0;
  std::string value;
  std::int64_t len = 0;
  std::int64_t cap = 0;
  std::vector<Variable> children;
  std::uint64_t base = 0;
  std::string unreadable;
  std::string location_expr;
  std::int64_t decl_line = 0;
  bool operator==(const Variable&) const = default;
};

}  // namespace goscope::values

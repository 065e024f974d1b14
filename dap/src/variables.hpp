#pragma once
// Delve's DAP view of values (service/dap convertVariable and childrenToDAPVariables):
// one-line values, which values get a variables reference, children's names and
// evaluateNames, and the pseudo-children len() and string().
#include <boost/json.hpp>
#include <string>

#include "session.hpp"

namespace goscope::dap {

/// Delve DAP's DefaultLoadConfig: one level, 512-byte strings, 64 elements.
inline constexpr api::LoadConfig kDapLoadConfig{true, 1, 512, 64, -1};

/// Go's reflect.Kind values carried in api::Variable::kind.
namespace kind {
inline constexpr int Bool = 1, Int = 2, Int64 = 6, Uint = 7, Uintptr = 12, Float32 = 13,
                     Float64 = 14, Complex64 = 15, Complex128 = 16, Array = 17, Chan = 18,
                     Func = 19, Interface = 20, Map = 21, Ptr = 22, Slice = 23, String = 24,
                     Struct = 25, UnsafePointer = 26;
}

struct Converted {
  std::string value;
  int ref = 0;  ///< variablesReference, 0 when not expandable
};

/// Value and reference of `v` (which may be reloaded in place when a level was not loaded).
/// `full_value`: never cut at 256 characters; `no_ref`: never make a reference.
Converted convert_variable(DapSession& s, api::Variable& v, const std::string& expr,
                           std::int64_t goid, int frame, bool full_value = false,
                           bool no_ref = false);
int indexed_count(const api::Variable& v);
int named_count(const api::Variable& v);
/// Adds `type`, counts and evaluateName as Delve does to a DAP variable object.
void add_type_and_counts(DapSession& s, boost::json::object& out, const api::Variable& v);

/// The children of a reference, as the `variables` response lists them. `filter` is
/// "", "indexed" or "named"; start/count page indexed children.
boost::json::array children_of(DapSession& s, VarRef& ref, const std::string& filter, int start,
                               int count);

}  // namespace goscope::dap

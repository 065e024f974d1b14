#pragma once
#include <cstdint>
#include <vector>

#include "dwarf/debug_info.hpp"

namespace goscope::target {

class BinaryInfo;

/// Delve's declaration-line rule (reader.Variables with VariablesTrustDeclLine, Go >= 1.15
/// producers): at source line `line`, a parameter or result is visible from its
/// DW_AT_decl_line on, a local from the line after (on `b := a + 1`, b is not assigned
/// yet). A variable without a declaration line is always visible. This hides the
/// parameters of a signature written over several lines at the function's entry, whose
/// line is the `func` line.
bool visible_at_line(const dwarf::Variable& v, std::uint32_t line);

/// The variables a trace event of `fn` (or of its inlined copy `inlined`) reports: the
/// parameters at an entry, the results at a return, each visible (visible_at_line) at the
/// line Delve's tracepoint stands on: for an out-of-line entry, the line of the line
/// table's prologue_end (where `dlv trace` breaks); otherwise the line of `pc`, the pc the
/// event reports (an inlined body's first instruction, a RET, a deferreturn call).
std::vector<const dwarf::Variable*> traced_variables(const BinaryInfo& bi,
                                                     const dwarf::Function& fn,
                                                     const dwarf::InlinedCall* inlined,
                                                     bool is_return, std::uint64_t pc);

}  // namespace goscope::target

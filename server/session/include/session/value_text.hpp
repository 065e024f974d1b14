#pragma once
// Value printing for front ends that get api::Variable (the DAP server): the same Delve
// rules the trace output uses.
#include <string>
#include <string_view>

#include "session/api.hpp"

namespace goscope::session {

/// Delve's api.Variable.SinglelineString() (defined with the trace printer, pretty.cpp).
std::string singleline_string(const api::Variable& v);
/// Go's strconv.Quote.
std::string go_quote_string(std::string_view s);

}  // namespace goscope::session

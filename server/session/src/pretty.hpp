#pragma once
#include <string>
#include <string_view>

#include "target/variable.hpp"
#include "text/go_quote.hpp"

namespace goscope::session {

/// Delve's api.Variable.SinglelineString(): how dlv's terminal prints a value on one line.
std::string singleline_string(const target::Variable& v);

/// Go's strconv.Quote (the %q verb) for a byte string: text/go_quote.hpp, whose default
/// style is the one Delve's prettyprint uses.
using text::go_quote;

}  // namespace goscope::session

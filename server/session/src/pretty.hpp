#pragma once
#include <string>
#include <string_view>

#include "target/variable.hpp"

namespace goscope::session {

/// Delve's api.Variable.SinglelineString(): how dlv's terminal prints a value on one line.
std::string singleline_string(const target::Variable& v);

/// Go's strconv.Quote (the %q verb) for a byte string.
std::string go_quote(std::string_view s);

}  // namespace goscope::session

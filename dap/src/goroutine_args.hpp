#pragma once
// The `goroutineFilters` launch attribute (and `dlv config goroutineFilters`): the flags of
// Delve's `goroutines` command (api.ParseGoroutineArgs), of which the thread list uses the
// filters (-with/-w, -without/-wo); the display flags (-u -r -g -s -l -t -group -exec) are
// accepted and ignored there, as by dlv.
#include <string>
#include <vector>

#include "session/api.hpp"

namespace goscope::dap {

/// Throws std::runtime_error with Delve's text ("wrong argument: '-with'") when `args`
/// does not parse.
std::vector<session::api::GoroutineFilter> parse_goroutine_filters(const std::string& args);

}  // namespace goscope::dap

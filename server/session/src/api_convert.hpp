#pragma once
// The target's run-control and value types as the session API shows them (Delve's
// service/api shapes): one place for every copy between the two. Values and load configs
// need none: both layers use server/values' types.
#include <vector>

#include "session/api.hpp"
#include "target/breakpoint.hpp"
#include "target/views.hpp"

namespace goscope::session {

api::Breakpoint to_api(const target::Breakpoint& b);
std::vector<api::Breakpoint> to_api(const std::vector<target::Breakpoint>& bs);
target::Breakpoint to_target(const api::Breakpoint& b);

api::Function to_api(const target::FunctionSummary& f);
api::Location to_api(const target::PcLocation& l);

api::Goroutine to_api(const target::GoroutineView& g);
/// By value: a frame's variables move into the reply when the caller lets them go.
api::Stackframe to_api(target::FrameView f);
/// A ListGoroutines page: the views' strings are moved, not copied.
std::vector<api::Goroutine> to_api(std::vector<target::GoroutineView>&& gs);
api::BreakpointInfo to_api(const target::BreakpointInfo& info);

}  // namespace goscope::session

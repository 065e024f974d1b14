#pragma once
// The target's run-control and value types as the session API shows them (Delve's
// service/api shapes): one place for every copy between the two.
#include <vector>

#include "session/api.hpp"
#include "target/breakpoint.hpp"
#include "target/debuggee.hpp"

namespace goscope::session {

api::Variable to_api(const target::Variable& v);
std::vector<api::Variable> to_api(const std::vector<target::Variable>& vs);
target::LoadConfig to_target(const api::LoadConfig& c);
api::LoadConfig to_api(const target::LoadConfig& c);

api::Breakpoint to_api(const target::Breakpoint& b);
std::vector<api::Breakpoint> to_api(const std::vector<target::Breakpoint>& bs);
target::Breakpoint to_target(const api::Breakpoint& b);

api::Function to_api(const target::FunctionSummary& f);
api::Location to_api(const target::PcLocation& l);

/// The conversions that name functions: their entry pc comes from the target.
api::Location to_api(const target::Location& l, const target::Debuggee& dbg);
api::Goroutine to_api(const target::Goroutine& g, const target::Debuggee& dbg);
api::Stackframe to_api(const target::Frame& f, const target::Debuggee& dbg);
api::BreakpointInfo to_api(const target::BreakpointInfo& info, const target::Debuggee& dbg);

}  // namespace goscope::session

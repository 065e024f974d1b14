#pragma once
// A real debug session for the targets that need a process (no fake results): the `values`
// fixture launched under session::Debugger and stopped at main.stop, called from
// main.inspect, whose frame (1) has locals of every kind. Exits with 77 (CTest: skipped)
// where ptrace is not allowed.
#include "session/debugger.hpp"

namespace goscope::fuzz {

session::Debugger& live_debugger();
/// main.inspect's frame on the stopped goroutine.
inline constexpr session::api::EvalScope kInspectFrame{-1, 1, 0};

}  // namespace goscope::fuzz

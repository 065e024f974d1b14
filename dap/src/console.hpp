#pragma once
// The Debug Console's `dlv <command>` escape (evaluate with an expression starting "dlv "):
// Delve 1.20.2's help, config and sources commands (service/dap/command.go), with its texts.
#include <string>

#include "session/debugger.hpp"

namespace goscope::dap {

class DapSession;

/// Runs `cmdline` (the expression without its "dlv " prefix); returns the text to show.
/// Throws std::runtime_error with Delve's text ("command not available", "\"x\" is not a
/// configuration parameter") on failure.
std::string run_console_command(DapSession& s, const std::string& cmdline);

/// Starts a function trace for this client (`dlv trace`, the launch attribute `trace`,
/// `goscope/trace`); returns what the console shows. Throws the Debugger's errors.
std::string start_function_trace(DapSession& s, const session::FunctionTraceRequest& req);

}  // namespace goscope::dap

// configurationDone: stop at entry (stopped{entry, threadId 1} before the response) or run
// (dap.md §5.1).
#include "../console.hpp"
#include "../errors.hpp"
#include "../session.hpp"
#include "handler.hpp"

namespace goscope::dap {
namespace {

std::optional<json::value> run(DapSession& s, const json::object&) {
  s.debugger();  // "debugger is nil" before launch
  s.configuration_done = true;
  if (!s.settings.trace.empty()) {
    // Beyond dlv: the launch attribute `trace`; what it traces (or why not) is said on the
    // console, and the session goes on either way.
    session::FunctionTraceRequest req;
    req.regexp = s.settings.trace;
    try {
      s.send_output("console", start_function_trace(s, req) + "\n");
    } catch (const std::exception& e) {
      s.send_output("console", "trace " + req.regexp + ": " + e.what() + "\n");
    }
  }
  if (s.settings.stop_on_entry) {
    s.send_event("stopped",
                 json::object{{"reason", "entry"}, {"threadId", 1}, {"allThreadsStopped", true}});
    s.send_output("console", "Type 'dlv help' for list of commands.\n");
    return std::nullopt;
  }
  s.send_output("console", "Type 'dlv help' for list of commands.\n");
  s.after_response([&s] {
    api::DebuggerCommand cmd;
    cmd.name = "continue";
    s.resume(cmd);
  });
  return std::nullopt;
}

}  // namespace

extern const HandlerSpec kConfigurationDoneHandler{
    "configurationDone", error_id::failed_to_launch, "Failed to launch", false, true, &run};

}  // namespace goscope::dap

// disconnect: halt if running, kill a launched debuggee (and an attached one with
// terminateDebuggee) or detach, then the response, `terminated`, and the end of the session
// (dap.md §5.5).
#include "../args.hpp"
#include "../errors.hpp"
#include "../session.hpp"
#include "../stop_reason.hpp"
#include "handler.hpp"

namespace goscope::dap {
namespace {

std::optional<json::value> run(DapSession& s, const json::object& a) {
  const bool terminate = args::get_bool(a, "terminateDebuggee");
  s.end_session();
  s.after_response([&s] { s.send_event("terminated", json::object{}); });
  if (auto* p = s.no_debug()) {
    if (!s.exited()) {
      s.send_output("console", "Terminating process " + std::to_string(p->pid()) + "\n");
      p->kill();
    }
    return std::nullopt;
  }
  if (!s.has_debugger())
    return std::nullopt;
  auto& d = s.debugger();
  if (s.running()) {
    s.halt_quietly();
    s.send_event("stopped", json::object{{"reason", "pause"}, {"allThreadsStopped", true}});
  }
  if (s.exited()) {
    try {
      d.state(false);
    } catch (const std::exception& e) {
      s.send_output("console", std::string(e.what()) + "\n");
    }
    s.send_output("console", "Detaching\n");
  } else if (s.settings.launched || terminate) {
    s.send_output("console", "Detaching and terminating target process\n");
  } else {
    s.send_output("console", "Detaching without terminating target process\n");
  }
  try {
    d.detach(s.settings.launched || terminate);
  } catch (const std::exception& e) {
    throw DapError(error_id::disconnect_error, "Error while disconnecting", e.what());
  }
  return std::nullopt;
}

}  // namespace

extern const HandlerSpec kDisconnectHandler{
    "disconnect", error_id::disconnect_error, "Error while disconnecting", false, false, &run};

}  // namespace goscope::dap

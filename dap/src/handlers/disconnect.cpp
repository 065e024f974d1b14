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
  const bool headless = s.server_debugger() != nullptr;
  if (headless && s.config().accept_multiclient && !terminate && s.has_debugger()) {
    // A multi-client server: only this client goes; the target stays exactly as it is,
    // halted or running (Delve's onDisconnectRequest). The next client, DAP or JSON-RPC,
    // finds it so.
    std::string status = "halted";
    try {
      const auto st = s.debugger().state(true);
      if (s.running() || st.running)
        status = "running";
      else if (st.exited)
        status = "exited";
    } catch (const std::exception&) {
      status = "exited";
    }
    s.send_output("console", "Closing client session, but leaving multi-client DAP server at " +
                                 s.config().address + " with debuggee " + status + "\n");
    return std::nullopt;
  }
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
  // A headless server ends with this session (Delve's triggerServerStop): without
  // --accept-multiclient the single client's leaving stops it; with it, stop it here.
  if (headless && s.config().accept_multiclient)
    s.after_response([&s] { s.transport().stop_server(); });
  return std::nullopt;
}

}  // namespace

extern const HandlerSpec kDisconnectHandler{
    "disconnect", error_id::disconnect_error, "Error while disconnecting", false, false, &run};

}  // namespace goscope::dap

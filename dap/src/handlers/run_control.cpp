// continue, next, stepIn, stepOut, pause (dap.md §3, §5.3). Steps switch to the goroutine
// given as threadId first; `granularity: instruction` makes any step one instruction.
#include "../args.hpp"
#include "../errors.hpp"
#include "../session.hpp"
#include "../variables.hpp"
#include "handler.hpp"

namespace goscope::dap {
namespace {

std::optional<json::value> do_continue(DapSession& s, const json::object&) {
  s.debugger();
  s.after_response([&s] {
    api::DebuggerCommand cmd;
    cmd.name = "continue";
    s.resume(cmd);
  });
  return json::object{{"allThreadsContinued", true}};
}

std::optional<json::value> step(DapSession& s, const json::object& a, const char* name) {
  auto& d = s.debugger();
  const auto goid = args::get_int(a, "threadId");
  const bool instruction = args::get_string(a, "granularity") == "instruction";
  s.send_event("continued", json::object{{"threadId", goid}, {"allThreadsContinued", true}});
  std::string err;
  try {
    api::DebuggerCommand sw;
    sw.name = "switchGoroutine";
    sw.goroutine_id = goid;
    d.command(sw);
  } catch (const std::exception& e) {
    err = e.what();
  }
  s.after_response([&s, name, instruction, err] {
    if (!err.empty()) {
      // dlv: the switch failed, the step is not made; reason "error".
      s.send_event("stopped",
                   json::object{{"reason", "error"}, {"text", err}, {"allThreadsStopped", true}});
      return;
    }
    api::DebuggerCommand cmd;
    cmd.name = instruction ? "stepInstruction" : name;
    // Beyond dlv: the values a function returned when a step leaves it are kept, and the
    // next Locals shows them (scopes.cpp).
    if (!instruction && (cmd.name == "stepOut" || cmd.name == "next"))
      cmd.return_info_load_config = kDapLoadConfig;
    s.resume(cmd);
  });
  return std::nullopt;
}

std::optional<json::value> next(DapSession& s, const json::object& a) {
  return step(s, a, "next");
}
std::optional<json::value> step_in(DapSession& s, const json::object& a) {
  return step(s, a, "step");
}
std::optional<json::value> step_out(DapSession& s, const json::object& a) {
  return step(s, a, "stepOut");
}

std::optional<json::value> pause(DapSession& s, const json::object&) {
  auto& d = s.debugger();
  if (s.running()) {
    s.note_pause_requested();
    d.request_halt();
  }
  return std::nullopt;
}

}  // namespace

extern const HandlerSpec kContinueHandler{
    "continue", error_id::debuggee_is_running, "Unable to continue", false, true, &do_continue};
extern const HandlerSpec kNextHandler{
    "next", error_id::debuggee_is_running, "Unable to step", false, true, &next};
extern const HandlerSpec kStepInHandler{
    "stepIn", error_id::debuggee_is_running, "Unable to step", false, true, &step_in};
extern const HandlerSpec kStepOutHandler{
    "stepOut", error_id::debuggee_is_running, "Unable to step", false, true, &step_out};
extern const HandlerSpec kPauseHandler{
    "pause", error_id::unable_to_halt_execution, "Unable to halt execution", false, false, &pause};

}  // namespace goscope::dap

// restart (Delve 1.25.1 and later; 1.20.2 answers 7777): halt, rebuild a debug/test binary
// unless `rebuild: false`, relaunch with the same (or the new `args`), keep the breakpoints,
// then `initialized` again so that the client sends its configuration and
// configurationDone. One response per request: a failure is the error response (Delve
// acknowledges first and then sends a second, error response).
#include <unistd.h>

#include "../args.hpp"
#include "../errors.hpp"
#include "../session.hpp"
#include "handler.hpp"
#include "session/go_build.hpp"

namespace goscope::dap {
namespace {

[[noreturn]] void fail(const std::string& summary, const std::string& detail) {
  throw DapError(error_id::failed_to_launch, summary, detail);
}

std::optional<json::value> run(DapSession& s, const json::object& a) {
  if (s.no_debug() != nullptr)
    fail("Cannot restart", "cannot restart in noDebug mode");
  if (!s.has_debugger())
    fail("Cannot restart: debugger is not running", "Debugger is not running");
  if (s.server_debugger() != nullptr || !s.settings.launched)
    fail("Cannot restart", "cannot restart process Delve did not create");
  auto& d = s.debugger();
  s.halt_quietly();
  std::optional<std::vector<std::string>> new_args;
  bool rebuild = true;
  // The client sends the launch configuration back as `arguments.arguments`.
  if (const auto* cfg = args::opt_object(a, "arguments")) {
    try {
      if (args::get_string(*cfg, "request") == "launch") {
        rebuild = args::get_bool(*cfg, "rebuild", true);
        if (args::opt_array(*cfg, "args") != nullptr)
          new_args = args::get_strings(*cfg, "args");
        s.settings.stop_on_entry = args::get_bool(*cfg, "stopOnEntry");
      }
    } catch (const ArgumentError&) {
      fail("Cannot restart", "unable to unmarshal launch args");
    }
  }
  if (rebuild && !s.settings.built_binary.empty()) {
    if (!session::go_build(s.settings.built_test, s.settings.program, s.settings.built_binary,
                           s.settings.build_flags)) {
      s.send_output("stderr", "Build Error: rebuilding " + s.settings.program +
                                  " failed (the compiler's messages are on the server's "
                                  "stderr)\n");
      fail("Failed to restart", "Build error: Check the debug console for details.");
    }
  }
  try {
    d.restart(new_args);
  } catch (const std::exception& e) {
    fail("Failed to restart", e.what());
  }
  s.reset_after_restart();
  s.after_response([&s] { s.send_event("initialized"); });
  return std::nullopt;
}

}  // namespace

extern const HandlerSpec kRestartHandler{
    "restart", error_id::failed_to_launch, "Cannot restart", false, false, &run};

}  // namespace goscope::dap

// The table of requests. Each handler lives in its own file; commands dlv 1.20.2 answers
// with "Not yet implemented" (7777) or "Unsupported command" (9999) are listed here.
#include <array>
#include <string>

#include "../errors.hpp"
#include "handler.hpp"

namespace goscope::dap {

extern const HandlerSpec kInitializeHandler, kLaunchHandler, kAttachHandler, kSetBreakpointsHandler,
    kSetFunctionBreakpointsHandler, kSetInstructionBreakpointsHandler,
    kSetExceptionBreakpointsHandler, kConfigurationDoneHandler, kContinueHandler, kNextHandler,
    kStepInHandler, kStepOutHandler, kPauseHandler, kThreadsHandler, kStackTraceHandler,
    kScopesHandler, kVariablesHandler, kEvaluateHandler, kSetVariableHandler, kExceptionInfoHandler,
    kDisconnectHandler, kDisassembleHandler, kDataBreakpointInfoHandler, kSetDataBreakpointsHandler,
    kRestartHandler, kGoscopeTraceHandler;

namespace {

template <int Id>
std::optional<boost::json::value> refuse(DapSession&, const boost::json::object&) {
  // The dispatcher words the detail; the summary comes from the spec below.
  throw DapError(Id, "", "");
}

#define GOSCOPE_DAP_REFUSED(name, id, summary)   \
  HandlerSpec {                                  \
    name, id, summary, false, false, &refuse<id> \
  }

const HandlerSpec kRefused[] = {
    GOSCOPE_DAP_REFUSED("terminate", error_id::not_yet_implemented, "Not yet implemented"),
    GOSCOPE_DAP_REFUSED("setExpression", error_id::not_yet_implemented, "Not yet implemented"),
    GOSCOPE_DAP_REFUSED("loadedSources", error_id::not_yet_implemented, "Not yet implemented"),
    GOSCOPE_DAP_REFUSED("readMemory", error_id::not_yet_implemented, "Not yet implemented"),
    GOSCOPE_DAP_REFUSED("cancel", error_id::not_yet_implemented, "Not yet implemented"),
    GOSCOPE_DAP_REFUSED("stepBack", error_id::not_yet_implemented, "Not yet implemented"),
    GOSCOPE_DAP_REFUSED("reverseContinue", error_id::not_yet_implemented, "Not yet implemented"),
    GOSCOPE_DAP_REFUSED("source", error_id::unsupported_command, "Unsupported command"),
    GOSCOPE_DAP_REFUSED("modules", error_id::unsupported_command, "Unsupported command"),
    GOSCOPE_DAP_REFUSED("completions", error_id::unsupported_command, "Unsupported command"),
    GOSCOPE_DAP_REFUSED("goto", error_id::unsupported_command, "Unsupported command"),
    GOSCOPE_DAP_REFUSED("gotoTargets", error_id::unsupported_command, "Unsupported command"),
    GOSCOPE_DAP_REFUSED("restartFrame", error_id::unsupported_command, "Unsupported command"),
    GOSCOPE_DAP_REFUSED("stepInTargets", error_id::unsupported_command, "Unsupported command"),
    GOSCOPE_DAP_REFUSED("terminateThreads", error_id::unsupported_command, "Unsupported command"),
    GOSCOPE_DAP_REFUSED("breakpointLocations", error_id::unsupported_command,
                        "Unsupported command"),
    GOSCOPE_DAP_REFUSED("writeMemory", error_id::unsupported_command, "Unsupported command"),
};

#undef GOSCOPE_DAP_REFUSED

}  // namespace

const HandlerSpec* find_handler(std::string_view command) {
  static const std::array<const HandlerSpec*, 26> handlers = {
      &kInitializeHandler,
      &kLaunchHandler,
      &kAttachHandler,
      &kSetBreakpointsHandler,
      &kSetFunctionBreakpointsHandler,
      &kSetInstructionBreakpointsHandler,
      &kSetExceptionBreakpointsHandler,
      &kConfigurationDoneHandler,
      &kContinueHandler,
      &kNextHandler,
      &kStepInHandler,
      &kStepOutHandler,
      &kPauseHandler,
      &kThreadsHandler,
      &kStackTraceHandler,
      &kScopesHandler,
      &kVariablesHandler,
      &kEvaluateHandler,
      &kSetVariableHandler,
      &kExceptionInfoHandler,
      &kDisconnectHandler,
      &kDisassembleHandler,
      &kDataBreakpointInfoHandler,
      &kSetDataBreakpointsHandler,
      &kRestartHandler,
      &kGoscopeTraceHandler,
  };
  for (const auto* h : handlers) {
    if (h->command == command)
      return h;
  }
  for (const auto& h : kRefused) {
    if (h.command == command)
      return &h;
  }
  return nullptr;
}

}  // namespace goscope::dap

// initialize: validates the client's path and line conventions and answers dlv 1.20.2's
// capabilities exactly (dap.md §2).
#include "../args.hpp"
#include "../errors.hpp"
#include "../session.hpp"
#include "handler.hpp"

namespace goscope::dap {
namespace {

std::optional<json::value> run(DapSession& s, const json::object& a) {
  const auto path_format = args::get_string(a, "pathFormat", "path");
  if (path_format != "path")
    throw std::runtime_error("Unsupported 'pathFormat' value '" + path_format + "'.");
  if (!args::get_bool(a, "linesStartAt1", true))
    throw std::runtime_error("Only 1-based line numbers are supported.");
  if (!args::get_bool(a, "columnsStartAt1", true))
    throw std::runtime_error("Only 1-based column numbers are supported.");
  s.client.supports_variable_type = args::get_bool(a, "supportsVariableType");
  s.client.supports_variable_paging = args::get_bool(a, "supportsVariablePaging");
  s.initialized = true;
  json::object caps{
      {"supportsConfigurationDoneRequest", true},
      {"supportsFunctionBreakpoints", true},
      {"supportsConditionalBreakpoints", true},
      {"supportsEvaluateForHovers", true},
      {"supportsSetVariable", true},
      {"supportsExceptionInfoRequest", true},
      {"supportsDelayedStackTraceLoading", true},
      {"supportsLogPoints", true},
      {"supportsDisassembleRequest", true},
      {"supportsClipboardContext", true},
      {"supportsSteppingGranularity", true},
      {"supportsInstructionBreakpoints", true},
  };
  // Beyond dlv 1.20.2 (Delve has them since 1.26.2): data breakpoints on the hardware
  // watchpoints, advertised only where the debug registers do fire (some hypervisors accept
  // them and never trap).
  // restart as Delve 1.25.1 does it (1.20.2 answers 7777 and does not advertise it).
  caps["supportsRestartRequest"] = true;
  // Beyond dlv: the goscope/trace request and `dlv trace` in the console.
  caps["supportsGoFunctionTracing"] = true;
  if (session::Debugger::hardware_watchpoints_available())
    caps["supportsDataBreakpoints"] = true;
  return caps;
}

}  // namespace

extern const HandlerSpec kInitializeHandler{
    "initialize", error_id::failed_to_initialize, "Failed to initialize", false, false, &run};

}  // namespace goscope::dap

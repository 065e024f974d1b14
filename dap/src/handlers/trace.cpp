// goscope/trace (beyond dlv, advertised by supportsGoFunctionTracing): the console's
// `dlv trace` / `dlv untrace` for scripted clients. Arguments: `regexp` (Go syntax), `stack`
// (frames per line), `json` (a file for the Chrome trace-event JSON, written when the trace
// ends) and `stop` (untrace the functions matching `regexp`, every one when it is empty).
// The hits arrive as `output` events, as from the console. Served while the target runs
// (halt, apply, resume, as setBreakpoints). Every response tells how the hits were served:
// `nonstopHits` held only the hitting thread, `processStops` stopped the whole program.
#include "../args.hpp"
#include "../console.hpp"
#include "../errors.hpp"
#include "../session.hpp"
#include "handler.hpp"

namespace goscope::dap {
namespace {

std::optional<json::value> trace(DapSession& s, const json::object& a) {
  auto& d = s.debugger();
  const auto regexp = args::get_string(a, "regexp");
  const bool stop = args::get_bool(a, "stop");
  const auto stack = args::get_int(a, "stack");
  const auto json_path = args::get_string(a, "json");
  if (stack < 0 || stack > 1000)
    throw ArgumentError("'stack' must be between 0 and 1000");
  QuietHalt halt(s);
  json::object out;
  if (stop) {
    json::array gone;
    for (const auto& f : d.untrace_functions(regexp)) gone.emplace_back(f);
    out["untraced"] = std::move(gone);
  } else if (!regexp.empty()) {
    session::FunctionTraceRequest req;
    req.regexp = regexp;
    req.stack_depth = static_cast<int>(stack);
    req.json_path = json_path;
    s.watch_trace_events();
    const auto t = d.trace_functions(req);
    s.note_trace(t.id);
    json::array skipped;
    for (const auto& [f, why] : t.skipped)
      skipped.push_back(json::object{{"function", f}, {"reason", why}});
    out["id"] = t.id;
    out["skipped"] = std::move(skipped);
  }
  json::array traced;
  for (const auto& f : d.traced_functions()) traced.emplace_back(f);
  out["functions"] = std::move(traced);
  const auto st = d.run_stats();
  out["nonstopHits"] = st.nonstop_hits;
  out["processStops"] = st.process_stops;
  return out;
}

}  // namespace

extern const HandlerSpec kGoscopeTraceHandler{
    "goscope/trace", error_id::unable_to_run_dlv_command, "Unable to trace", false, false, &trace};

}  // namespace goscope::dap

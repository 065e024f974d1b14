// exceptionInfo: the panic or fatal throw the goroutine stopped at, with its stack as dlv
// prints it (dap.md §11).
#include <cstdio>

#include "../args.hpp"
#include "../errors.hpp"
#include "../session.hpp"
#include "../stop_reason.hpp"
#include "handler.hpp"

namespace goscope::dap {
namespace {

std::string stack_text(DapSession& s, std::int64_t goid) {
  auto& d = s.debugger();
  const auto frames = d.stacktrace(goid, s.settings.stack_trace_depth, false, std::nullopt);
  bool system = false;
  int next = 0;
  for (const auto& g : d.goroutines(0, 1 << 20, &next)) {
    if (g.id == goid && g.user_current_loc.function)
      system = g.user_current_loc.function->name.rfind("runtime.", 0) == 0;
  }
  // api.PrintStack with "\t" indentation, runtime frames skipped for user goroutines.
  const auto digits = std::to_string(frames.empty() ? 0 : frames.size() - 1).size();
  std::string out = "Stack:\n";
  for (std::size_t i = 0; i < frames.size(); ++i) {
    const auto& loc = frames[i].location;
    const std::string fn = loc.function ? loc.function->name : "";
    if (!system && (fn.empty() || fn.rfind("runtime.", 0) == 0))
      continue;
    char line[128];
    std::snprintf(line, sizeof line, "\t%*zu  0x%016llx in ", static_cast<int>(digits), i,
                  static_cast<unsigned long long>(loc.pc));
    out += line;
    out += fn + "\n\t" + std::string(digits + 2 + 1, ' ') + "at " + s.to_client_path(loc.file) +
           ":" + std::to_string(loc.line) + "\n";
  }
  return out;
}

std::optional<json::value> run(DapSession& s, const json::object& a) {
  const auto goid = args::get_int(a, "threadId");
  s.debugger();
  const auto& st = s.last_stop();
  const api::Breakpoint* bp = nullptr;
  if (st && st->current_thread && st->current_thread->breakpoint &&
      st->current_thread->goroutine_id == goid)
    bp = &*st->current_thread->breakpoint;
  if (st && bp == nullptr && st->threads) {
    for (const auto& t : *st->threads) {
      if (t.goroutine_id == goid && t.breakpoint)
        bp = &*t.breakpoint;
    }
  }
  if (bp == nullptr || (bp->id != -1 && bp->id != -2))
    throw std::runtime_error("no runtime error found");
  std::string description;
  try {
    description = exception_text(s, goid, bp->id);
  } catch (const std::exception& e) {
    description = std::string("Error getting ") + (bp->id == -1 ? "panic" : "throw") +
                  " message: " + e.what();
  }
  json::object body{{"exceptionId", bp->id == -1 ? "panic" : "fatal error"},
                    {"description", description},
                    // dlv 1.20.2 sends ""; the spec's enum value for an unrecovered panic.
                    {"breakMode", "unhandled"}};
  try {
    body["details"] = json::object{{"stackTrace", stack_text(s, goid)}};
  } catch (const std::exception&) {
  }
  return body;
}

}  // namespace

extern const HandlerSpec kExceptionInfoHandler{"exceptionInfo",
                                               error_id::unable_to_get_exception_info,
                                               "Unable to get exception info",
                                               false,
                                               true,
                                               &run};

}  // namespace goscope::dap

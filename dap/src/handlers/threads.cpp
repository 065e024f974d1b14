// threads: goroutines as DAP threads, named as dlv 1.20.2 names them (dap.md §6): the first
// 1024 goroutines, then goroutineFilters and hideSystemGoroutines applied to them. Reading
// them never unwinds every goroutine's stack: one page is read and converted. When the list
// is capped the selected goroutine is added (as dlv), and, beyond dlv, every goroutine
// stopped at a breakpoint, so that no reported stop names a thread the client cannot see.
#include <algorithm>

#include "../errors.hpp"
#include "../goroutine_args.hpp"
#include "../session.hpp"
#include "handler.hpp"

namespace goscope::dap {
namespace {

// dlv lists at most this many goroutines (maxGoroutines).
constexpr int kMaxGoroutines = 1024;

json::array dummy() {
  return json::array{json::object{{"id", 1}, {"name", "Dummy"}}};
}

std::optional<json::value> run(DapSession& s, const json::object&) {
  if (!s.has_debugger() || s.exited())
    return json::object{{"threads", dummy()}};
  if (s.running())
    return json::object{{"threads", json::array{json::object{{"id", -1}, {"name", "Current"}}}}};
  auto& d = s.debugger();
  std::vector<api::GoroutineFilter> filters;
  try {
    filters = parse_goroutine_filters(s.settings.goroutine_filters);
  } catch (const std::exception& e) {
    s.send_output("console", std::string(e.what()) + "\n");
  }
  if (s.settings.hide_system_goroutines)
    filters.push_back(api::GoroutineFilter{api::kGoroutineUser, "", false});
  api::GoroutineList list;
  try {
    list = d.goroutines(0, kMaxGoroutines, filters, {});
  } catch (const std::exception& e) {
    s.send_output("stderr", std::string("Unable to retrieve goroutines: ") + e.what() + "\n");
    return json::object{{"threads", dummy()}};
  }
  auto& gs = list.goroutines;
  if (gs.empty())
    return json::object{{"threads", dummy()}};
  std::optional<api::DebuggerState> st;
  try {
    st = d.state(true);
  } catch (const std::exception&) {
  }
  std::int64_t selected = 0;
  if (st && st->selected_goroutine)
    selected = st->selected_goroutine->id;
  if (list.nextg >= 0) {
    s.send_output("console",
                  "Too many goroutines, only loaded " + std::to_string(gs.size()) + "\n");
    const auto listed = [&](std::int64_t id) {
      return std::any_of(gs.begin(), gs.end(), [&](const api::Goroutine& g) { return g.id == id; });
    };
    if (selected != 0 && !listed(selected))
      gs.push_back(*st->selected_goroutine);
    if (st && st->threads) {
      for (const auto& t : *st->threads) {
        if (!t.breakpoint || t.goroutine_id == 0 || listed(t.goroutine_id))
          continue;
        try {
          if (auto g = d.goroutine(t.goroutine_id))
            gs.push_back(std::move(*g));
        } catch (const std::exception&) {
        }
      }
    }
  }
  json::array out;
  for (const auto& g : gs) {
    std::string name;
    if (!g.unreadable.empty()) {
      name = "Unreadable goroutine: " + g.unreadable;
    } else {
      if (g.id == selected)
        name = "* ";
      name += "[Go " + std::to_string(g.id) + "] ";
      const auto& loc = g.user_current_loc;
      name += loc.function ? loc.function->name : "???";
      if (g.thread_id != 0)
        name += " (Thread " + std::to_string(g.thread_id) + ")";
    }
    s.note_system_goroutine(g);
    out.push_back(json::object{{"id", g.id}, {"name", name}});
  }
  return json::object{{"threads", std::move(out)}};
}

}  // namespace

extern const HandlerSpec kThreadsHandler{
    "threads", error_id::internal_error, "Internal Error", false, false, &run};

}  // namespace goscope::dap

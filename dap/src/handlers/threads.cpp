// threads: goroutines as DAP threads, named as dlv 1.20.2 names them (dap.md §6).
#include "../errors.hpp"
#include "../session.hpp"
#include "handler.hpp"

namespace goscope::dap {
namespace {

// dlv lists at most this many goroutines.
constexpr int kMaxGoroutines = 1024;

bool is_system(const api::Goroutine& g) {
  if (!g.start_loc.function)
    return false;
  const auto& fn = g.start_loc.function->name;
  if (fn == "runtime.main" || fn == "runtime.handleAsyncEvent")
    return false;
  return fn.rfind("runtime.", 0) == 0;
}

std::optional<json::value> run(DapSession& s, const json::object&) {
  if (!s.has_debugger() || s.exited())
    return json::object{{"threads", json::array{json::object{{"id", 1}, {"name", "Dummy"}}}}};
  if (s.running())
    return json::object{{"threads", json::array{json::object{{"id", -1}, {"name", "Current"}}}}};
  auto& d = s.debugger();
  std::vector<api::Goroutine> gs;
  std::int64_t selected = 0;
  try {
    int next = 0;
    gs = d.goroutines(0, kMaxGoroutines, &next);
    if (next > 0)
      s.send_output("console",
                    "Too many goroutines, only loaded " + std::to_string(kMaxGoroutines) + "\n");
    const auto st = d.state(true);
    if (st.selected_goroutine)
      selected = st.selected_goroutine->id;
    else if (st.current_thread)
      selected = st.current_thread->goroutine_id;
  } catch (const std::exception& e) {
    s.send_output("stderr", std::string("Unable to retrieve goroutines: ") + e.what() + "\n");
    return json::object{{"threads", json::array{json::object{{"id", 1}, {"name", "Dummy"}}}}};
  }
  json::array out;
  for (const auto& g : gs) {
    if (s.settings.hide_system_goroutines && is_system(g) && g.id != selected)
      continue;
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
    out.push_back(json::object{{"id", g.id}, {"name", name}});
  }
  if (out.empty())
    out.push_back(json::object{{"id", 1}, {"name", "Dummy"}});
  return json::object{{"threads", std::move(out)}};
}

}  // namespace

extern const HandlerSpec kThreadsHandler{
    "threads", error_id::internal_error, "Internal Error", false, false, &run};

}  // namespace goscope::dap

// Beyond Delve: breakpoints that never stop the process (DAP logpoints) and `dlv trace`
// inside a debug session (the editor's function traces). Both are nonstop breakpoints of
// the session's BreakpointTable: the run loop holds only the hitting thread while it reads
// what they ask for (RunObserver::nonstop_hit) and the other threads run on. A function
// trace's hits go through the same TraceOutput as `goscope trace`, so the text (dlv
// trace's) and the Chrome trace JSON are those of the command line.
#include <set>

#include "debugger_impl.hpp"
#include "target/go_regexp.hpp"

namespace goscope::session {
namespace {

target::GoRegexp make_regexp(const std::string& re) {
  try {
    return target::GoRegexp(re);
  } catch (const target::RegexpError& e) {
    throw DebuggerError(ErrorKind::invalid, "invalid regexp: " + std::string(e.what()));
  }
}

}  // namespace

void Debugger::Impl::on_nonstop_hit(pid_t tid, const target::Breakpoint& bp,
                                    target::ThreadStop&& ts) {
  if (!hub->wanted() && trace_group_of_bp.empty())
    return;
  TraceEvent ev;
  ev.nonstop = true;
  auto& t = ev.thread;
  t.id = tid;
  const auto pc = dbg->pc_of(tid);
  const auto& loc = location(pc);
  t.pc = loc.pc;
  t.file = loc.file;
  t.line = loc.line;
  t.function = loc.function;
  t.goroutine_id = dbg->goid_of(tid);
  t.breakpoint = to_api(target::shown(bp));
  if (ts.info)
    t.breakpoint_info = to_api(*ts.info);
  if (ts.return_values)
    t.return_values = *ts.return_values;  // a copy: the trace event below reads them too

  if (auto g = trace_group_of_bp.find(bp.id); g != trace_group_of_bp.end()) {
    auto grp = trace_groups.find(g->second);
    if (grp != trace_groups.end()) {
      // The event `goscope trace`'s engines would have produced for this hit.
      target::TraceEvent te;
      te.kind = bp.trace_return ? target::TraceEvent::Kind::ret : target::TraceEvent::Kind::call;
      te.goid = t.goroutine_id;
      te.tid = tid;
      te.function = dbg->find_function(bp.function_name);
      te.deferreturn = grp->second.deferreturn_sites.contains(bp.id);
      te.pc = pc;
      te.time_ns = te.hit_ns = target::trace_clock_ns();
      if (te.kind == target::TraceEvent::Kind::call) {
        if (ts.info) {
          for (auto& v : ts.info->arguments) {
            if (!(v.flags & target::kFlagReturnArgument))
              te.values.push_back(v);
          }
        }
      } else if (ts.return_values) {
        te.values = *ts.return_values;
      }
      if (ts.info && bp.stacktrace > 0) {
        for (const auto& f : ts.info->stacktrace) {
          te.stack.push_back({f.location.pc, f.location.function ? f.location.function->name : "",
                              f.location.file, static_cast<std::uint32_t>(f.location.line)});
        }
        te.stack_complete = ts.info->stacktrace.size() <= static_cast<std::size_t>(bp.stacktrace) ||
                            (!ts.info->stacktrace.empty() && ts.info->stacktrace.back().bottom);
      }
      if (te.function != nullptr) {
        trace_text.clear();
        grp->second.out->on_event(te);
        grp->second.out->flush();
        ev.trace_id = g->second;
        ev.is_return = bp.trace_return;
        ev.text = std::move(trace_text);
        ev.values = te.values;
      }
    }
  }
  if (hub->wanted())
    hub->emit(ev);
}

FunctionTrace Debugger::Impl::trace_functions(const FunctionTraceRequest& req) {
  require_live();
  if (req.stack_depth < 0)
    throw DebuggerError(ErrorKind::invalid, "the stack depth must not be negative");
  const auto re = make_regexp(req.regexp);
  std::set<std::string> names;
  for (auto& n : inspector->function_names()) {
    if (re.match(n))
      names.insert(std::move(n));
  }
  if (names.empty())
    throw DebuggerError(ErrorKind::not_found, "no function matches " + req.regexp);
  FunctionTrace out;
  out.id = next_trace_id++;
  TraceGroup grp;
  TraceOutputOptions opts;
  opts.json_path = req.json_path;
  grp.out = std::make_unique<TraceOutput>(
      opts,
      [this](std::uint64_t pc) -> std::optional<target::SourceLine> {
        if (!dbg)
          return std::nullopt;
        const auto l = dbg->location(pc);
        if (l.file.empty())
          return std::nullopt;
        return target::SourceLine{l.file, static_cast<std::uint32_t>(l.line)};
      },
      [this](const std::string& text) { trace_text += text; });
  std::set<std::string> traced;
  for (const auto& [g, group] : trace_groups) {
    for (const auto& [fn, ids] : group.bps_of) traced.insert(fn);
  }
  for (const auto& fn : names) {
    if (traced.contains(fn)) {
      out.skipped.emplace_back(fn, "already traced");
      continue;
    }
    const auto* f = dbg->find_function(fn);
    if (f == nullptr) {
      out.skipped.emplace_back(fn, "not found");
      continue;
    }
    std::vector<int> ids;
    // As dlv trace: a tracepoint at the entry that loads the arguments, and one at every
    // return site that loads the results.
    target::Breakpoint entry;
    entry.function_name = fn;
    entry.tracepoint = true;
    entry.line = -1;
    entry.stacktrace = req.stack_depth;
    entry.load_args = target::kShortLoadConfig;
    try {
      ids.push_back(bps->create(entry, fn).id);
      for (const auto& [addr, deferreturn] : inspector->return_sites(fn)) {
        target::Breakpoint ret;
        ret.addr = addr;
        ret.tracepoint = true;
        ret.trace_return = true;
        ret.line = -1;
        ret.stacktrace = req.stack_depth;
        ret.load_args = target::kShortLoadConfig;
        ids.push_back(bps->create(ret, "").id);
        if (deferreturn)
          grp.deferreturn_sites.insert(ids.back());
      }
    } catch (const std::exception& e) {
      for (int id : ids) run->clear_breakpoint(id, "");
      out.skipped.emplace_back(fn, e.what());
      continue;
    }
    for (int id : ids) {
      bps->set_nonstop(id, true, std::nullopt);
      trace_group_of_bp[id] = out.id;
    }
    grp.bps_of.emplace(fn, std::move(ids));
    out.functions.push_back(fn);
  }
  if (out.functions.empty())
    return out;
  trace_groups.emplace(out.id, std::move(grp));
  return out;
}

std::vector<std::string> Debugger::Impl::untrace(const std::string& regexp) {
  const auto re = make_regexp(regexp);
  std::vector<std::string> out;
  std::vector<int> ended;
  for (auto& [id, grp] : trace_groups) {
    for (auto it = grp.bps_of.begin(); it != grp.bps_of.end();) {
      if (!regexp.empty() && !re.match(it->first)) {
        ++it;
        continue;
      }
      for (int bp : it->second) {
        trace_group_of_bp.erase(bp);
        if (bps && !released && bps->find(bp) != nullptr) {
          try {
            run->clear_breakpoint(bp, "");
          } catch (const std::exception&) {
            // Cleared by a client meanwhile.
          }
        }
      }
      out.push_back(it->first);
      it = grp.bps_of.erase(it);
    }
    if (grp.bps_of.empty())
      ended.push_back(id);
  }
  for (int id : ended) end_trace(id);
  return out;
}

void Debugger::Impl::end_trace(int id) {
  auto it = trace_groups.find(id);
  if (it == trace_groups.end())
    return;
  for (const auto& [fn, ids] : it->second.bps_of) {
    for (int bp : ids) trace_group_of_bp.erase(bp);
  }
  const auto now = target::trace_clock_ns();
  it->second.out->finish(now, 0);
  trace_groups.erase(it);
}

void Debugger::Impl::end_traces() {
  while (!trace_groups.empty()) end_trace(trace_groups.begin()->first);
}

// ------------------------------------------------------------------- the API

void Debugger::set_breakpoint_nonstop(int id, bool on, const api::LoadConfig& variables_cfg) {
  impl_->call([&] { impl_->bps->set_nonstop(id, on, variables_cfg); });
}

FunctionTrace Debugger::trace_functions(const FunctionTraceRequest& req) {
  return impl_->call([&] { return impl_->trace_functions(req); });
}

std::vector<std::string> Debugger::untrace_functions(const std::string& regexp) {
  return impl_->call([&] { return impl_->untrace(regexp); });
}

std::vector<std::string> Debugger::traced_functions() {
  return impl_->call([&] {
    std::vector<std::string> out;
    for (const auto& [id, grp] : impl_->trace_groups) {
      for (const auto& [fn, ids] : grp.bps_of) out.push_back(fn);
    }
    return out;
  });
}

RunStats Debugger::run_stats() {
  return impl_->call([&] {
    RunStats out;
    if (impl_->run) {
      const auto s = impl_->run->stats();
      out.nonstop_hits = s.nonstop_hits;
      out.process_stops = s.process_stops;
    }
    return out;
  });
}

}  // namespace goscope::session

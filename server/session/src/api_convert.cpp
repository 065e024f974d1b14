// The target's types as the session API shows them.
#include "api_convert.hpp"

#include <utility>

namespace goscope::session {

namespace {

// The fields both shapes share, copied one way or the other.
template <class To, class From>
void copy_breakpoint(To& out, const From& b) {
  out.id = b.id;
  out.name = b.name;
  out.addr = b.addr;
  out.addrs = b.addrs;
  out.addrpid = b.addrpid;
  out.file = b.file;
  out.line = b.line;
  out.function_name = b.function_name;
  out.cond = b.cond;
  out.hit_cond = b.hit_cond;
  out.hit_cond_per_g = b.hit_cond_per_g;
  out.tracepoint = b.tracepoint;
  out.trace_return = b.trace_return;
  out.goroutine = b.goroutine;
  out.stacktrace = b.stacktrace;
  out.variables = b.variables;
  out.load_args = b.load_args;
  out.load_locals = b.load_locals;
  out.watch_expr = b.watch_expr;
  out.watch_type = b.watch_type;
  out.verbose_descr = b.verbose_descr;
  out.hit_count = b.hit_count;
  out.no_logical = b.no_logical;
  out.total_hit_count = b.total_hit_count;
  out.disabled = b.disabled;
}

}  // namespace

api::Breakpoint to_api(const target::Breakpoint& b) {
  api::Breakpoint out;
  copy_breakpoint(out, b);
  return out;
}

std::vector<api::Breakpoint> to_api(const std::vector<target::Breakpoint>& bs) {
  std::vector<api::Breakpoint> out;
  out.reserve(bs.size());
  for (const auto& b : bs) out.push_back(to_api(b));
  return out;
}

target::Breakpoint to_target(const api::Breakpoint& b) {
  target::Breakpoint out;
  copy_breakpoint(out, b);
  return out;
}

api::Function to_api(const target::FunctionSummary& f) {
  return {f.name, f.entry, f.optimized};
}

namespace {

// One body for a copy (const&) and a move (&&): `std::forward<L>(l).file` is an rvalue when
// `l` is, so a ListGoroutines page's 40,000 strings move instead of being copied.
template <class L>
api::Location location_to_api(L&& l) {
  api::Location out;
  out.pc = l.pc;
  out.file = std::forward<L>(l).file;
  out.line = l.line;
  if (l.function) {
    out.function = api::Function{(*std::forward<L>(l).function).name, l.function->entry,
                                 l.function->optimized};
  }
  return out;
}

template <class G>
api::Goroutine goroutine_to_api(G&& g) {
  api::Goroutine out;
  out.id = g.id;
  out.current_loc = location_to_api(std::forward<G>(g).current);
  out.user_current_loc = location_to_api(std::forward<G>(g).user_current);
  out.go_statement_loc = location_to_api(std::forward<G>(g).go_statement);
  out.start_loc = location_to_api(std::forward<G>(g).start);
  out.thread_id = g.thread_id;
  out.status = g.status;
  out.wait_since = g.wait_since;
  out.wait_reason = g.wait_reason;
  out.labels = std::forward<G>(g).labels;
  return out;
}

}  // namespace

api::Location to_api(const target::PcLocation& l) {
  return location_to_api(l);
}

api::Goroutine to_api(const target::GoroutineView& g) {
  return goroutine_to_api(g);
}

std::vector<api::Goroutine> to_api(std::vector<target::GoroutineView>&& gs) {
  std::vector<api::Goroutine> out;
  out.reserve(gs.size());
  for (auto& g : gs) out.push_back(goroutine_to_api(std::move(g)));
  return out;
}

api::Stackframe to_api(target::FrameView f) {
  api::Stackframe out;
  out.location = to_api(f.location);
  for (const auto& d : f.defers)
    out.defers.push_back({to_api(d.deferred), to_api(d.defer), d.sp, d.unreadable});
  out.arguments = std::move(f.arguments);
  out.locals = std::move(f.locals);
  out.vars_loaded = f.vars_loaded;
  out.frame_offset = f.frame_offset;
  out.frame_pointer_offset = f.frame_pointer_offset;
  out.bottom = f.bottom;
  out.err = std::move(f.err);
  return out;
}

api::BreakpointInfo to_api(const target::BreakpointInfo& info) {
  api::BreakpointInfo out;
  for (const auto& f : info.stacktrace) out.stacktrace.push_back(to_api(f));
  if (info.goroutine)
    out.goroutine = to_api(*info.goroutine);
  out.variables = info.variables;
  out.arguments = info.arguments;
  out.locals = info.locals;
  return out;
}

}  // namespace goscope::session

// Nonstop hits as DAP output events (beyond dlv): a logpoint's line, and a function trace's
// call or return in `dlv trace`'s text with its values behind a variablesReference. The
// Debugger reports them on its tracer thread while the target runs; they are queued for
// the session thread (which formats values and owns the handles), at most kMaxQueued at a
// time: beyond that the hits are counted and said to be dropped, so that a client that does
// not keep up costs memory no more than that.
#include <limits>

#include "session.hpp"
#include "stop_reason.hpp"
#include "variables.hpp"

namespace goscope::dap {
namespace {

constexpr std::size_t kMaxQueued = 4096;

}  // namespace

void DapSession::watch_trace_events() {
  if (trace_watching_ || dbg_ == nullptr)
    return;
  trace_watching_ = true;
  trace_sub_ = dbg_->subscribe([w = weak_from_this(), queued = queued_traces_,
                                dropped = dropped_traces_](const session::Event& ev) {
    // The Debugger's tracer thread: hand the hit over, never wait.
    const auto* t = std::get_if<session::TraceEvent>(&ev);
    if (t == nullptr || !t->nonstop)
      return;
    const auto self = w.lock();
    if (!self)
      return;
    if (queued->load() >= kMaxQueued) {
      dropped->fetch_add(1);
      return;
    }
    queued->fetch_add(1);
    self->post_task([w, ev = *t, queued] {
      queued->fetch_sub(1);
      const auto s = w.lock();
      if (!s)
        return;
      try {
        s->handle_trace_event(ev);
      } catch (const std::exception&) {
        // The client is gone (the write failed): nothing to tell it.
      }
    });
  });
}

void DapSession::handle_trace_event(const session::TraceEvent& ev) {
  if (const auto n = dropped_traces_->exchange(0); n > 0) {
    send_output("console", "goscope: " + std::to_string(n) +
                               " logpoint or trace hits were not shown (the client reads "
                               "output more slowly than they come)\n");
  }
  if (ev.trace_id == 0) {
    emit_nonstop_logpoint(*this, ev);
    return;
  }
  if (!traces_.contains(ev.trace_id) || ev.text.empty())
    return;
  json::object body{{"category", "stdout"}, {"output", ev.text}};
  if (!ev.values.empty()) {
    // The arguments of a call or the results of a return, expandable in the console.
    VarRef ref;
    ref.var.name = ev.is_return ? "results" : "arguments";
    ref.var.kind = kind::Struct;
    ref.var.children = ev.values;
    ref.goid = ev.thread.goroutine_id;
    ref.frame = 0;
    body["variablesReference"] = new_trace_ref(std::move(ref));
  }
  send_event("output", std::move(body));
}

int DapSession::new_trace_ref(VarRef ref) {
  if (trace_vars_first_ + static_cast<std::int64_t>(trace_vars_.size()) >=
      std::numeric_limits<int>::max() - kFirstTraceHandle) {
    // Numbers run out after a billion hits: start again (the old ones are long forgotten).
    trace_vars_first_ = 0;
    trace_vars_.clear();
  }
  trace_vars_.push_back(std::move(ref));
  if (trace_vars_.size() > kMaxTraceRefs) {
    trace_vars_.pop_front();
    ++trace_vars_first_;
  }
  return static_cast<int>(kFirstTraceHandle + trace_vars_first_ +
                          static_cast<std::int64_t>(trace_vars_.size()) - 1);
}

}  // namespace goscope::dap

// The session's buffered tracepoints (Delve's eBPF tracepoints) on the non-stop ptrace
// engine, hooked into the session's run control.
#include "target/buffered_trace.hpp"

#include <cstdio>
#include <unordered_map>
#include <utility>

#include "proc/error.hpp"
#include "proc/process.hpp"
#include "target/binary_info.hpp"
#include "target/breakpoint.hpp"
#include "target/debuggee.hpp"
#include "target/run_control.hpp"
#include "target/tracer.hpp"

namespace goscope::target {

bool TraceResultBuffer::push(BufferedTraceResult&& r) {
  std::lock_guard lk(mu_);
  if (results_.size() >= capacity_) {
    ++dropped_since_take_;
    ++dropped_total_;
    return false;
  }
  results_.push_back(std::move(r));
  ++recorded_total_;
  return true;
}

TraceResultBuffer::Taken TraceResultBuffer::take() {
  std::lock_guard lk(mu_);
  Taken t;
  t.results.swap(results_);
  t.dropped = std::exchange(dropped_since_take_, 0);
  return t;
}

std::uint64_t TraceResultBuffer::recorded_total() const {
  std::lock_guard lk(mu_);
  return recorded_total_;
}

std::uint64_t TraceResultBuffer::dropped_total() const {
  std::lock_guard lk(mu_);
  return dropped_total_;
}

struct BufferedTracer::Impl {
  Debuggee& dbg;
  RunControl& run;
  std::shared_ptr<TraceResultBuffer> out;
  /// The values as Delve's GetBufferedTracepoints loads them by default (its ShortLoadConfig:
  /// strings of 64 bytes, 3 struct fields, no pointers followed).
  Tracer tracer{dbg.process(), dbg.binary(), TraceOptions{kShortLoadConfig, 0, false}};
  std::unordered_map<const dwarf::Function*, PcLocation> entry_lines;
  std::size_t functions = 0;
  bool warned_full = false;

  Impl(Debuggee& d, RunControl& r, std::shared_ptr<TraceResultBuffer> o)
      : dbg(d), run(r), out(std::move(o)) {}

  /// RunControl's trace hook: true when the trap at `ev` is one of ours (recorded).
  bool on_event(const proc::StopEvent& ev) {
    if (ev.kind != proc::StopEvent::Kind::breakpoint || !tracer.has_trap(ev.pc))
      return false;
    std::optional<TraceEvent> hit;
    try {
      hit = tracer.trap_event(ev.tid, ev.pc);
    } catch (const proc::Error&) {
      // The thread is gone (the process is ending): nothing to record, still our trap.
      return true;
    }
    if (hit)
      record(std::move(*hit));
    return true;
  }

  void record(TraceEvent&& ev) {
    BufferedTraceResult r;
    r.is_ret = ev.kind == TraceEvent::Kind::ret;
    r.function = ev.name();
    r.goroutine_id = ev.goid;
    if (ev.function != nullptr) {
      const auto& at = entry_line(*ev.function);
      r.file = at.file;
      r.line = at.line;
    }
    if (r.is_ret)
      r.return_params = std::move(ev.values);
    else
      r.input_params = std::move(ev.values);
    if (!out->push(std::move(r)) && !warned_full) {
      // Said once per session on the server's stderr; every drop is counted and each
      // GetBufferedTracepoints reply carries the count of those since the previous one.
      warned_full = true;
      std::fprintf(stderr,
                   "goscope: buffered tracepoints: %zu results wait for a client; further "
                   "results are dropped (and counted) until GetBufferedTracepoints takes them\n",
                   out->capacity());
    }
  }

  const PcLocation& entry_line(const dwarf::Function& fn) {
    auto it = entry_lines.find(&fn);
    if (it == entry_lines.end())
      it = entry_lines.emplace(&fn, dbg.location(dbg.binary().to_virt(fn.low_pc).value())).first;
    return it->second;
  }
};

BufferedTracer::BufferedTracer(Debuggee& dbg, RunControl& run,
                               std::shared_ptr<TraceResultBuffer> out)
    : impl_(std::make_unique<Impl>(dbg, run, std::move(out))) {
  run.set_trace_hook([im = impl_.get()](const proc::StopEvent& ev) { return im->on_event(ev); });
}

BufferedTracer::~BufferedTracer() {
  impl_->run.set_trace_hook({});
}

void BufferedTracer::add_function(const std::string& name) {
  const auto* fn = impl_->dbg.find_function(name);
  if (fn == nullptr)  // Delve's ErrFunctionNotFound ends with a newline
    throw CommandError("could not find function " + name + "\n");
  try {
    if (impl_->tracer.trace_function(*fn))
      ++impl_->functions;
  } catch (const proc::Error& e) {
    throw CommandError(std::string("could not set tracepoint on ") + name + ": " + e.what());
  }
}

std::size_t BufferedTracer::function_count() const {
  return impl_->functions;
}

}  // namespace goscope::target

// The stop-event loop and stepping.
#include "target/run_control.hpp"

#include <algorithm>

#include "proc/error.hpp"
#include "proc/process.hpp"
#include "target/stepper.hpp"
#include "target/target.hpp"

namespace goscope::target {

using K = proc::StopEvent::Kind;

namespace {
ThreadStop stop_of(StopKind kind) {
  ThreadStop ts;
  ts.kind = kind;
  return ts;
}
}  // namespace

RunControl::RunControl(Debuggee& dbg, BreakpointTable& bps, Watchpoints& watches,
                       std::atomic<bool>& halt_requested, RunObserver observer)
    : dbg_(dbg),
      bps_(bps),
      watches_(watches),
      halt_requested_(halt_requested),
      observer_(std::move(observer)),
      pending_(std::make_unique<std::deque<proc::StopEvent>>()) {}

RunControl::~RunControl() = default;

void RunControl::mark_exit(int status) {
  stepper_.reset();
  last_kind_ = StopKind::exited;
  dbg_.mark_exit(status);
}

// The stop of the process on `tid`: its reason is the process'.
void RunControl::stop_at(pid_t tid, ThreadStop ts) {
  last_kind_ = ts.kind;
  stops_[tid] = std::move(ts);
  dbg_.select_thread(tid);
}

StopReason RunControl::last_stop() const {
  if (last_kind_ == StopKind::exited)
    return {StopKind::exited, 0};
  return {last_kind_, dbg_.current_thread()};
}

StopKind RunControl::stop_kind_of(pid_t tid) const {
  if (auto it = stops_.find(tid); it != stops_.end() && it->second.kind != StopKind::none)
    return it->second.kind;
  if (last_kind_ != StopKind::exited && tid == dbg_.current_thread())
    return last_kind_;
  return StopKind::none;
}

bool RunControl::next_in_progress() const {
  return stepper_ && stepper_->active();
}

void RunControl::cancel_next() {
  stepper_.reset();
}

void RunControl::forget_stops() {
  watches_.clear_out_of_scope();
  stops_.clear();
}

void RunControl::finish_call(pid_t tid, bool returned_here) {
  if (returned_here)
    call_return_site_ = std::make_pair(tid, dbg_.pc_of(tid));
  stops_.clear();
  stops_[tid] = stop_of(StopKind::call_returned);
  last_kind_ = StopKind::call_returned;
  dbg_.set_current_thread(tid);
  dbg_.invalidate();
}

Breakpoint RunControl::clear_breakpoint(int id, const std::string& name) {
  Breakpoint out = bps_.clear(id, name);
  for (auto& [tid, s] : stops_) {
    if (s.breakpoint_id == out.id)
      s.breakpoint_id = 0;
  }
  return out;
}

std::vector<Breakpoint> RunControl::physical_breakpoints() const {
  auto out = bps_.physical();
  for (auto& e : watches_.physical_sentinels()) out.push_back(std::move(e));
  return out;
}

// Delve's conditionErrors: after a stop, the condition error of the stopped threads.
void RunControl::throw_condition_errors() const {
  const std::string* first = nullptr;
  for (const auto& [tid, ts] : stops_) {
    if (!ts.cond_error)
      continue;
    if (first)
      throw CommandError("multiple errors evaluating conditions");
    first = &*ts.cond_error;
  }
  if (first)
    throw CommandError(*first);
}

// ---------------------------------------------------------------- commands

StopReason RunControl::resume(const std::function<void()>& resumed) {
  run_until_stop(resumed);
  throw_condition_errors();
  return last_stop();
}

void RunControl::switch_thread(pid_t tid) {
  if (!dbg_.has_thread(tid))
    throw CommandError("invalid thread " + std::to_string(tid));
  dbg_.select_thread(tid);
}

void RunControl::switch_goroutine(std::int64_t goid) {
  const pid_t on = dbg_.thread_of(goid);
  if (on == 0 && !dbg_.target().goroutine(goid))
    throw CommandError("unknown goroutine " + std::to_string(goid));
  dbg_.set_selected_goroutine(goid);
  if (on != 0)
    dbg_.set_current_thread(on);
}

// The selected goroutine when it is not running on any thread.
std::optional<Goroutine> RunControl::parked_selected() {
  const auto goid = dbg_.selected_goroutine();
  if (goid == 0 || dbg_.thread_of(goid) != 0)
    return std::nullopt;
  auto g = dbg_.target().goroutine(goid);
  if (!g || g->sched_pc == 0)
    return std::nullopt;
  return g;
}

// The thread of the selected goroutine (Delve steps the selected goroutine).
pid_t RunControl::step_thread() {
  const auto goid = dbg_.selected_goroutine();
  if (goid != 0) {
    if (const pid_t tid = dbg_.thread_of(goid))
      return tid;
    throw CommandError("goroutine " + std::to_string(goid) +
                       " is not running on a thread (stepping parked goroutines is not "
                       "supported)");
  }
  return dbg_.current_thread();
}

StopReason RunControl::step(StepKind kind, const std::optional<LoadConfig>& ret_cfg,
                            const std::function<void()>& resumed) {
  if (next_in_progress()) {
    if (resumed)
      resumed();
    throw CommandError("next while nexting");
  }
  const auto k = kind == StepKind::next   ? Stepper::Kind::next
                 : kind == StepKind::step ? Stepper::Kind::step
                                          : Stepper::Kind::step_out;
  step_ret_cfg_ = ret_cfg;
  step_ret_values_.reset();
  stepper_ = std::make_unique<Stepper>(dbg_.process(), dbg_.binary());
  if (auto parked = parked_selected()) {
    // As Delve: the traps wait for the goroutine to be scheduled again.
    if (!stepper_->start_parked(k, parked->g_addr, parked->sched_pc, parked->sched_sp,
                                parked->sched_bp)) {
      stepper_.reset();
      if (resumed)
        resumed();
      throw CommandError("goroutine " + std::to_string(parked->id) +
                         " is not in a function with line information");
    }
    return resume(resumed);
  }
  const pid_t tid = step_thread();
  if (!stepper_->start(k, tid)) {
    stepper_.reset();
    step_instruction_on(tid, resumed);
    return last_stop();
  }
  return resume(resumed);
}

StopReason RunControl::step_instruction(const std::function<void()>& resumed) {
  step_instruction_on(step_thread(), resumed);
  return last_stop();
}

void RunControl::step_instruction_on(pid_t tid, const std::function<void()>& resumed) {
  if (resumed)
    resumed();
  stops_.clear();
  std::vector<proc::StopEvent> others;
  dbg_.invalidate();
  if (observer_.running_event)
    observer_.running_event();
  const auto ev = step_one_instruction(dbg_.process(), tid, others);
  if (ev.kind == K::exited || ev.kind == K::killed) {
    mark_exit(Debuggee::exit_status_of(ev));
  } else {
    for (auto& o : others) {
      if (o.tid != tid)
        pending_->push_back(o);
    }
    last_kind_ = StopKind::instruction_step;
    dbg_.set_current_thread(tid);
  }
}

// ---------------------------------------------------------------- the event loop

bool RunControl::drain_pending() {
  while (!pending_->empty()) {
    const auto e = pending_->front();
    pending_->pop_front();
    if (handle_event(e) == Outcome::stop)
      return true;
  }
  return false;
}

// After a user breakpoint stopped the process: every other thread that stopped at one of
// our breakpoints at the same time (stop_all() queued its trap) is reported in this stop
// with its breakPoint, as Delve reports all threads at a breakpoint. Other events (and
// hits whose condition is false, already counted as not stopping) wait for the next
// continue in their order.
void RunControl::collect_other_hits() {
  auto& p = dbg_.process();
  while (auto ev = p.take_queued_event()) {
    if (ev->kind == K::watchpoint && !stops_.contains(ev->tid)) {
      if (auto* lb = watches_.of_slot(ev->watchpoint)) {
        if (auto ts = bps_.hit(*lb, ev->tid, false))
          stops_[ev->tid] = std::move(*ts);
      }
      continue;  // the access has happened: the thread goes on when everything resumes
    }
    if (ev->kind == K::breakpoint && !stops_.contains(ev->tid) &&
        !(stepper_ && stepper_->owns(ev->pc)) && bps_.owns_site(ev->pc.value())) {
      if (trace_hook_)
        trace_hook_(*ev);  // a tracepoint here too: its hit is recorded
      if (auto* lb = bps_.nonstop_owner(ev->pc.value()); lb && observer_.nonstop_hit) {
        // Served now (every thread is stopped already), never reported as a stop.
        if (auto ts = serve_nonstop(*lb, ev->tid, true))
          stops_[ev->tid] = std::move(*ts);
        continue;
      }
      if (auto ts = bps_.user_hit(ev->tid, ev->pc.value(), false))
        stops_[ev->tid] = std::move(*ts);
      // Otherwise not a stop (disabled, condition false): the thread moves past the trap
      // when everything resumes.
      continue;
    }
    pending_->push_back(*ev);
  }
}

// Delve resumes a thread that stopped at a watchpoint by single-stepping it first, and a
// watchpoint that the stepped instruction triggers is not reported. Same here, so that
// the hits a client sees are Delve's.
void RunControl::step_over_watch_stops() {
  std::vector<pid_t> tids;
  for (const auto& [tid, s] : stops_) {
    const auto* lb = bps_.find(s.breakpoint_id);
    if (lb != nullptr && lb->is_watchpoint())
      tids.push_back(tid);
  }
  for (pid_t tid : tids) {
    std::vector<proc::StopEvent> others;
    try {
      const auto ev = step_one_instruction(dbg_.process(), tid, others);
      if (ev.kind == K::exited || ev.kind == K::killed) {
        mark_exit(Debuggee::exit_status_of(ev));
        return;
      }
      for (auto& o : others) {
        if (o.tid != tid || o.kind == K::signal)
          pending_->push_back(o);
      }
    } catch (const proc::ProcessExited& e) {
      mark_exit(e.status());
      return;
    } catch (const proc::Error&) {
    }
  }
  if (!tids.empty())
    dbg_.invalidate();
}

std::optional<ThreadStop> RunControl::serve_nonstop(LogicalBreakpoint& lb, pid_t tid,
                                                    bool all_stopped) {
  auto ts = bps_.hit_alone(lb, tid);
  if (ts && ts->cond_error)
    return ts;  // a condition that cannot be evaluated stops, as Delve's
  if (ts) {
    ++nonstop_hits_;
    try {
      observer_.nonstop_hit(tid, lb.bp, std::move(*ts));
    } catch (const std::exception&) {
      // What the session reads to report the hit (the thread's goroutine, a location) could
      // not be read: that hit goes unreported; the run goes on.
    }
  }
  if (!all_stopped)
    dbg_.forget_thread(tid);
  return std::nullopt;
}

RunControl::Outcome RunControl::handle_breakpoint(const proc::StopEvent& ev) {
  auto& p = dbg_.process();
  const auto pc = ev.pc.value();
  if (call_return_site_ && call_return_site_->first == ev.tid && call_return_site_->second == pc) {
    // The thread an injected call ran on is back at its trap: stepped over, not reported
    // again (Delve clears the thread's breakpoint when the call starts).
    call_return_site_.reset();
    p.resume_thread(ev.tid);
    return Outcome::resume;
  }
  if (trace_hook_ && trace_hook_(ev) && !bps_.owns_site(pc) &&
      !(stepper_ && stepper_->owns(ev.pc)) && !watches_.is_resize_trap(pc) &&
      !watches_.is_scope_trap(pc)) {
    // Only a tracepoint of the session's buffered tracer: recorded, not a stop.
    dbg_.forget_thread(ev.tid);
    p.resume_thread(ev.tid);
    return Outcome::resume;
  }
  // A logpoint or function trace (nonstop): only this thread is held, while what the
  // breakpoint asks for is read; then it moves past the trap (the process' non-stop
  // resume_thread) and the other threads never notice. A trap a step or a watchpoint's
  // sentinel shares with it is served by the stopping path below.
  if (auto* lb = bps_.nonstop_owner(pc);
      lb && observer_.nonstop_hit && !(stepper_ && stepper_->owns(ev.pc)) &&
      !watches_.is_resize_trap(pc) && !watches_.is_scope_trap(pc)) {
    auto ts = serve_nonstop(*lb, ev.tid, false);
    if (!ts) {
      p.resume_thread(ev.tid);
      return Outcome::resume;
    }
    // The condition failed to evaluate: the process stops, as at any breakpoint.
    ++process_stops_;
    dbg_.stop_everything();
    stop_at(ev.tid, std::move(*ts));
    collect_other_hits();
    return Outcome::stop;
  }
  bool step_done = false;
  bool enter_call = false;
  if (stepper_ && stepper_->owns(ev.pc)) {
    switch (stepper_->check(ev.tid, ev.pc)) {
      case Stepper::Hit::ignore:
        break;
      case Stepper::Hit::done:
        step_done = true;
        break;
      case Stepper::Hit::enter_call:
        enter_call = true;
        break;
      case Stepper::Hit::at_return: {
        dbg_.stop_everything();
        std::vector<proc::StopEvent> others;
        auto vals =
            stepper_->finish_return(ev.tid, step_ret_cfg_ ? &*step_ret_cfg_ : nullptr, others);
        for (auto& o : others) {
          if (o.kind == K::exited || o.kind == K::killed) {
            mark_exit(Debuggee::exit_status_of(o));
            return Outcome::stop;
          }
          if (o.tid != ev.tid)
            pending_->push_back(o);
        }
        if (stepper_->active()) {
          // Returned into runtime.deferreturn or a wrapper: the step goes on to the real
          // caller. The events of threads stopped meanwhile come first (a user breakpoint
          // among them ends the step), then everything runs again.
          step_ret_values_ = std::move(vals);
          if (drain_pending())
            return Outcome::stop;
          if (!stepper_)
            return Outcome::resume;  // cannot happen: only a stop drops the stepper
          dbg_.invalidate();
          p.resume_all();
          return Outcome::resume;
        }
        stepper_.reset();
        ThreadStop ts = stop_of(StopKind::step_done);
        if (step_ret_cfg_)
          ts.return_values = std::move(vals);
        stop_at(ev.tid, std::move(ts));
        dbg_.invalidate();
        return Outcome::stop;
      }
    }
  }
  if (watches_.is_resize_trap(pc)) {
    watches_.follow_stack_resize(ev.tid, pc);
    if (!bps_.owns_site(pc) && !watches_.is_scope_trap(pc) &&
        !(stepper_ && stepper_->owns(ev.pc))) {
      dbg_.forget_thread(ev.tid);
      p.resume_thread(ev.tid);
      return Outcome::resume;
    }
  }
  if (watches_.is_scope_trap(pc) && watches_.check_out_of_scope(ev.tid, pc)) {
    // A stack watchpoint's frame returned: it is gone, and the process stops here (with
    // this thread's breakpoint if one of the user's is here too), as Delve.
    dbg_.stop_everything();
    ThreadStop ts = stop_of(StopKind::watch_out_of_scope);
    if (auto uh = bps_.user_hit(ev.tid, pc, false))
      ts = std::move(*uh);
    stop_at(ev.tid, std::move(ts));
    collect_other_hits();
    return Outcome::stop;
  }
  if (auto ts = bps_.user_hit(ev.tid, pc, true)) {
    stop_at(ev.tid, std::move(*ts));
    // As Delve: a user breakpoint hit by the stepped goroutine ends the step; one hit by
    // another goroutine interrupts it, and its traps stay for the next continue
    // (NextInProgress; next/step/stepOut refused until then or CancelNext).
    if (stepper_ && (stepper_->goroutine() == 0 || stepper_->goroutine() == dbg_.goid_of(ev.tid)))
      stepper_.reset();
    collect_other_hits();
    return Outcome::stop;
  }
  if (enter_call) {
    // `step` at an indirect CALL of its line: execute it, and the stepper sets its trap in
    // the function reached (as Delve's StepBreakpoint). The events of threads stopped
    // meanwhile come first, then everything runs again.
    dbg_.stop_everything();
    std::vector<proc::StopEvent> others;
    const auto hit = stepper_->enter_call(ev.tid, others);
    for (auto& o : others) {
      if (o.kind == K::exited || o.kind == K::killed) {
        mark_exit(Debuggee::exit_status_of(o));
        return Outcome::stop;
      }
      if (o.tid != ev.tid)
        pending_->push_back(o);
    }
    if (hit == Stepper::Hit::done) {
      step_done = true;
    } else {
      if (drain_pending())
        return Outcome::stop;
      dbg_.invalidate();
      p.resume_all();
      return Outcome::resume;
    }
  }
  if (step_done) {
    dbg_.stop_everything();
    stepper_.reset();
    ThreadStop ts = stop_of(StopKind::step_done);
    if (step_ret_cfg_ && step_ret_values_)
      ts.return_values = std::move(*step_ret_values_);
    step_ret_values_.reset();
    stop_at(ev.tid, std::move(ts));
    return Outcome::stop;
  }
  // What was read about this thread (its goroutine, registers, stack) while deciding not
  // to stop is stale once it runs again: the next hit may be another goroutine.
  dbg_.forget_thread(ev.tid);
  p.resume_thread(ev.tid);
  return Outcome::resume;
}

RunControl::Outcome RunControl::handle_event(const proc::StopEvent& ev) {
  auto& p = dbg_.process();
  switch (ev.kind) {
    case K::breakpoint:
      return handle_breakpoint(ev);
    case K::signal:
      p.resume_thread(ev.tid, ev.signal);
      return Outcome::resume;
    case K::watchpoint: {
      if (auto* lb = watches_.of_slot(ev.watchpoint)) {
        if (auto ts = bps_.hit(*lb, ev.tid, true)) {
          stop_at(ev.tid, std::move(*ts));
          collect_other_hits();
          return Outcome::stop;
        }
      }
      dbg_.forget_thread(ev.tid);
      p.resume_thread(ev.tid);
      return Outcome::resume;
    }
    case K::single_step:
    case K::exec:
      p.resume_thread(ev.tid);
      return Outcome::resume;
    case K::exited:
      mark_exit(ev.exit_status);
      return Outcome::stop;
    case K::killed:
      mark_exit(Debuggee::exit_status_of(ev));
      return Outcome::stop;
    case K::interrupted:
      halt_requested_ = false;
      last_kind_ = StopKind::halt;
      dbg_.invalidate();
      return Outcome::stop;
  }
  return Outcome::resume;
}

// Resumes the process and runs the event loop until something stops it.
void RunControl::run_until_stop(const std::function<void()>& resumed) {
  struct ForgetCallSite {
    RunControl& self;
    ~ForgetCallSite() { self.call_return_site_.reset(); }
  } forget_call_site{*this};
  watches_.clear_out_of_scope();
  step_over_watch_stops();
  stops_.clear();
  if (drain_pending()) {
    if (resumed)
      resumed();
    return;
  }
  if (halt_requested_.exchange(false)) {
    last_kind_ = StopKind::halt;
    if (resumed)
      resumed();
    return;
  }
  dbg_.invalidate();
  if (observer_.set_running)
    observer_.set_running(true);
  if (observer_.running_event)
    observer_.running_event();
  if (resumed)
    resumed();
  struct NotRunning {
    RunControl& self;
    ~NotRunning() {
      if (self.observer_.set_running)
        self.observer_.set_running(false);
    }
  } guard{*this};
  auto& p = dbg_.process();
  try {
    p.resume_all();
    for (;;) {
      const auto ev = p.wait_event();
      if (handle_event(ev) == Outcome::stop)
        return;
    }
  } catch (const proc::ProcessExited& e) {
    mark_exit(e.status());
  }
}

}  // namespace goscope::target

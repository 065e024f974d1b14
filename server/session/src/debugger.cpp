// The Debugger: one tracer thread owns the process; everything else posts work to it. The
// run control itself (breakpoints, watchpoints, the stop-event loop, stepping, calls) is
// the target's (server/target: BreakpointTable, Watchpoints, RunControl, CallInjector);
// this file keeps the thread, the queue, the events and the Delve-shaped state.
#include "session/debugger.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>

#include "debugger_impl.hpp"
#include "log/log.hpp"
#include "target/location_spec.hpp"

namespace goscope::session {

// ------------------------------------------------------------------- the queue

void Debugger::Impl::loop() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return quit || !jobs.empty(); });
      if (jobs.empty())
        return;
      job = std::move(jobs.front());
      jobs.pop_front();
    }
    job();
    diff_breakpoints();
  }
}

// ------------------------------------------------------------------- process lifetime

void Debugger::Impl::start() {
  target::LaunchSpec spec;
  spec.path = cfg.executable;
  spec.args = cfg.args;
  spec.working_dir = cfg.working_dir;
  spec.disable_aslr = cfg.disable_aslr;
  spec.stdin_path = cfg.stdin_path;
  spec.stdout_path = cfg.stdout_path;
  spec.stderr_path = cfg.stderr_path;
  spec.tty_path = cfg.tty;
  spec.new_process_group = cfg.new_process_group;
  spec.env = cfg.env;
  spec.attach_pid = cfg.attach_pid;
  spec.core_path = cfg.core_file;
  // Logged once the binary has been read, before the process starts, as dlv does.
  auto before_start = [this](target::LaunchSpec& s) {
    if (!cfg.core_file.empty()) {
      log::info(log::Layer::debugger,
                "opening core file " + cfg.core_file + " (executable " + cfg.executable + ")");
      return;
    }
    if (cfg.attach_pid) {
      log::info(log::Layer::debugger, "attaching to pid " + std::to_string(*cfg.attach_pid));
      return;
    }
    if (log::enabled(log::Layer::debugger)) {
      std::string argv = "[" + cfg.executable;
      for (const auto& a : cfg.args) argv += " " + a;
      log::info(log::Layer::debugger, "launching process with args: " + argv + "]");
    }
    prepare_output(s);
  };
  dbg = std::make_unique<target::Debuggee>(spec, before_start);
  if (!cfg.attach_pid && cfg.core_file.empty())
    start_output();
  pid = dbg->pid();
  {
    std::lock_guard lock(version_mu);
    go_version = dbg->go_version();
  }
  dbg->set_exit_hook([this] { live = nullptr; });
  bps = std::make_unique<target::BreakpointTable>(*dbg);
  watches = std::make_unique<target::Watchpoints>(*dbg, *bps);
  target::RunObserver observer;
  observer.set_running = [this](bool on) {
    std::lock_guard lock(halt_mu);
    running = on;
  };
  observer.running_event = [this] { note_resumed(); };
  observer.nonstop_hit = [this](pid_t tid, const target::Breakpoint& bp, target::ThreadStop&& ts) {
    on_nonstop_hit(tid, bp, std::move(ts));
  };
  run = std::make_unique<target::RunControl>(*dbg, *bps, *watches, halt_requested,
                                             std::move(observer));
  calls = std::make_unique<target::CallInjector>(*dbg, *run);
  inspector = std::make_unique<target::Inspector>(*dbg);
  live = dbg.get();
  released = false;
  exit_reported = false;
  location_cache.clear();
}

void Debugger::Impl::release_process() {
  live = nullptr;
  released = true;
}

void Debugger::Impl::detach(bool kill) {
  if (is_detached)
    return;
  end_traces();
  if (run)
    run->cancel_next();
  if (dbg)
    dbg->end(kill || !cfg.attach_pid);
  release_process();
  is_detached = true;
}

std::vector<api::DiscardedBreakpoint> Debugger::Impl::restart(
    const std::optional<std::vector<std::string>>& new_args) {
  // Restart halted a running command before it was queued; that halt must not stop the
  // new process' first continue.
  halt_requested = false;
  if (!cfg.core_file.empty())
    throw DebuggerError(kCoreContinue);
  if (cfg.attach_pid)
    throw DebuggerError("cannot restart process Delve did not create");
  traces.reset();  // the tracepoints were the old process'
  // The editor's function traces end with the process (their JSON files are written).
  untrace("");
  // The old process' objects stay until the new one runs: its breakpoints are set again
  // there, and stay listed if it cannot be started.
  auto old_calls = std::move(calls);
  auto old_inspector = std::move(inspector);
  auto old_run = std::move(run);
  auto old_watches = std::move(watches);
  auto old_bps = std::move(bps);
  auto old_dbg = std::move(dbg);
  if (old_run)
    old_run->cancel_next();
  if (old_dbg)
    old_dbg->end(true);
  release_process();
  if (new_args)
    cfg.args = *new_args;
  try {
    start();
  } catch (...) {
    calls = std::move(old_calls);
    inspector = std::move(old_inspector);
    run = std::move(old_run);
    watches = std::move(old_watches);
    bps = std::move(old_bps);
    dbg = std::move(old_dbg);
    throw;
  }
  bps->create_internal();
  std::vector<api::DiscardedBreakpoint> discarded;
  if (old_bps) {
    old_watches.reset();
    const int next_id = old_bps->next_id();
    for (auto& d : bps->recreate(old_bps->take_all(), next_id))
      discarded.push_back({to_api(d.breakpoint), d.reason});
  }
  return discarded;
}

void Debugger::Impl::throw_exited() const {
  throw DebuggerError("Process " + std::to_string(pid.load()) + " has exited with status " +
                      std::to_string(dbg ? dbg->exit_status() : 0));
}

void Debugger::Impl::require_live() const {
  if (is_detached)
    throw DebuggerError("detached from the process");
  if (!dbg || !dbg->live())
    throw_exited();
}

// ------------------------------------------------------------------- the state

const api::Location& Debugger::Impl::location(std::uint64_t pc) const {
  if (auto it = location_cache.find(pc); it != location_cache.end())
    return it->second;
  if (location_cache.size() > 65536)
    location_cache.clear();
  return location_cache.emplace(pc, to_api(dbg->location(pc))).first->second;
}

// `with_info`: the breakpoint information collected at the stop. Delve sends it only in
// the replies of Commands that ran the target (not State, ListThreads, GetThread, halt or
// switchThread/switchGoroutine).
api::Thread Debugger::Impl::make_thread(pid_t tid, bool with_info) {
  api::Thread t;
  t.id = tid;
  const auto& loc = location(dbg->pc_of(tid));
  t.pc = loc.pc;
  t.file = loc.file;
  t.line = loc.line;
  t.function = loc.function;
  t.goroutine_id = dbg->goid_of(tid);
  const auto& stops = run->stops();
  if (auto it = stops.find(tid); it != stops.end()) {
    if (const auto* lb = bps->find(it->second.breakpoint_id)) {
      t.breakpoint = to_api(lb->bp);
      if (with_info && it->second.info)
        t.breakpoint_info = to_api(*it->second.info);
    }
    if (it->second.return_values)
      t.return_values = *it->second.return_values;
  }
  return t;
}

api::DebuggerState Debugger::Impl::build_state(bool with_info) {
  api::DebuggerState st;
  st.pid = pid;
  if (exited()) {
    st.exited = true;
    st.exit_status = dbg->exit_status();
    return st;
  }
  const auto tids = dbg->threads();
  dbg->prefetch_goroutines(tids);
  std::vector<api::Thread> threads;
  threads.reserve(tids.size());
  for (pid_t tid : tids) {
    try {
      threads.push_back(make_thread(tid, with_info));
    } catch (const std::exception&) {
      // A thread that exited meanwhile.
    }
  }
  const pid_t current = dbg->current_thread();
  for (const auto& t : threads) {
    if (t.id == current)
      st.current_thread = t;
  }
  if (!st.current_thread && !threads.empty()) {
    st.current_thread = threads.front();
    dbg->set_current_thread(threads.front().id);
  }
  if (const auto selected = dbg->selected_goroutine(); selected != 0) {
    pid_t on = 0;
    for (const auto& t : threads) {
      if (t.goroutine_id == selected)
        on = t.id;
    }
    st.selected_goroutine = to_api(dbg->goroutine_view(selected, on));
  }
  st.threads = std::move(threads);
  st.next_in_progress = run->next_in_progress();
  st.watch_out_of_scope = to_api(run->watch_out_of_scope());
  return st;
}

// ------------------------------------------------------------------- commands

api::DebuggerState Debugger::Impl::command(const api::DebuggerCommand& cmd,
                                           const std::function<void()>& resumed) {
  if (is_detached || closing)
    throw DebuggerError("detached from the process");
  const auto& n = cmd.name;
  auto tell = [&] {
    if (resumed)
      resumed();
  };
  if (exited()) {
    tell();
    if (n == "continue" || n == "halt")
      return build_state();
    throw_exited();
  }
  if (n == "halt") {
    // Whatever ran has stopped by now (commands run one at a time); a halt that found
    // nothing running must not stop the next continue before it starts.
    halt_requested = false;
    tell();
    return build_state();
  }
  if (n == "switchThread") {
    tell();
    run->switch_thread(cmd.thread_id);
    return build_state();
  }
  if (n == "switchGoroutine") {
    tell();
    run->switch_goroutine(cmd.goroutine_id);
    return build_state();
  }
  // A core file runs nothing (Delve: ErrContinueCore); 1.20.2 answers nextInstruction,
  // which it does not know, with the state.
  if (!cfg.core_file.empty()) {
    if (n == "nextInstruction") {
      tell();
      return build_state();
    }
    if (n == "continue" || n == "directionCongruentContinue" || n == "next" || n == "step" ||
        n == "stepOut" || n == "stepInstruction" || n == "call") {
      tell();
      throw DebuggerError(kCoreContinue);
    }
  }
  if (n == "continue" || n == "directionCongruentContinue") {
    run->resume(resumed);
    return build_state(true);
  }
  if (n == "next" || n == "step" || n == "stepOut") {
    using K = target::RunControl::StepKind;
    const auto kind = n == "next" ? K::next : n == "step" ? K::step : K::step_out;
    std::optional<target::LoadConfig> ret_cfg;
    if (cmd.return_info_load_config)
      ret_cfg = *cmd.return_info_load_config;
    run->step(kind, ret_cfg, resumed);
    return build_state(true);
  }
  if (n == "stepInstruction" || n == "nextInstruction") {
    run->step_instruction(resumed);
    return build_state(true);
  }
  if (n == "call")
    return call_command(cmd, resumed);
  tell();
  throw DebuggerError("unknown command " + n);
}

api::DebuggerState Debugger::Impl::call_command(const api::DebuggerCommand& cmd,
                                                const std::function<void()>& resumed) {
  bool told = false;
  auto tell = [&] {
    if (!told && resumed)
      resumed();
    told = true;
  };
  try {
    if (!cmd.return_info_load_config)
      throw DebuggerError("can not call function with nil ReturnInfoLoadConfig");
    auto result = calls->call(cmd.expr, cmd.goroutine_id, *cmd.return_info_load_config, tell);
    // The results are the current thread's ReturnValues in this reply only (Delve sets them
    // in the Command's reply; State does not show them).
    const auto& values = result.values;
    auto st = build_state(true);
    if (st.current_thread && st.current_thread->id == result.tid)
      st.current_thread->return_values = values;
    if (st.threads) {
      for (auto& t : *st.threads) {
        if (t.id == result.tid)
          t.return_values = values;
      }
    }
    return st;
  } catch (...) {
    tell();
    throw;
  }
}

std::vector<api::Location> Debugger::Impl::find_location(const api::EvalScope& scope,
                                                         const std::string& spec,
                                                         bool include_non_exec) {
  require_live();
  std::vector<api::Location> out;
  const target::LocationSpec specs(*dbg);
  for (auto& f : specs.find(scope_of(scope), spec, include_non_exec)) {
    if (!f.has_pc) {
      api::Location loc;
      loc.file = f.file;
      loc.line = f.line;
      out.push_back(std::move(loc));
      continue;
    }
    api::Location loc = location(f.pc);
    loc.pcs = std::move(f.pcs);
    out.push_back(std::move(loc));
  }
  return out;
}

// ------------------------------------------------------------------- events
// Emitted on the tracer thread around each command: RunningEvent once the target runs,
// then StoppedEvent (with a TraceEvent per thread at a tracepoint) or ExitedEvent.

void Debugger::Impl::prepare_output(target::LaunchSpec& spec) {
  output.reset();
  if (!cfg.capture_output)
    return;
  output = std::make_unique<OutputReader>();
  spec.stdout_path = output->stdout_path();
  spec.stderr_path = output->stderr_path();
}

void Debugger::Impl::start_output() {
  if (!output)
    return;
  output->start([h = hub](OutputEvent::Stream stream, std::string data) {
    h->emit(OutputEvent{stream, std::move(data)});
  });
}

void Debugger::Impl::note_resumed() {
  ran = true;
  if (hub->wanted())
    hub->emit(RunningEvent{running_command});
}

api::DebuggerState Debugger::Impl::command_with_events(const api::DebuggerCommand& cmd,
                                                       const std::function<void()>& resumed) {
  running_command = command_kind(cmd.name).value_or(CommandKind::continue_);
  ran = false;
  try {
    auto st = translate_errors([&] { return command(cmd, resumed); });
    if (ran)
      report_stop(st);
    return st;
  } catch (...) {
    if (ran)
      report_after_error();
    throw;
  }
}

void Debugger::Impl::report_exit() {
  end_traces();
  if (exit_reported)
    return;
  exit_reported = true;
  if (!hub->wanted())
    return;
  // What the target wrote before it exited comes first (a grandchild holding the pipe
  // open must not hold the event back for long).
  if (output)
    output->wait_eof(std::chrono::milliseconds(500));
  hub->emit(ExitedEvent{pid.load(), dbg ? dbg->exit_status() : 0});
}

void Debugger::Impl::report_after_error() {
  if (exited()) {
    report_exit();
    return;
  }
  if (!hub->wanted() || released || is_detached)
    return;
  try {
    report_stop(build_state());
  } catch (...) {
    // Nothing to tell: the next command reports the state.
  }
}

// The run loop says why each thread stopped; a breakpoint stop is told apart here by the
// breakpoint (Delve's internal panic and fatal-throw breakpoints, tracepoints).
StopReason Debugger::Impl::reason_of(const api::Thread& t) const {
  using target::StopKind;
  switch (run ? run->stop_kind_of(t.id) : StopKind::none) {
    case StopKind::breakpoint:
      if (!t.breakpoint)
        return StopReason::breakpoint;  // cleared since the stop
      if (t.breakpoint->id == target::kUnrecoveredPanicId)
        return StopReason::panic;
      if (t.breakpoint->id == target::kFatalThrowId)
        return StopReason::fatal_error;
      return t.breakpoint->tracepoint ? StopReason::tracepoint : StopReason::breakpoint;
    case StopKind::watchpoint:
    case StopKind::watch_out_of_scope:
      return StopReason::watchpoint;
    case StopKind::step_done:
    case StopKind::instruction_step:
      return StopReason::step;
    case StopKind::halt:
      return StopReason::pause;
    case StopKind::call_returned:
      return StopReason::call_return;
    case StopKind::entry:
      return StopReason::entry;
    case StopKind::none:
    case StopKind::exited:
      return StopReason::none;
  }
  return StopReason::none;
}

void Debugger::Impl::report_stop(const api::DebuggerState& st) {
  if (st.exited) {
    report_exit();
    return;
  }
  if (!hub->wanted())
    return;
  StoppedEvent ev;
  ev.state = st;
  ev.command = running_command;
  const int cur = st.current_thread ? st.current_thread->id : 0;
  std::vector<const api::Thread*> traced;
  if (st.threads) {
    for (const auto& t : *st.threads) {
      StoppedThread ts{t.id, t.goroutine_id, reason_of(t), t.breakpoint ? t.breakpoint->id : 0};
      if (t.id == cur) {
        ev.reason = ts.reason;
        ev.threads.insert(ev.threads.begin(), ts);
      } else {
        ev.threads.push_back(ts);
      }
      if (ts.reason == StopReason::tracepoint)
        traced.push_back(&t);
    }
  }
  if (ev.threads.empty() && st.current_thread) {
    ev.reason = reason_of(*st.current_thread);
    ev.threads.push_back({cur, st.current_thread->goroutine_id, ev.reason,
                          st.current_thread->breakpoint ? st.current_thread->breakpoint->id : 0});
  }
  for (const auto* t : traced) hub->emit(TraceEvent{*t});
  hub->emit(ev);
}

// Breakpoint changes are found by comparing the user breakpoints after every job with those
// before (hit counts aside), while someone listens: whichever request (or restart) changed
// them, no code path has to remember to report it.
void Debugger::Impl::diff_breakpoints() {
  if (!hub->wanted()) {
    bp_seen_valid = false;
    return;
  }
  std::map<int, api::Breakpoint> now;
  if (bps) {
    for (const auto& [id, b] : bps->user_breakpoints()) now.emplace(id, to_api(b));
  }
  if (bp_seen_valid) {
    auto same = [](api::Breakpoint a, api::Breakpoint b) {
      a.hit_count.clear();
      b.hit_count.clear();
      a.total_hit_count = b.total_hit_count = 0;
      return a == b;
    };
    using C = BreakpointEvent::Change;
    for (const auto& [id, bp] : bp_seen) {
      if (!now.contains(id))
        hub->emit(BreakpointEvent{C::removed, bp});
    }
    for (const auto& [id, bp] : now) {
      auto it = bp_seen.find(id);
      if (it == bp_seen.end())
        hub->emit(BreakpointEvent{C::created, bp});
      else if (!same(it->second, bp))
        hub->emit(BreakpointEvent{C::changed, bp});
    }
  }
  bp_seen = std::move(now);
  bp_seen_valid = true;
}

// ------------------------------------------------------------------- public members

Debugger::Debugger(DebuggerConfig cfg) : impl_(std::make_unique<Impl>(std::move(cfg))) {
  impl_->thread = std::thread([this] { impl_->loop(); });
  try {
    impl_->call([this] {
      impl_->start();
      if (impl_->cfg.core_file.empty())  // Delve's core target has no breakpoint at all
        impl_->bps->create_internal();
    });
  } catch (...) {
    {
      std::lock_guard lock(impl_->mu);
      impl_->quit = true;
    }
    impl_->cv.notify_one();
    impl_->thread.join();
    throw;
  }
}

Debugger::~Debugger() {
  impl_->closing = true;
  request_halt();
  try {
    impl_->call([this] { impl_->detach(false); });
  } catch (const std::exception& e) {
    std::fprintf(stderr, "goscope: %s\n", e.what());
  }
  {
    std::lock_guard lock(impl_->mu);
    impl_->quit = true;
  }
  impl_->cv.notify_one();
  impl_->thread.join();
}

int Debugger::pid() const {
  return impl_->pid;
}
bool Debugger::attached_to_existing_process() const {
  return impl_->cfg.attach_pid.has_value();
}
std::string Debugger::executable_path() const {
  return impl_->cfg.attach_pid ? "/proc/" + std::to_string(*impl_->cfg.attach_pid) + "/exe"
                               : impl_->cfg.executable;
}
bool Debugger::detached() const {
  return impl_->is_detached;
}

api::DebuggerState Debugger::state(bool non_blocking) {
  if (non_blocking && impl_->running) {
    api::DebuggerState st;
    st.running = true;
    return st;
  }
  return impl_->call([this] {
    if (impl_->is_detached)
      throw DebuggerError("detached from the process");
    if (impl_->exited())
      impl_->throw_exited();
    return impl_->build_state();
  });
}

api::DebuggerState Debugger::command(const api::DebuggerCommand& cmd,
                                     const std::function<void()>& resumed) {
  if (cmd.name == "halt")
    request_halt();
  return impl_->call([&] { return impl_->command_with_events(cmd, resumed); });
}

namespace {

// Runs a tracer-thread job whose result goes to a StateCallback.
template <class F>
void report(const Debugger::StateCallback& done, F&& f) {
  std::optional<api::DebuggerState> st;
  std::exception_ptr err;
  try {
    st = translate_errors(f);
  } catch (...) {
    err = std::current_exception();
  }
  try {
    done(st ? &*st : nullptr, err);
  } catch (...) {
    // A front end's answer failed (a closed connection): nothing left to tell anyone.
  }
}

}  // namespace

void Debugger::command_async(const api::DebuggerCommand& cmd, std::function<void()> resumed,
                             StateCallback done) {
  if (cmd.name == "halt")
    request_halt();
  // Moved into the queue only when it is accepted: `done` is still there otherwise.
  struct Job {
    Debugger* self;
    api::DebuggerCommand cmd;
    std::function<void()> resumed;
    StateCallback done;
    void operator()() {
      report(done, [&] { return self->impl_->command_with_events(cmd, resumed); });
    }
  };
  Job job{this, cmd, std::move(resumed), std::move(done)};
  if (!impl_->post(job)) {
    report(job.done,
           []() -> api::DebuggerState { throw DebuggerError("debugger is shutting down"); });
  }
}

void Debugger::state_async(bool non_blocking, StateCallback done) {
  if (non_blocking && impl_->running) {
    report(done, [] {
      api::DebuggerState st;
      st.running = true;
      return st;
    });
    return;
  }
  struct Job {
    Debugger* self;
    StateCallback done;
    void operator()() {
      report(done, [&] {
        if (self->impl_->is_detached)
          throw DebuggerError("detached from the process");
        if (self->impl_->exited())
          self->impl_->throw_exited();
        return self->impl_->build_state();
      });
    }
  };
  Job job{this, std::move(done)};
  if (!impl_->post(job)) {
    report(job.done,
           []() -> api::DebuggerState { throw DebuggerError("debugger is shutting down"); });
  }
}

api::DebuggerState Debugger::command(const Command& cmd, const std::function<void()>& resumed) {
  return command(to_api(cmd), resumed);
}

void Debugger::command_async(const Command& cmd, std::function<void()> resumed,
                             StateCallback done) {
  command_async(to_api(cmd), std::move(resumed), std::move(done));
}

Subscription Debugger::subscribe(EventHandler handler) {
  auto sub = impl_->hub->subscribe(std::move(handler));
  // The breakpoints as they are now are the baseline of BreakpointEvents (a job: ordered
  // before every request that follows).
  auto snapshot = [impl = impl_.get()] { impl->diff_breakpoints(); };
  impl_->post(snapshot);
  return sub;
}

void Debugger::request_halt() {
  std::lock_guard lock(impl_->halt_mu);
  impl_->halt_requested = true;
  if (impl_->running) {
    if (auto* d = impl_->live.load())
      d->request_interrupt();
  }
}

void Debugger::cancel_next() {
  impl_->call([&] {
    if (impl_->run)
      impl_->run->cancel_next();
  });
}

void Debugger::detach(bool kill) {
  impl_->closing = true;
  request_halt();
  impl_->call([&] { impl_->detach(kill); });
}

std::vector<api::DiscardedBreakpoint> Debugger::restart(
    const std::optional<std::vector<std::string>>& new_args) {
  request_halt();
  return impl_->call([&] { return impl_->restart(new_args); });
}

std::string Debugger::target_go_version() {
  // Delve: the producer of the first Go compile unit without its flags, and "" while the
  // target runs. Go's compiler writes "Go cmd/compile " + the toolchain version, which is
  // also the version the linker records in .go.buildinfo.
  if (impl_->running)
    return "";
  std::lock_guard lock(impl_->version_mu);
  return impl_->go_version.empty() ? "" : "Go cmd/compile " + impl_->go_version;
}

std::int64_t Debugger::last_modified_ns() const {
  struct stat st {};
  if (::stat(executable_path().c_str(), &st) != 0)
    return 0;
  return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000LL + st.st_mtim.tv_nsec;
}

}  // namespace goscope::session

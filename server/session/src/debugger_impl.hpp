#pragma once
// The Debugger's private state, shared by its implementation files: the tracer thread and
// its job queue, the flags other threads read, the target's run-control objects (which
// live on the tracer thread), and the events.
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>

#include "api_convert.hpp"
#include "event_hub.hpp"
#include "output_reader.hpp"
#include "session/debugger.hpp"
#include "target/breakpoint_table.hpp"
#include "target/buffered_trace.hpp"
#include "target/call_injector.hpp"
#include "target/debuggee.hpp"
#include "target/inspector.hpp"
#include "target/run_control.hpp"
#include "target/watchpoints.hpp"
#include "trace_output.hpp"

namespace goscope::session {

/// Runs `f`, turning the target's refusals into DebuggerErrors (same text; the kind is
/// derived from it).
template <class F>
auto translate_errors(F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const target::CommandError& e) {
    throw DebuggerError(e.what());
  }
}

/// Delve's ErrContinueCore: what a core file answers to anything that would run it.
inline constexpr const char* kCoreContinue = "can not continue execution of core process";

struct Debugger::Impl {
  explicit Impl(DebuggerConfig c) : cfg(std::move(c)) {}

  DebuggerConfig cfg;

  // ---- job queue to the tracer thread ----
  std::thread thread;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::function<void()>> jobs;
  bool quit = false;

  // ---- cross-thread flags ----
  std::atomic<target::Debuggee*> live{nullptr};
  std::atomic<bool> running{false};
  std::atomic<bool> halt_requested{false};
  std::atomic<int> pid{0};
  std::atomic<bool> is_detached{false};
  /// Set by detach() and the destructor before they halt: no command may resume the target
  /// once the session is ending (a continue queued behind the detach would run unhalted).
  std::atomic<bool> closing{false};
  std::mutex halt_mu;

  // ---- tracer thread only: the target's run-control objects for the process ----
  std::unique_ptr<target::Debuggee> dbg;
  std::unique_ptr<target::BreakpointTable> bps;
  std::unique_ptr<target::Watchpoints> watches;
  std::unique_ptr<target::RunControl> run;
  std::unique_ptr<target::CallInjector> calls;
  std::unique_ptr<target::Inspector> inspector;
  /// Buffered (eBPF) tracepoints of this process, made at the first one (restart drops
  /// them, as Delve's go with the old process); the buffer is read from any thread.
  std::unique_ptr<target::BufferedTracer> traces;
  std::shared_ptr<target::TraceResultBuffer> trace_results =
      std::make_shared<target::TraceResultBuffer>();
  /// No process to trace (detached, or a restart that could not start one).
  bool released = true;
  /// pc -> file/line/function, for the life of the binary (start() clears it).
  mutable std::unordered_map<std::uint64_t, api::Location> location_cache;

  // ---- events (debugger.cpp, "events") ----
  std::shared_ptr<EventHub> hub = std::make_shared<EventHub>();
  /// The target's stdout/stderr pipes (cfg.capture_output).
  std::unique_ptr<OutputReader> output;
  CommandKind running_command = CommandKind::continue_;
  bool ran = false;            ///< the command under way let the target run
  bool exit_reported = false;  ///< ExitedEvent sent for this process
  std::map<int, api::Breakpoint> bp_seen;
  bool bp_seen_valid = false;

  // ---- Delve's dump (debugger_dump.cpp): any thread, under dump_mu ----
  std::mutex dump_mu;
  std::condition_variable dump_cv;
  DumpState dump_state;
  bool dump_canceled = false;

  // ---- any thread (GetVersion answers while a command runs, as Delve) ----
  mutable std::mutex version_mu;
  std::string go_version;  ///< from .go.buildinfo, "go1.19.8"; "" when unknown

  // ---- the queue (debugger.cpp) ----
  void loop();
  /// Queues `job` for the tracer thread without waiting (moved from only when queued);
  /// false when shutting down.
  template <class F>
  bool post(F& job) {
    {
      std::lock_guard lock(mu);
      if (quit)
        return false;
      jobs.emplace_back(std::move(job));
    }
    cv.notify_one();
    return true;
  }
  /// Runs `f` on the tracer thread and waits for its result.
  template <class F>
  auto call(F&& f) -> decltype(f()) {
    using R = decltype(f());
    auto task = std::make_shared<std::packaged_task<R()>>(
        [g = std::forward<F>(f)]() mutable -> R { return translate_errors(g); });
    auto fut = task->get_future();
    {
      std::lock_guard lock(mu);
      if (quit)
        throw DebuggerError("debugger is shutting down");
      jobs.push_back([task] { (*task)(); });
    }
    cv.notify_one();
    return fut.get();
  }

  // ---- process lifetime (debugger.cpp) ----
  void start();
  void release_process();
  void detach(bool kill);
  std::vector<api::DiscardedBreakpoint> restart(
      const std::optional<std::vector<std::string>>& new_args);
  bool exited() const { return dbg && dbg->exited(); }
  [[noreturn]] void throw_exited() const;
  void require_live() const;

  // ---- the state as the API shows it (debugger.cpp) ----
  /// The cached entry: valid until the next call (the cache may be emptied when it grows).
  const api::Location& location(std::uint64_t pc) const;
  api::Thread make_thread(pid_t tid, bool with_info = false);
  api::DebuggerState build_state(bool with_info = false);
  target::Scope scope_of(const api::EvalScope& s) const {
    return dbg->scope(s.goroutine_id, s.frame, s.deferred_call);
  }

  // ---- commands (debugger.cpp) ----
  api::DebuggerState command(const api::DebuggerCommand& cmd, const std::function<void()>& resumed);
  api::DebuggerState call_command(const api::DebuggerCommand& cmd,
                                  const std::function<void()>& resumed);
  std::vector<api::Location> find_location(const api::EvalScope& scope, const std::string& spec,
                                           bool include_non_exec);

  // ---- events (debugger.cpp) ----
  void prepare_output(target::LaunchSpec& spec);
  void start_output();
  void note_resumed();
  api::DebuggerState command_with_events(const api::DebuggerCommand& cmd,
                                         const std::function<void()>& resumed);
  void report_exit();
  void report_after_error();
  StopReason reason_of(const api::Thread& t) const;
  void report_stop(const api::DebuggerState& st);
  void diff_breakpoints();

  // ---- nonstop hits and the editor's function traces (debugger_trace.cpp) ----
  struct TraceGroup {
    std::unique_ptr<TraceOutput> out;
    std::map<std::string, std::vector<int>> bps_of;  ///< function -> its tracepoints
    std::set<int> deferreturn_sites;  ///< return tracepoints at `call runtime.deferreturn`
  };
  std::map<int, TraceGroup> trace_groups;
  std::unordered_map<int, int> trace_group_of_bp;
  int next_trace_id = 1;
  std::string trace_text;  ///< what a group's output wrote for the event being handled
  void on_nonstop_hit(pid_t tid, const target::Breakpoint& bp, target::ThreadStop&& ts);
  FunctionTrace trace_functions(const FunctionTraceRequest& req);
  std::vector<std::string> untrace(const std::string& regexp);
  /// Ends a trace: closes its open calls and writes its JSON file.
  void end_trace(int id);
  /// Every trace ends (the process exited or is released).
  void end_traces();
};

}  // namespace goscope::session

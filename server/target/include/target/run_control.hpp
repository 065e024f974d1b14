#pragma once
// Running the target until something stops it: the stop-event loop (breakpoints,
// watchpoints, sentinels, signals, exits, a halt), stepping by line and by instruction, and
// what each thread stopped for.
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "target/breakpoint_table.hpp"
#include "target/debuggee.hpp"
#include "target/watchpoints.hpp"

namespace goscope::target {

class Stepper;

/// What the session is told while a command runs (on the tracer thread).
struct RunObserver {
  /// The target is about to run: the "running" flag a halt looks at, set and cleared
  /// under the lock the halt takes.
  std::function<void(bool)> set_running;
  /// The target runs (RunningEvent).
  std::function<void()> running_event;
  /// A nonstop breakpoint's hit whose condition held (LogicalBreakpoint::nonstop): called
  /// while `tid` is held at the trap (its registers and memory can still be read), the
  /// other threads running; then the thread moves past the trap. Without it, nonstop
  /// breakpoints stop as the others do.
  std::function<void(pid_t tid, const Breakpoint& bp, ThreadStop&& ts)> nonstop_hit;
};

/// How the run loop served breakpoint hits (beyond Delve; tests and benchmarks read it).
struct RunStats {
  std::uint64_t nonstop_hits = 0;   ///< served with only the hitting thread held
  std::uint64_t process_stops = 0;  ///< hits that stopped every thread
};

/// Why the process stopped: the kind of the current thread's stop (Delve's
/// proc.StopReason) and that thread (0 when the process exited).
struct StopReason {
  StopKind kind = StopKind::entry;
  pid_t tid = 0;
};

/// Threading: tracer thread only, but for the halt flag (any thread).
class RunControl {
 public:
  enum class StepKind { next, step, step_out };

  RunControl(Debuggee& dbg, BreakpointTable& bps, Watchpoints& watches,
             std::atomic<bool>& halt_requested, RunObserver observer);
  ~RunControl();
  RunControl(const RunControl&) = delete;
  RunControl& operator=(const RunControl&) = delete;

  /// Delve's continue: runs every thread until a stop (a breakpoint whose condition holds,
  /// a watchpoint, a stack watchpoint's frame returning, the end of a step, a halt, the
  /// exit). `resumed` is called once the target runs (or at once when it will not). Throws
  /// CommandError for breakpoint conditions that could not be evaluated. Returns why the
  /// process stopped.
  StopReason resume(const std::function<void()>& resumed);
  /// next / step / stepOut of the selected goroutine; `ret_cfg`: load the return values.
  /// Throws CommandError ("next while nexting", a goroutine without line information).
  /// The stop is `step_done` when the step finished; a breakpoint, a watchpoint or a halt
  /// can end it first.
  StopReason step(StepKind kind, const std::optional<LoadConfig>& ret_cfg,
                  const std::function<void()>& resumed);
  /// One instruction of the selected goroutine's thread.
  StopReason step_instruction(const std::function<void()>& resumed);
  /// switchThread / switchGoroutine. Throw CommandError.
  void switch_thread(pid_t tid);
  void switch_goroutine(std::int64_t goid);
  /// Delve's CancelNext: drops an interrupted step's traps.
  void cancel_next();
  bool next_in_progress() const;

  /// Why each thread stopped in the last stop (threads that only stopped because another
  /// did are absent).
  const std::map<pid_t, ThreadStop>& stops() const { return stops_; }
  /// Why the process stopped last (what the last command returned).
  StopReason last_stop() const;
  /// Why `tid` stopped in the last stop: its own reason, else the process' when it is the
  /// current thread (a halt, a call's return), else `none`.
  StopKind stop_kind_of(pid_t tid) const;
  /// Stack watchpoints that went out of scope in the last continue.
  const std::vector<Breakpoint>& watch_out_of_scope() const { return watches_.out_of_scope(); }
  /// Deletes a breakpoint (the stops that name it no longer do).
  Breakpoint clear_breakpoint(int id, const std::string& name);
  /// Delve's ListBreakpoints{All}.
  std::vector<Breakpoint> physical_breakpoints() const;
  RunStats stats() const { return {nonstop_hits_, bps_.process_stops() + process_stops_}; }

  // ---- for CallInjector ----
  /// Before a command that resumes: the previous stop's information is gone.
  void forget_stops();
  /// After an injected call: `tid` is current, with no stop information, and the next run
  /// steps over a trap at its pc instead of reporting it again (as Delve).
  void finish_call(pid_t tid, bool returned_here);
  /// Records the exit (every run-control object sees it).
  void mark_exit(int status);
  std::atomic<bool>& halt_flag() { return halt_requested_; }

  /// A trace engine sharing the process (the session's buffered tracepoints): shown every
  /// trap first. It returns true when the trap is one of its sites (it has recorded the
  /// hit); the thread then runs on, unless a user breakpoint, a step or a watchpoint
  /// sentinel is there too (handled as usual). Empty: none.
  using TraceHook = std::function<bool(const proc::StopEvent&)>;
  void set_trace_hook(TraceHook hook) { trace_hook_ = std::move(hook); }

 private:
  enum class Outcome { resume, stop };
  Outcome handle_event(const proc::StopEvent& ev);
  Outcome handle_breakpoint(const proc::StopEvent& ev);
  /// A nonstop breakpoint's hit by `tid` (held alone, or with every thread stopped when
  /// `all_stopped`): nullopt when served without a stop, else the stop to report (its
  /// condition could not be evaluated).
  std::optional<ThreadStop> serve_nonstop(LogicalBreakpoint& lb, pid_t tid, bool all_stopped);
  /// Events of threads stopped meanwhile, in order, until one stops the process.
  bool drain_pending();
  void collect_other_hits();
  void step_over_watch_stops();
  void run_until_stop(const std::function<void()>& resumed);
  void throw_condition_errors() const;
  /// A stop of `tid` for `ts`: it becomes current, its goroutine selected.
  void stop_at(pid_t tid, ThreadStop ts);
  pid_t step_thread();
  void step_instruction_on(pid_t tid, const std::function<void()>& resumed);
  /// The process-wide reason of a stop that names no thread's ThreadStop.
  void set_stop_kind(StopKind kind) { last_kind_ = kind; }
  std::optional<Goroutine> parked_selected();

  Debuggee& dbg_;
  BreakpointTable& bps_;
  Watchpoints& watches_;
  std::atomic<bool>& halt_requested_;
  RunObserver observer_;
  /// Events of threads stopped meanwhile, handled before the process runs again.
  std::unique_ptr<std::deque<proc::StopEvent>> pending_;
  std::map<pid_t, ThreadStop> stops_;
  StopKind last_kind_ = StopKind::entry;
  std::unique_ptr<Stepper> stepper_;
  std::optional<LoadConfig> step_ret_cfg_;
  /// Results loaded at the RET of a step that went on past runtime.deferreturn/a wrapper.
  std::optional<std::vector<Variable>> step_ret_values_;
  /// The thread of the last call and its pc (one of our traps' sites, maybe).
  std::optional<std::pair<pid_t, std::uint64_t>> call_return_site_;
  TraceHook trace_hook_;
  std::uint64_t nonstop_hits_ = 0;
  std::uint64_t process_stops_ = 0;  ///< stops of every thread for a nonstop hit's error
};

}  // namespace goscope::target

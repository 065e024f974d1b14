#pragma once
// What a debugging session tells its front ends without being asked (Debugger::subscribe):
// the target stopped, runs, exited, wrote output, a breakpoint changed, a tracepoint was
// hit. Protocol-neutral: JSON-RPC answers from the state, DAP turns these into events.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "session/api.hpp"

namespace goscope::session {

/// Delve's run-control commands (api.DebuggerCommand.Name), typed.
enum class CommandKind {
  continue_,
  next,
  step,
  step_out,
  step_instruction,
  next_instruction,
  halt,
  switch_thread,
  switch_goroutine,
  call,
  direction_congruent_continue,
  rewind,
  reverse_next,
  reverse_step,
  reverse_step_out,
  reverse_step_instruction,
};

/// Delve's name of a command ("continue", "stepOut", ...) and back; nullopt for a name
/// Delve does not have.
std::string_view command_name(CommandKind k);
std::optional<CommandKind> command_kind(std::string_view name);
/// True for the commands that let the target run (continue, the steps, call).
bool command_resumes(CommandKind k);

/// Why one thread is reported in a stop.
enum class StopReason {
  none,         ///< stopped because another thread stopped the process
  entry,        ///< the launch or attach stop
  breakpoint,   ///< a user breakpoint
  tracepoint,   ///< a breakpoint with Tracepoint set (also reported as a TraceEvent)
  watchpoint,   ///< a hardware watchpoint fired (or went out of scope)
  step,         ///< next/step/stepOut/stepInstruction completed
  pause,        ///< halt
  panic,        ///< Delve's unrecovered-panic breakpoint (id -1)
  fatal_error,  ///< Delve's runtime-fatal-throw breakpoint (id -2)
  call_return,  ///< an injected call (`call`) returned
};

struct StoppedThread {
  int thread_id = 0;
  std::int64_t goroutine_id = 0;
  StopReason reason = StopReason::none;
  int breakpoint_id = 0;  ///< 0 when not at a breakpoint
};

/// The target stopped after running. `state` is what State would answer; `threads` gives
/// every thread's reason (the current thread first); `reason` is the current thread's.
struct StoppedEvent {
  api::DebuggerState state;
  std::vector<StoppedThread> threads;
  StopReason reason = StopReason::none;
  CommandKind command = CommandKind::continue_;  ///< the command that ran
};

/// The target resumed for `command` (emitted once it runs).
struct RunningEvent {
  CommandKind command = CommandKind::continue_;
};

/// The target exited (status: the exit code, or -signal when it was killed).
struct ExitedEvent {
  int pid = 0;
  int status = 0;
};

/// Bytes the debuggee wrote, as they arrive (DebuggerConfig::capture_output only).
struct OutputEvent {
  enum class Stream { out, err };
  Stream stream = Stream::out;
  std::string data;
};

/// A breakpoint was created, changed (toggled, amended) or removed by any front end.
struct BreakpointEvent {
  enum class Change { created, changed, removed };
  Change change = Change::created;
  api::Breakpoint breakpoint;
};

/// A tracepoint was hit: the thread with its breakpoint, arguments (breakpoint_info) and,
/// for a return tracepoint, its return values. The target is stopped (Delve's tracepoints
/// stop; the client continues), unless `nonstop`: a nonstop breakpoint's hit (beyond
/// Delve), reported while the target runs on.
struct TraceEvent {
  api::Thread thread;
  bool nonstop = false;
  /// A function trace's hit (Debugger::trace_functions): its id, what `dlv trace` prints
  /// for it, and the values it shows (the arguments of a call, the results of a return).
  int trace_id = 0;
  bool is_return = false;
  std::string text = {};
  std::vector<api::Variable> values = {};
};

using Event =
    std::variant<StoppedEvent, RunningEvent, ExitedEvent, OutputEvent, BreakpointEvent, TraceEvent>;

/// Receives events. Called on the thread that produced the event (the Debugger's tracer
/// thread for run control and breakpoints, the output reader for OutputEvent); must not block for
/// long and must not call back into the Debugger synchronously (post the work elsewhere). Events of
/// one kind arrive in order.
using EventHandler = std::function<void(const Event&)>;

class EventHub;

/// Keeps a handler subscribed; unsubscribes when destroyed or reset(). An emission already
/// under way on another thread may still call the handler once after reset() returns:
/// capture state the handler uses by shared_ptr.
class Subscription {
 public:
  Subscription() = default;
  Subscription(std::weak_ptr<EventHub> hub, std::uint64_t id) : hub_(std::move(hub)), id_(id) {}
  Subscription(Subscription&& o) noexcept;
  Subscription& operator=(Subscription&& o) noexcept;
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;
  ~Subscription();
  void reset();

 private:
  std::weak_ptr<EventHub> hub_;
  std::uint64_t id_ = 0;
};

}  // namespace goscope::session

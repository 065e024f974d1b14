#pragma once
// The run loop the trace engines share: the ptrace thread handles the process' events (the
// engine's own first, everything else passed through as the program expects), while a
// consumer thread drains what the engine buffers (a BPF ring, the in-process ring); once the
// run ends the consumer stops and what is left is drained.
#include <functional>
#include <mutex>

#include "target/trace_event.hpp"

namespace goscope::proc {
class Process;
struct StopEvent;
}  // namespace goscope::proc

namespace goscope::target {

struct EngineRunHooks {
  /// A breakpoint or signal event the engine may own (a trap at one of its sites, a signal
  /// its code raised). True when it handled the event and resumed the thread; false passes
  /// it through (a breakpoint resumed, a signal delivered). Empty: none is owned.
  std::function<bool(const proc::StopEvent&)> own_event;
  /// Consumer thread (none when empty): waits for records or a poll period, then `drain`
  /// runs with `mu` held.
  std::function<void()> wait;
  std::function<void()> drain;
  /// When the run has ended, before the consumer stops (a detach makes the engine's code
  /// inert here, while the consumer still empties the ring for writers in flight).
  std::function<void(const TraceExit&)> on_end;
  /// After the final drain, with `mu` held: what is left goes out, the engine is taken down.
  std::function<void(const TraceExit&)> after_drain;
};

/// Resumes the process and runs it until it exits, execs, is killed or interrupted. The
/// hooks run on this thread except `wait` and `drain`. Exceptions (a proc::Error) pass
/// through after the same ending (consumer stopped, final drain, after_drain).
TraceExit run_engine(proc::Process& process, std::mutex& mu, const EngineRunHooks& hooks);

}  // namespace goscope::target

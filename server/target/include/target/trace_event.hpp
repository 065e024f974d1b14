#pragma once
// What a trace run reports, for the layers above the target: the events, the options, how
// the run ended, the engine's counts. Names no proc or dwarf type but as opaque pointers.
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "target/variable.hpp"

namespace goscope::dwarf {
struct Function;
struct InlinedCall;
}  // namespace goscope::dwarf

namespace goscope::target {

/// The clock of TraceEvent::time_ns: CLOCK_MONOTONIC in ns (what bpf_ktime_get_ns reads).
std::uint64_t trace_clock_ns();

/// A pc's place in the line table.
struct SourceLine {
  std::string file;
  std::uint32_t line = 0;
};

/// One frame of a trace event's stack.
struct TraceFrame {
  std::uint64_t pc = 0;
  std::string function;
  std::string file;
  std::uint32_t line = 0;
};

/// A function entry or return observed by the Tracer.
struct TraceEvent {
  /// goroutine_exit: the goroutine reached runtime.goexit1 (it returned from its start
  /// function or called runtime.Goexit); calls still open on it will never return.
  enum class Kind { call, ret, goroutine_exit };
  Kind kind = Kind::call;
  std::int64_t goid = 0;
  pid_t tid = 0;
  const dwarf::Function* function = nullptr;
  /// Set for an entry of an inlined copy: `function` is then the function it was inlined
  /// into, and no return event follows (an inlined body has no RET of its own).
  const dwarf::InlinedCall* inlined = nullptr;
  std::uint64_t pc = 0;
  std::uint64_t sp = 0;  ///< stack pointer at the event
  /// Entries: the return address (the caller's pc just after its CALL); 0 if unknown.
  std::uint64_t caller_pc = 0;
  /// Arguments (call) or results (ret), with the Argument/ReturnArgument flags.
  std::vector<Variable> values;
  bool deferreturn = false;  ///< a return event at `call runtime.deferreturn`
  /// CLOCK_MONOTONIC: when the call started or returned, for durations (a call whose
  /// thread stopped at its tracepoint starts when the thread runs again).
  std::uint64_t time_ns = 0;
  /// CLOCK_MONOTONIC when the tracepoint was hit. One goroutine's events are handed over
  /// in this order (pairing depends on it).
  std::uint64_t hit_ns = 0;
  /// Innermost first, up to TraceOptions::stack_depth + 1 frames (empty when 0).
  std::vector<TraceFrame> stack;
  bool stack_complete = false;  ///< the last frame is the goroutine's outermost

  /// The traced function's name (the inlined function's for an inlined copy).
  const std::string& name() const;
  /// Whether the (out-of-line) function has results: dlv prints the stack of a call
  /// differently then.
  bool function_has_results() const;
};

/// Receives events on the tracer thread; must not block for long.
class TraceObserver {
 public:
  virtual ~TraceObserver() = default;
  /// Takes the event: the observer keeps or moves it (no copy on the ptrace thread).
  virtual void on_event(TraceEvent&& ev) = 0;
};

struct TraceOptions {
  LoadConfig load = kShortLoadConfig;
  int stack_depth = 0;  ///< dlv trace --stack N: frames beyond the traced one
  /// Report goroutine exits (one more trap, on runtime.goexit1), for outputs that pair
  /// calls and must close the ones Goexit abandons.
  bool goroutine_exits = false;
};

/// How a traced run ended.
struct TraceExit {
  enum class Kind { exited, killed, interrupted, exec };
  Kind kind = Kind::exited;
  int status = 0;  ///< exit status, or the fatal signal
};

/// What an engine counted during run(), for --stats and the logs.
struct TraceEngineStats {
  std::string engine;            ///< "inproc", "uprobe" or "ptrace"
  std::uint64_t events = 0;      ///< entries, returns and goroutine exits captured
  std::uint64_t stops = 0;       ///< events that stopped the hitting thread (ptrace: all)
  std::uint64_t lost = 0;        ///< events the kernel could not hand over (ring buffer full)
  std::uint64_t late_reads = 0;  ///< reads a capture plan missed (a bug if not 0)
  std::uint64_t waits = 0;       ///< inproc: writers that waited for room in the ring
  std::uint64_t faults = 0;      ///< inproc: reads of bad pointers caught (failed reads)
  /// An attached process: the sites that kept the slow probe because a thread or a goroutine
  /// could go on inside the code their trampoline would move (nullopt: not attached, or an
  /// engine without trampolines), and the sites that got one.
  std::optional<std::uint64_t> unsafe_sites = std::nullopt;
  std::uint64_t moved_sites = 0;
};

}  // namespace goscope::target

#pragma once
// Delve's eBPF tracepoints inside a debug session (RPCServer.CreateEBPFTracepoint and
// GetBufferedTracepoints): function entries and returns recorded while the target runs
// under the session's own run control, into a bounded buffer that a client drains without
// a round trip per call. Names no proc or dwarf type: the session includes it.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "target/variable.hpp"

namespace goscope::target {

class Debuggee;
class RunControl;

/// One recorded hit, Delve's api.TracepointResult before conversion.
struct BufferedTraceResult {
  std::uint64_t addr = 0;  ///< 0, as Delve (its eBPF results never set Addr)
  std::string file;        ///< the traced function's entry, as Delve's PCToLine(FnAddr)
  int line = 0;
  bool is_ret = false;
  std::string function;
  std::int64_t goroutine_id = 0;
  std::vector<Variable> input_params;   ///< entries: the arguments
  std::vector<Variable> return_params;  ///< returns: the results
};

/// The bounded buffer between the tracer thread (push) and the clients (take, from any
/// thread, while the target runs). A full buffer drops new results and counts them: the
/// program is never held back by a client that stops polling, and nothing goes silently.
class TraceResultBuffer {
 public:
  static constexpr std::size_t kDefaultCapacity = 1u << 16;
  explicit TraceResultBuffer(std::size_t capacity = kDefaultCapacity) : capacity_(capacity) {}

  /// False when the buffer was full (the result is dropped and counted).
  bool push(BufferedTraceResult&& r);
  struct Taken {
    std::vector<BufferedTraceResult> results;  ///< oldest first
    std::uint64_t dropped = 0;                 ///< dropped since the previous take
  };
  Taken take();
  std::uint64_t recorded_total() const;
  std::uint64_t dropped_total() const;
  std::size_t capacity() const { return capacity_; }

 private:
  mutable std::mutex mu_;
  std::size_t capacity_;
  std::vector<BufferedTraceResult> results_;
  std::uint64_t dropped_since_take_ = 0, dropped_total_ = 0, recorded_total_ = 0;
};

/// The tracepoints of one process of a debug session, on the non-stop ptrace engine: a trap
/// at each function's entry and RETs stops only the thread that hits it, for as long as it
/// takes to read the goroutine and the values, and the session's stop-event loop (through
/// RunControl's trace hook) never reports those traps as stops. A trap shared with a user
/// breakpoint, a step or a watchpoint sentinel is recorded and then handled by the session
/// as usual. Lives as long as the process: the session drops it at a restart.
///
/// Threading: tracer thread only (the buffer is for any thread).
class BufferedTracer {
 public:
  BufferedTracer(Debuggee& dbg, RunControl& run, std::shared_ptr<TraceResultBuffer> out);
  ~BufferedTracer();
  BufferedTracer(const BufferedTracer&) = delete;
  BufferedTracer& operator=(const BufferedTracer&) = delete;

  /// Delve's SetEBPFTracepoint: the entry and every return of the function named `name`.
  /// Tracing a function twice changes nothing. Throws CommandError ("could not find
  /// function NAME\n", as Delve).
  void add_function(const std::string& name);
  std::size_t function_count() const;
  /// "ptrace": the engine the hits go through.
  static const char* engine_name() { return "ptrace"; }

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace goscope::target

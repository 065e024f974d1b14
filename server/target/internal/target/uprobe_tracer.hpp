#pragma once
#include <memory>
#include <string>

#include "target/tracer.hpp"

namespace goscope::target {

/// The tracer that does not stop: every tracepoint is a uprobe running a BPF program that
/// copies what the event needs (registers, goroutine, stack, pointed-to memory, planned from
/// DWARF per site) into a ring buffer, drained by a consumer thread that builds the events.
/// A hitting thread pauses in the kernel for about a microsecond instead of a ptrace stop.
/// Values the plan cannot capture ahead (interfaces holding pointers, map entries, xmm
/// registers, --stack) make the program signal the thread, which then stops under ptrace
/// once and is read live, at the state of the hit. The process stays under ptrace for
/// signals, exit and detach.
class UprobeTracer : public TraceEngine {
 public:
  /// Whether this kernel and these privileges allow it; `why` gets the reason if not.
  static bool available(std::string* why);

  UprobeTracer(proc::Process& process, const BinaryInfo& bi, TraceOptions opts);
  ~UprobeTracer() override;

  /// Before any trace_* call: the process has not run yet (launched, stopped at its first
  /// instruction), so code may be moved into trampolines (see trampolines.hpp) to make
  /// every probe cheap. Not for attach: a thread might be inside the code that moves.
  void set_process_not_started(bool not_started);
  /// Instead, for a process it attached to (every thread stopped until run()): code moves
  /// into trampolines only where no thread and no goroutine may go on inside it (checked
  /// at prepare(), see live_pcs.hpp); those sites keep the slow probe, counted in
  /// stats().unsafe_sites.
  void set_attached();

  bool trace_function(const dwarf::Function& fn) override;
  bool trace_inlined(const dwarf::InlinedCall& call) override;
  std::size_t tracepoint_count() const override;
  /// Loads the programs and sets the probes (after every trace_* call). Throws proc::Error
  /// when the kernel refuses, leaving nothing set: the caller may trace with ptrace instead.
  void prepare();
  /// Calls prepare() if not done yet.
  TraceExit run(TraceObserver& observer) override;
  TraceEngineStats stats() const override;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace goscope::target

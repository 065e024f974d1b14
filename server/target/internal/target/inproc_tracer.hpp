#pragma once
#include <memory>

#include "target/tracer.hpp"

namespace goscope::target {

/// The in-process tracer: each tracepoint's capture plan (the one the uprobe engine turns into
/// BPF) compiled to x86-64 inside the trampoline at that site, which writes the record into a
/// ring shared with goscope (a memfd mapped into both). A traced call costs the capture and
/// no system call, trap or context switch. Sites where no trampoline can be made (inlined
/// copies, `call runtime.deferreturn`, runtime code, processes it attaches to) trap as in
/// the ptrace engine. The process stays under ptrace: it serves the rare slow paths (a full
/// ring, completions, a fault on a bad pointer), see docs/tracing-engines.md.
class InprocTracer : public TraceEngine {
 public:
  InprocTracer(proc::Process& process, const BinaryInfo& bi, TraceOptions opts);
  ~InprocTracer() override;

  /// Before any trace_* call: the process has not run yet (launched, stopped at its first
  /// instruction), so code may be moved into trampolines. Without it every site traps.
  void set_process_not_started(bool not_started);
  /// Instead, for a process it attached to (every thread stopped until run()): code moves
  /// into trampolines only where no thread and no goroutine may go on inside it (a pc, a
  /// saved or return pc, an async preemption's or a signal frame's saved pc: checked at
  /// prepare()); those sites keep the trap, counted in stats().unsafe_sites.
  void set_attached();

  bool trace_function(const dwarf::Function& fn) override;
  bool trace_inlined(const dwarf::InlinedCall& call) override;
  std::size_t tracepoint_count() const override;
  /// Maps the ring and installs the trampolines (after every trace_* call). Where that fails
  /// every site traps instead.
  void prepare();
  TraceExit run(TraceObserver& observer) override;
  TraceEngineStats stats() const override;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace goscope::target

#pragma once
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "dwarf/debug_info.hpp"
#include "proc/addr.hpp"
#include "proc/registers.hpp"
#include "target/trace_event.hpp"
#include "target/value_loader.hpp"
#include "target/variable.hpp"

namespace goscope::proc {
class Process;
struct StopEvent;
}  // namespace goscope::proc

namespace goscope::target {

class BinaryInfo;

/// Where a call of `fn` is reported: the first instruction after its stack-split check
/// (`cmp rsp|r12, [r14+16]; jbe morestack`, preceded by `lea r12, [rsp-N]` for frames over
/// StackSmall, or by `mov r12, rsp; sub r12, N; jb morestack` over StackBig), which is
/// where Delve puts its trace breakpoint (the line table's prologue_end). A call that goes
/// through runtime.morestack (stack growth, a preemption request) restarts at the entry and
/// passes the check again, but reaches this instruction once. Nothing a value needs has
/// changed there: rsp, rbp and the argument registers are the entry's (CFA = rsp + 8).
/// Functions without a check (NOSPLIT, small leaves) are reported at low_pc.
proc::VirtAddr entry_tracepoint(const BinaryInfo& bi, const dwarf::Function& fn);

/// A function's stack-split check: its final `jbe` (to the morestack call) and the
/// instruction after it (entry_tracepoint). nullopt for a function without one.
struct StackCheck {
  proc::VirtAddr jbe;
  proc::VirtAddr fallthrough;
};
std::optional<StackCheck> stack_check(const BinaryInfo& bi, const dwarf::Function& fn);

/// Walks Go's frame-pointer chain for a trace event at a trap site (`in_body`: the pc is
/// inside the function, not at its entry or a RET), filling ev.stack.
void unwind_frames(const BinaryInfo& bi,
                   const std::function<bool(std::uint64_t, std::span<std::byte>)>& mem,
                   bool in_body, const proc::Registers& regs, int stack_depth, TraceEvent& ev);

/// The values a trace event reports: `fn`'s (or the inlined copy's) arguments at an entry,
/// its results at a return, where optimized code that does not describe a result at a RET
/// has it read from the register ABI's registers.
std::vector<Variable> load_trace_values(ValueLoader& loader, const dwarf::Function& fn,
                                        const dwarf::InlinedCall* inlined, bool is_return,
                                        bool deferreturn, std::uint64_t pc, std::uint64_t cfa,
                                        const RegisterFn& regs, const LoadConfig& cfg);

/// How a process event that ends a trace run ends it (exec, exit, kill, interruption): the
/// one mapping every engine's run loop uses. Only for those four kinds.
TraceExit trace_exit_of(const proc::StopEvent& ev);

/// Function tracing: entry and return tracepoints, reported as TraceEvents. Two engines
/// implement it: Tracer (ptrace traps) and UprobeTracer (uprobes + eBPF, no stop).
class TraceEngine {
 public:
  virtual ~TraceEngine() = default;
  /// Sets the entry tracepoint and every return tracepoint of `fn`. Returns false if `fn`
  /// was already traced.
  virtual bool trace_function(const dwarf::Function& fn) = 0;
  /// Sets an entry tracepoint on an inlined copy of a function (optimized builds inline
  /// small functions, often leaving no out-of-line copy at all). False if already traced.
  virtual bool trace_inlined(const dwarf::InlinedCall& call) = 0;
  virtual std::size_t tracepoint_count() const = 0;
  /// Runs the process until it exits or is interrupted, reporting every event.
  virtual TraceExit run(TraceObserver& observer) = 0;
  virtual TraceEngineStats stats() const = 0;
};

/// Non-stop function tracer: entry and return tracepoints that stop only the hitting thread
/// for the time it takes to read the goroutine id and the values, then let it run on with
/// the trapped instruction emulated (proc::Process::resume_thread).
class Tracer : public TraceEngine {
 public:
  Tracer(proc::Process& process, const BinaryInfo& bi, TraceOptions opts);

  bool trace_function(const dwarf::Function& fn) override;
  bool trace_inlined(const dwarf::InlinedCall& call) override;
  std::size_t tracepoint_count() const override { return sites_.size(); }
  TraceExit run(TraceObserver& observer) override;
  TraceEngineStats stats() const override { return {"ptrace", events_, events_, 0, 0}; }

  struct Site {
    const dwarf::Function* function = nullptr;
    bool is_return = false;
    bool deferreturn = false;
    bool goexit = false;  ///< runtime.goexit1: a goroutine is ending
    const dwarf::InlinedCall* inlined = nullptr;
  };
  /// For an engine that traps only some of its sites (the in-process engine, where no
  /// trampoline could be made): a trap at `addr` reporting `site`; false if there is one.
  bool add_trap(proc::VirtAddr addr, const Site& site);
  bool has_trap(proc::VirtAddr addr) const { return sites_.contains(addr); }
  /// The event of this tracer's trap at `pc`, which thread `tid` hit and is stopped at;
  /// nullopt when the trap reports nothing. The caller resumes the thread.
  std::optional<TraceEvent> trap_event(pid_t tid, proc::VirtAddr pc);

 private:
  /// Reads what a hit reports; nullopt when it cannot (no goroutine at a goexit1 trap).
  std::optional<TraceEvent> handle_hit(pid_t tid, const Site& site);
  /// Walks Go's frame-pointer chain from a trap site.
  void unwind(const Site& site, const proc::Registers& regs, TraceEvent& ev);
  proc::Process& process_;
  const BinaryInfo& bi_;
  TraceOptions opts_;
  std::uint64_t events_ = 0;
  std::unordered_map<proc::VirtAddr, Site> sites_;
};

}  // namespace goscope::target

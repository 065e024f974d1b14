#pragma once
#include <sys/types.h>

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "proc/addr.hpp"
#include "proc/process.hpp"
#include "proc/registers.hpp"
#include "target/variable.hpp"

namespace goscope::target {

class BinaryInfo;

/// The goroutine id running on `tid` (g from the TLS slot fs:-8, else R14; on the system
/// stack the m's curg), 0 when there is none.
std::int64_t goroutine_id_of(proc::Process& process, const BinaryInfo& bi, pid_t tid,
                             const proc::Registers& regs);

/// The canonical frame address at `regs.pc` from the CFI (Go: rbp+16 in the body, rsp+8 at
/// the entry), rsp+8 when no CFI covers the pc.
std::uint64_t frame_cfa(const BinaryInfo& bi, const proc::Registers& regs);

/// Source-level stepping (Delve's next/step/stepout) as a set of temporary traps the caller's
/// event loop consults: start() installs them, owns()/check() classify a breakpoint event,
/// finish_return() completes a stop at a RET. The traps share sites with user breakpoints
/// (proc::Process reference-counts them) and go away with clear() or the destructor.
///
/// Goroutine-aware: a trap hit by another goroutine, or by a deeper/shallower frame of the
/// same function (recursion), is ignored. Limits: `step` enters only direct calls (Delve
/// also follows indirect calls by single-stepping); a panic unwinding past the frame is
/// not followed.
///
/// Threading: tracer thread only, like proc::Process.
class Stepper {
 public:
  enum class Kind { next, step, step_out };
  Stepper(proc::Process& process, const BinaryInfo& bi);
  ~Stepper();
  Stepper(const Stepper&) = delete;
  Stepper& operator=(const Stepper&) = delete;

  /// Installs the traps for `kind` from thread `tid`'s position. Returns false when the
  /// thread is in no function with line information (the caller steps an instruction).
  bool start(Kind kind, pid_t tid);
  bool active() const { return !sites_.empty(); }
  bool owns(proc::VirtAddr addr) const { return sites_.contains(addr); }

  enum class Hit { ignore, done, at_return };
  /// Classifies a breakpoint event at an owned address (reads the thread's registers).
  Hit check(pid_t tid, proc::VirtAddr pc);
  /// After check() said at_return (every other thread stopped): loads the function's
  /// results at the RET with `cfg` (when given), then executes the RET so that the thread
  /// stands at the return address in the caller. Events of other threads that wait_event()
  /// returns meanwhile are appended to `other_events`.
  std::vector<Variable> finish_return(pid_t tid, const LoadConfig* cfg,
                                      std::vector<proc::StopEvent>& other_events);
  /// Removes every trap.
  void clear() noexcept;

 private:
  enum class SiteKind { line, ret, call };
  void add_site(proc::VirtAddr addr, SiteKind kind);

  proc::Process& process_;
  const BinaryInfo& bi_;
  std::unordered_map<proc::VirtAddr, SiteKind> sites_;
  std::int64_t goid_ = 0;
  std::uint64_t cfa_ = 0;
  const void* function_ = nullptr;  ///< dwarf::Function of the stepped frame
};

/// Executes one instruction of `tid` with the other threads held; events of other threads
/// that arrive meanwhile are appended to `other_events`. Returns the final event for `tid`
/// (single_step, or exited/killed).
proc::StopEvent step_one_instruction(proc::Process& process, pid_t tid,
                                     std::vector<proc::StopEvent>& other_events);

}  // namespace goscope::target

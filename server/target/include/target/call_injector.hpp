#pragma once
// Delve's `call` (proc.EvalExpressionWithCalls) for one top-level call of a Go function,
// injected through the runtime's debugCallV2 protocol (see fncall.hpp for the protocol's
// pieces: argument scattering, the frame size, the trap codes).
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "target/debuggee.hpp"
#include "target/run_control.hpp"
#include "target/variable.hpp"

namespace goscope::target {

/// What a call returned: the thread it ran on and its results (or the panic value).
struct CallResult {
  pid_t tid = 0;
  std::vector<Variable> values;
};

/// Threading: tracer thread only.
class CallInjector {
 public:
  CallInjector(Debuggee& dbg, RunControl& run)
      : dbg_(dbg), run_(run), p_(dbg.process()), bi_(dbg.binary()) {}

  /// Calls `expr` ("f(a, b)"; an expression without a call is just evaluated) on
  /// goroutine `goroutine_id` (0: the selected one), results loaded with `cfg`. `tell` is
  /// called once the target is about to run. Throws CommandError.
  CallResult call(const std::string& expr, std::int64_t goroutine_id, const LoadConfig& cfg,
                  const std::function<void()>& tell);

  struct CallArg;
  struct InjectedCall;

 private:
  void write_u64(std::uint64_t addr, std::uint64_t v);
  void call_other_event(const proc::StopEvent& ev);
  proc::StopEvent call_wait();
  void inject(pid_t tid, InjectedCall& c, const dwarf::Function& dbgcall, bool others_stopped);
  void start_injected(pid_t tid, InjectedCall& c, const dwarf::Function& dbgcall);

  Debuggee& dbg_;
  RunControl& run_;
  proc::Process& p_;
  const BinaryInfo& bi_;
};

}  // namespace goscope::target

#pragma once
// The run-control vocabulary the session shares with the target: logical breakpoints as
// Delve describes them, what a thread stopped for, and the error a refused request raises.
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "target/variable.hpp"
#include "target/views.hpp"

namespace goscope::target {

/// A request refused or failed in Delve's words ("Breakpoint exists at ...", "Process N
/// has exited with status S"); the session passes the text on unchanged.
class CommandError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Ids of the internal breakpoints Delve sets at a launch or attach.
inline constexpr int kUnrecoveredPanicId = -1;
inline constexpr int kFatalThrowId = -2;

/// A logical breakpoint or watchpoint, Delve's api.Breakpoint (same fields and meanings).
struct Breakpoint {
  int id = 0;
  std::string name;
  std::uint64_t addr = 0;
  std::vector<std::uint64_t> addrs;
  std::vector<int> addrpid;
  std::string file;
  int line = 0;
  std::string function_name;
  std::string cond;
  std::string hit_cond;
  bool hit_cond_per_g = false;
  bool tracepoint = false;
  bool trace_return = false;
  bool goroutine = false;
  int stacktrace = 0;
  std::vector<std::string> variables;
  std::optional<LoadConfig> load_args;
  std::optional<LoadConfig> load_locals;
  std::string watch_expr;
  int watch_type = 0;  ///< read 1 | write 2, and the watched size << 4
  /// The physical breakpoint's description (Delve's VerboseDescr), in physical listings.
  std::vector<std::string> verbose_descr;
  std::map<std::string, std::uint64_t> hit_count;  ///< goroutine id (decimal) -> hits
  bool no_logical = false;  ///< a physical listing's internal trap with no logical one
  std::uint64_t total_hit_count = 0;
  bool disabled = false;
  bool is_watchpoint() const { return watch_type != 0; }
};

/// What a breakpoint asked to be collected at a hit (Delve's api.BreakpointInfo).
struct BreakpointInfo {
  std::vector<FrameView> stacktrace;
  std::optional<GoroutineView> goroutine;
  std::vector<Variable> variables;
  std::vector<Variable> arguments;
  std::vector<Variable> locals;
};

/// Why a thread stopped (Delve's proc.StopReason, kept per thread and for the process). The
/// run loop decides it where it knows it; the protocols only translate it.
enum class StopKind {
  none,                ///< the thread stopped because another thread stopped the process
  entry,               ///< the launch or attach stop: nothing has run yet
  breakpoint,          ///< a breakpoint of the table (user, tracepoint, panic, fatal throw)
  watchpoint,          ///< a hardware watchpoint fired
  watch_out_of_scope,  ///< a stack watchpoint's frame returned (Delve stops there)
  step_done,           ///< next, step or stepOut finished on this thread
  instruction_step,    ///< one instruction was executed
  halt,                ///< a halt request interrupted the run (Delve's StopManual)
  call_returned,       ///< an injected function call returned (Delve's StopCallReturned)
  exited,              ///< the process exited or was killed
};

/// Why the last stop happened on a thread (what State reports for it).
struct ThreadStop {
  StopKind kind = StopKind::none;
  int breakpoint_id = 0;  ///< 0: none
  std::optional<BreakpointInfo> info;
  std::optional<std::vector<Variable>> return_values;
  /// The breakpoint's condition could not be evaluated (Delve's CondError): the thread
  /// stops and the command that resumed reports the error.
  std::optional<std::string> cond_error;
};

/// A breakpoint Restart could not set again, and why.
struct DiscardedBreakpoint {
  Breakpoint breakpoint;
  std::string reason;
};

}  // namespace goscope::target

#pragma once
// Hardware watchpoints as Delve sets them: a debug-register slot per watched variable and,
// for a variable on a goroutine's stack, the sentinel traps that follow its frame (deleted
// when the frame returns, moved when the runtime copies the stack).
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "target/breakpoint_table.hpp"
#include "target/debuggee.hpp"

namespace goscope::target {

/// Threading: tracer thread only. The watchpoints themselves are entries of the
/// BreakpointTable (one id space, as in Delve); this object owns their hardware side.
class Watchpoints {
 public:
  Watchpoints(Debuggee& dbg, BreakpointTable& table);
  ~Watchpoints();
  Watchpoints(const Watchpoints&) = delete;
  Watchpoints& operator=(const Watchpoints&) = delete;

  /// Whether hardware watchpoints trap on this machine (measured once per process by a
  /// traced child); `why` gets the reason when not.
  static bool hardware_available(std::string* why);

  /// Delve's CreateWatchpoint: `wtype` read 1 | write 2. Throws CommandError.
  Breakpoint create(const Scope& scope, const std::string& expr, int wtype);
  /// Releases a watchpoint's hardware slot and sentinels (the logical breakpoint stays).
  void drop(LogicalBreakpoint& lb);
  /// The logical breakpoint of hardware slot `slot`, if a watchpoint uses it.
  LogicalBreakpoint* of_slot(int slot);

  bool is_resize_trap(std::uint64_t pc) const { return resize_traps_.contains(pc); }
  bool is_scope_trap(std::uint64_t pc) const { return scope_traps_.contains(pc); }
  /// The RET of runtime.copystack hit by `tid`: the stack watchpoints of its goroutine move
  /// with the stack (Delve's adjustStackWatchpoint). Never a stop.
  void follow_stack_resize(pid_t tid, std::uint64_t pc);
  /// A sentinel at `pc` hit by `tid`: every stack watchpoint whose frame `tid` has returned
  /// from is deleted and listed in out_of_scope(). True if there was one.
  bool check_out_of_scope(pid_t tid, std::uint64_t pc);
  /// Stack watchpoints that went out of scope since clear_out_of_scope().
  const std::vector<Breakpoint>& out_of_scope() const { return out_of_scope_; }
  void clear_out_of_scope() { out_of_scope_.clear(); }
  /// The sentinels in a physical listing: one entry per address, one description per
  /// watchpoint it serves.
  std::vector<Breakpoint> physical_sentinels() const;

 private:
  std::int64_t value_size(const Variable& v) const;

  Debuggee& dbg_;
  BreakpointTable& table_;
  std::vector<Breakpoint> out_of_scope_;
  /// Out-of-scope sentinel traps: address -> watchpoint id.
  std::multimap<std::uint64_t, int> scope_traps_;
  /// Stack-resize sentinel traps: address -> watchpoint id.
  std::multimap<std::uint64_t, int> resize_traps_;
};

}  // namespace goscope::target

#pragma once
// The logical breakpoints of a session: their traps, conditions, hit counts and what a hit
// collects (tracepoint data), as Delve keeps them.
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "target/breakpoint.hpp"
#include "target/debuggee.hpp"
#include "target/location_spec.hpp"

namespace goscope::target {

/// A logical breakpoint and, for a watchpoint, what Watchpoints keeps of it.
struct LogicalBreakpoint {
  Breakpoint bp;
  std::string loc_expr;
  // Watchpoints (bp.watch_type != 0): the hardware slot, and for a variable on a goroutine's
  // stack its offset from stack.hi and the sentinel trap where its frame returns (Delve's
  // WatchOutOfScope breakpoint: goroutine scope_goid back in the frame at scope_frameoff).
  int watch_slot = -1;
  std::int64_t watch_stack_off = 0;
  std::uint64_t scope_trap = 0;
  std::int64_t scope_goid = 0;
  std::int64_t scope_frameoff = 0;
  /// Stack watchpoint: the RET of runtime.copystack, where the goroutine's stack has moved
  /// and the watched address follows it (Delve's StackResizeBreakpoint).
  std::uint64_t resize_trap = 0;
  /// Beyond Delve, never shown to JSON-RPC clients: a hit whose condition holds does not
  /// stop the process. The hitting thread alone is held while its information is collected
  /// (RunObserver::nonstop_hit), then moves past the trap; the others never stop. Set by
  /// the session for DAP logpoints and editor function traces.
  bool nonstop = false;
  /// How the expressions of bp.variables are loaded at a hit (Delve: LoadConfig{}).
  std::optional<LoadConfig> variables_cfg = std::nullopt;
  bool is_watchpoint() const { return bp.watch_type != 0; }
};

/// Delve's api.ValidBreakpointName: false with `why` when `name` cannot name a breakpoint.
bool valid_breakpoint_name(const std::string& name, std::string& why);
/// Whether hit number `count` satisfies Delve's hit condition "OP N".
bool hit_condition_matches(const std::string& cond, std::uint64_t count);
/// A breakpoint as a client sees it: a disabled breakpoint's traps are out of the process
/// and with them its addresses (a watchpoint keeps its slot).
Breakpoint shown(const Breakpoint& b);
/// Go's %q as Delve's messages and VerboseDescr quote expressions.
std::string quote_for_message(const std::string& s);
/// Go's %#x of a signed value: -0x178, 0x0.
std::string go_hex_signed(std::int64_t v);

/// Threading: tracer thread only.
class BreakpointTable {
 public:
  explicit BreakpointTable(Debuggee& dbg) : dbg_(dbg), spec_(dbg) {}

  /// Sets the traps of a request (Delve's CreateBreakpoint). Throws CommandError.
  Breakpoint create(Breakpoint req, const std::string& loc_expr);
  /// Delve's internal breakpoints: unrecovered-panic (-1) and runtime-fatal-throw (-2).
  void create_internal();
  /// Sets the breakpoints of a previous process again (Restart); those that cannot be set
  /// are discarded, with the reason.
  /// `next_id`: the previous table's, so that ids are never reused.
  std::vector<DiscardedBreakpoint> recreate(std::map<int, LogicalBreakpoint> old, int next_id);
  int next_id() const { return next_id_; }
  /// Every breakpoint, handed over (Restart).
  std::map<int, LogicalBreakpoint> take_all();

  /// By name when `name` is not empty, else by id. Throws CommandError.
  LogicalBreakpoint& find(int id, const std::string& name);
  LogicalBreakpoint* find(int id);
  /// Deletes a breakpoint and its traps (a watchpoint's slot through the watch dropper).
  Breakpoint clear(int id, const std::string& name);
  /// Flips a breakpoint's Disabled flag (Delve's ToggleBreakpoint). Throws CommandError.
  Breakpoint toggle(int id, const std::string& name);
  /// Delve's AmendBreakpoint. Throws CommandError.
  void amend(const Breakpoint& bp);
  /// The user's and the internal breakpoints, as Delve lists them (internal first).
  std::vector<Breakpoint> list() const;
  /// The user breakpoints (id > 0) as clients see them.
  std::map<int, Breakpoint> user_breakpoints() const;
  /// Delve's ListBreakpoints{All}: one entry per physical breakpoint (an address, or a
  /// watchpoint's hardware slot), described as Delve's VerboseDescr.
  std::vector<Breakpoint> physical() const;

  const std::map<int, LogicalBreakpoint>& all() const { return bps_; }
  /// A new id (a watchpoint takes one even when it cannot be set, as in Delve).
  int take_id() { return next_id_++; }
  void insert(LogicalBreakpoint lb);
  void erase(int id) { bps_.erase(id); }
  /// True when one of the breakpoints' traps is at `pc`.
  bool owns_site(std::uint64_t pc) const { return site_owner_.contains(pc); }
  /// How a watchpoint's hardware slot and sentinels are released (set by Watchpoints).
  void set_watch_dropper(std::function<void(LogicalBreakpoint&)> drop) {
    drop_watch_ = std::move(drop);
  }

  /// A hit of an enabled breakpoint at `pc` by `tid` whose condition holds: counts it and
  /// loads what the breakpoint asks for. `primary`: the thread that stopped the process
  /// (the others are stopped here, after its arguments are read); otherwise every thread
  /// is stopped already.
  std::optional<ThreadStop> user_hit(pid_t tid, std::uint64_t pc, bool primary);
  /// A hit of `lb` (a breakpoint or a watchpoint) by `tid`, as user_hit().
  std::optional<ThreadStop> hit(LogicalBreakpoint& lb, pid_t tid, bool primary);
  /// A hit of a nonstop breakpoint by `tid`, the only thread stopped (or every thread is
  /// stopped already): as hit(), but nothing else is ever stopped.
  std::optional<ThreadStop> hit_alone(LogicalBreakpoint& lb, pid_t tid);
  /// The enabled nonstop breakpoint whose trap is at `pc`, if any.
  LogicalBreakpoint* nonstop_owner(std::uint64_t pc);
  /// Makes breakpoint `id` nonstop or not (see LogicalBreakpoint::nonstop). Throws
  /// CommandError.
  void set_nonstop(int id, bool on, std::optional<LoadConfig> variables_cfg);
  /// How many times a hit made this table stop every thread (for the run statistics).
  std::uint64_t process_stops() const { return process_stops_; }

  /// Delve parses a condition when the breakpoint is created or amended: a syntax error is
  /// refused then, in go/parser's words. Throws CommandError.
  static void check_condition(const std::string& cond);

 private:
  void set_enabled(LogicalBreakpoint& lb, bool enabled);
  std::string describe_exists(std::uint64_t addr) const;
  bool condition_true(const LogicalBreakpoint& lb, pid_t tid, std::optional<std::string>& error);
  BreakpointInfo collect_info(const LogicalBreakpoint& lb, pid_t tid, std::int64_t goid,
                              const std::vector<Variable>* args_loaded);
  enum class HitMode { primary, secondary, alone };
  std::optional<ThreadStop> hit_in(LogicalBreakpoint& lb, pid_t tid, HitMode mode);
  void stop_everything();
  void drop_watch(LogicalBreakpoint& lb) {
    if (drop_watch_)
      drop_watch_(lb);
  }

  Debuggee& dbg_;
  LocationSpec spec_;
  std::map<int, LogicalBreakpoint> bps_;
  std::unordered_map<std::uint64_t, int> site_owner_;
  int next_id_ = 1;
  std::function<void(LogicalBreakpoint&)> drop_watch_;
  std::uint64_t process_stops_ = 0;
};

}  // namespace goscope::target

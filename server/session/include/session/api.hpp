#pragma once
// Protocol-neutral value types of a debugging session, shaped like Delve's service/api
// types so that the JSON-RPC front end is a field-by-field translation and the DAP front
// end can use the same data. No proc/target types appear here (values/ is a std-only
// vocabulary below both).
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "values/variable.hpp"

namespace goscope::session::api {

/// How much of a value to load (Delve api.LoadConfig), and a loaded value (Delve
/// api.Variable; `kind` is Go's reflect.Kind): the very types the target loads values in
/// (server/values), so that a value reaches a front end without a copy.
using values::kShortLoadConfig;  ///< dlv's ShortLoadConfig (trace, args/locals without -v)
using values::LoadConfig;
using values::Variable;

/// The terminal's default config, and what Eval uses when the client sends none.
inline constexpr LoadConfig kDefaultLoadConfig{true, 1, 64, 64, -1};

/// Delve api.Function.
struct Function {
  std::string name;
  std::uint64_t value = 0;  ///< entry pc
  bool optimized = false;
  bool operator==(const Function&) const = default;
};

/// Delve api.Location.
struct Location {
  std::uint64_t pc = 0;
  std::string file;
  int line = 0;
  std::optional<Function> function;
  std::vector<std::uint64_t> pcs;  ///< FindLocation: every address of the location
  std::vector<int> pc_pids;        ///< FindLocation: the process of each of `pcs`
  bool operator==(const Location&) const = default;
};

/// Delve api.Stackframe (Location flattened into it on the wire).
/// Delve api.Defer: a deferred call registered by a frame.
struct Defer {
  Location deferred_loc;  ///< the function that will run
  Location defer_loc;     ///< the defer statement
  std::uint64_t sp = 0;
  std::string unreadable;
  bool operator==(const Defer&) const = default;
};

struct Stackframe {
  Location location;
  std::vector<Defer> defers;  ///< read when asked (Stacktrace Opts ReadDefers)
  std::vector<Variable> locals;
  std::vector<Variable> arguments;
  bool vars_loaded = false;  ///< locals/arguments were asked for (Stacktrace Full)
  std::int64_t frame_offset = 0;
  std::int64_t frame_pointer_offset = 0;
  bool bottom = false;
  std::string err;
  bool operator==(const Stackframe&) const = default;
};

/// Delve api.Goroutine.
struct Goroutine {
  std::int64_t id = 0;
  Location current_loc;
  Location user_current_loc;
  Location go_statement_loc;
  Location start_loc;
  int thread_id = 0;
  std::uint64_t status = 0;
  std::int64_t wait_since = 0;
  std::int64_t wait_reason = 0;
  std::string unreadable;
  std::map<std::string, std::string> labels;
  bool operator==(const Goroutine&) const = default;
};

/// Delve api.GoroutineField: what a ListGoroutines filter tests or its grouping keys on.
/// On the wire a uint8 (Filters[].Kind, GroupBy); values above kGoroutineUser are accepted
/// by dlv and behave as kGoroutineFieldNone (a filter always true, a group key of "").
enum GoroutineField : int {
  kGoroutineFieldNone = 0,
  kGoroutineCurrentLoc = 1,  ///< "file:line in fn" of current_loc contains Arg
  kGoroutineUserLoc = 2,     ///< ... of user_current_loc
  kGoroutineGoLoc = 3,       ///< ... of go_statement_loc
  kGoroutineStartLoc = 4,    ///< ... of start_loc
  kGoroutineLabel = 5,       ///< Arg "key=value": labels[key] == value; Arg "key": key is set
  kGoroutineRunning = 6,     ///< on a thread (thread_id != 0)
  kGoroutineUser = 7,        ///< not a runtime goroutine (by start_loc's function)
};

/// Delve api.ListGoroutinesFilter (ListGoroutines `Filters[]`: Kind, Negated, Arg).
struct GoroutineFilter {
  int kind = kGoroutineFieldNone;
  std::string arg;
  bool negated = false;
  bool operator==(const GoroutineFilter&) const = default;
};

/// Delve api.GoroutineGroupingOptions (embedded in ListGoroutinesIn: GroupBy, GroupByKey,
/// MaxGroupMembers, MaxGroups at the top level of the params object).
struct GoroutineGrouping {
  int group_by = kGoroutineFieldNone;  ///< kGoroutineFieldNone: no grouping
  std::string group_by_key;            ///< the label key for kGoroutineLabel
  int max_group_members = 0;           ///< goroutines kept per group (dlv keeps none if <= 0)
  int max_groups = 0;                  ///< <= 0: unlimited
  bool operator==(const GoroutineGrouping&) const = default;
};

/// Delve api.GoroutineGroup: members are goroutines[offset, offset + count).
struct GoroutineGroup {
  std::string name;
  int offset = 0;
  int count = 0;
  int total = 0;  ///< goroutines of the (filtered) page in the group, kept or not
  bool operator==(const GoroutineGroup&) const = default;
};

/// Delve rpc2.ListGoroutinesOut.
struct GoroutineList {
  std::vector<Goroutine> goroutines;
  int nextg = -1;
  std::optional<std::vector<GoroutineGroup>> groups;  ///< null on the wire unless grouped
  bool too_many_groups = false;
};

/// Delve api.Breakpoint. `tracepoint` is `"continue"` on the wire.
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
  /// ListBreakpoints{All}: the physical breakpoint's description (Delve's VerboseDescr).
  std::vector<std::string> verbose_descr;
  std::map<std::string, std::uint64_t> hit_count;  ///< goroutine id (decimal) -> hits
  /// ListBreakpoints{All}: an internal breakpoint with no logical one (hitCount null).
  bool no_logical = false;
  std::uint64_t total_hit_count = 0;
  bool disabled = false;
  bool operator==(const Breakpoint&) const = default;
};

/// What was collected for a thread stopped at a breakpoint (Delve api.BreakpointInfo).
struct BreakpointInfo {
  std::vector<Stackframe> stacktrace;
  std::optional<Goroutine> goroutine;
  std::vector<Variable> variables;
  std::vector<Variable> arguments;
  std::vector<Variable> locals;
  bool operator==(const BreakpointInfo&) const = default;
};

/// Delve api.Thread.
struct Thread {
  int id = 0;
  std::uint64_t pc = 0;
  std::string file;
  int line = 0;
  std::optional<Function> function;
  std::int64_t goroutine_id = 0;
  std::optional<Breakpoint> breakpoint;
  std::optional<BreakpointInfo> breakpoint_info;
  std::optional<std::vector<Variable>> return_values;  ///< null unless loaded
  bool call_return = false;
  bool operator==(const Thread&) const = default;
};

/// Delve api.DebuggerState.
struct DebuggerState {
  int pid = 0;
  bool running = false;
  std::optional<Thread> current_thread;
  std::optional<Goroutine> selected_goroutine;
  std::optional<std::vector<Thread>> threads;  ///< null while running or after exit
  bool next_in_progress = false;
  /// Stack watchpoints whose frame returned in the last continue (null on the wire if none).
  std::vector<Breakpoint> watch_out_of_scope;
  bool exited = false;
  int exit_status = 0;
};

/// Delve api.EvalScope.
struct EvalScope {
  std::int64_t goroutine_id = -1;  ///< -1: the selected goroutine
  int frame = 0;
  int deferred_call = 0;
};

/// Delve api.DebuggerCommand.
struct DebuggerCommand {
  std::string name;  ///< continue, next, step, stepOut, stepInstruction, halt, switchThread, ...
  int thread_id = 0;
  std::int64_t goroutine_id = 0;
  std::optional<LoadConfig> return_info_load_config;
  std::string expr;
  bool unsafe_call = false;
};

/// Delve api.DiscardedBreakpoint.
struct DiscardedBreakpoint {
  Breakpoint breakpoint;
  std::string reason;
};

/// Delve api.TracepointResult: one hit of a buffered (eBPF) tracepoint.
struct TracepointResult {
  std::uint64_t addr = 0;
  std::string file;
  int line = 0;
  bool is_ret = false;
  std::string function_name;
  std::int64_t goroutine_id = 0;
  std::vector<Variable> input_params;
  std::vector<Variable> return_params;
};

/// One register for ListRegisters.
struct Register {
  std::string name;
  std::string value;
  int dwarf_number = 0;
};

/// Delve api.PackageBuildInfo.
struct PackageBuildInfo {
  std::string import_path;
  std::string directory_path;
  std::vector<std::string> files;  ///< empty: null on the wire
};

/// Delve api.AsmInstruction (RPCServer.Disassemble).
struct AsmInstruction {
  Location loc;
  std::optional<Location> dest_loc;  ///< a CALL/JMP's target (null otherwise)
  std::string text;
  std::vector<std::byte> bytes;
  bool breakpoint = false;  ///< one of our traps is at loc.pc
  bool at_pc = false;       ///< the goroutine's thread stands at loc.pc
};

}  // namespace goscope::session::api

#pragma once
#include <sys/types.h>

#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "session/api.hpp"
#include "session/events.hpp"

namespace goscope::session {

/// What kind of failure a DebuggerError is, so that each front end maps it to its own
/// codes in one place (JSON-RPC sends the text only; DAP picks an error id and wording).
enum class ErrorKind {
  not_stopped,  ///< needs a stopped target, and it runs
  exited,       ///< the target has exited, or the session detached or is shutting down
  not_found,    ///< no such breakpoint, thread, goroutine, function, file, location
  invalid,      ///< a request the debugger refuses as given (bad argument, bad state)
  unsupported,  ///< a feature goscope (or this target) does not have
  internal,     ///< something that should not happen (an unexpected exception)
};
std::string_view error_kind_name(ErrorKind k);

/// A debugger failure whose message is what Delve would send (clients match on some of
/// these texts, e.g. "Breakpoint exists", "has exited with status"). Thrown without a kind,
/// the kind is derived from the text (classify_error: the texts are Delve's and stable), so
/// that existing throw sites need no change; new code passes the kind.
class DebuggerError : public std::runtime_error {
 public:
  explicit DebuggerError(const std::string& what);
  DebuggerError(ErrorKind kind, const std::string& what);
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};
/// The kind of a Delve error text ("could not find ..." is not_found, "Process N has
/// exited with status S" exited, "... not supported ..." unsupported, else invalid).
ErrorKind classify_error(std::string_view what);
/// The kind of any exception a Debugger call ended with (internal unless DebuggerError).
ErrorKind error_kind(const std::exception_ptr& e);

/// How the session gets its process.
struct DebuggerConfig {
  std::string executable;         ///< exec/debug/test: the binary to launch
  std::vector<std::string> args;  ///< target argv[1..]
  std::string working_dir;        ///< --wd
  bool disable_aslr = false;
  std::optional<pid_t> attach_pid;  ///< attach instead of launching
  /// -r/--redirect: the program's stdin, stdout and stderr from/to these files (empty:
  /// inherited). Restart reuses them.
  std::string stdin_path, stdout_path, stderr_path;
  std::string tty;  ///< --tty: the program's terminal (a new session), instead of ours
  /// The program in a process group of its own (the interactive terminal client's Ctrl-C
  /// must halt, not reach the program).
  bool new_process_group = false;
  /// The target's environment ("KEY=VALUE"); nullopt: ours.
  std::optional<std::vector<std::string>> env;
  /// Read the target's stdout and stderr through pipes and report them as OutputEvents
  /// (dlv dap); otherwise the target writes to our own stdout and stderr (dlv --headless).
  bool capture_output = false;
  /// Post-mortem (`goscope core`, DAP mode core): the process is read from this core file
  /// of `executable`; nothing runs, and what needs a live process fails with Delve's text.
  std::string core_file;
};

/// Delve's api.DumpState: how a DumpStart is getting on.
struct DumpState {
  bool dumping = false;
  bool all_done = false;
  int threads_done = 0, threads_total = 0;
  std::uint64_t mem_done = 0, mem_total = 0;
  std::string err;
};

/// A run-control command, typed (api::DebuggerCommand carries Delve's name instead).
struct Command {
  Command() = default;
  explicit Command(CommandKind k) : kind(k) {}
  CommandKind kind = CommandKind::continue_;
  int thread_id = 0;              ///< switchThread
  std::int64_t goroutine_id = 0;  ///< switchGoroutine; call: the goroutine to call on
  std::optional<api::LoadConfig> return_info_load_config;  ///< steps: load return values
  std::string expr;                                        ///< call: the call expression
  bool unsafe_call = false;
};
api::DebuggerCommand to_api(const Command& c);

/// An editor's function trace (beyond Delve: `dlv trace` inside a debug session).
struct FunctionTraceRequest {
  std::string regexp;     ///< Go (RE2) syntax, matched against the binary's function names
  int stack_depth = 0;    ///< dlv trace --stack N
  std::string json_path;  ///< Chrome trace-event JSON of the calls, written when it ends
};
struct FunctionTrace {
  int id = 0;
  std::vector<std::string> functions;  ///< traced now
  /// Matched but not traced, with why (e.g. a breakpoint of the user's is already there).
  std::vector<std::pair<std::string, std::string>> skipped;
};
/// How the run loop served breakpoint hits since the process started (beyond Delve).
struct RunStats {
  std::uint64_t nonstop_hits = 0;   ///< logpoint and trace hits served holding one thread
  std::uint64_t process_stops = 0;  ///< hits that stopped every thread
};

/// One debugging session over one Go process, protocol-neutral (Delve's
/// service/debugger.Debugger).
///
/// Threading: every public member may be called from any thread. All ptrace work runs on
/// one private tracer thread that owns the process; calls are posted to it and wait for
/// their result, so they serialize like Delve's target lock: while a `continue` runs, other
/// calls wait until the target stops. Two calls do not wait: state(non_blocking=true)
/// answers at once from the running flag, and request_halt() only raises the process'
/// async-signal-safe interrupt (no ptrace), which makes the running command return.
class Debugger {
 public:
  /// Launches or attaches; the process is left stopped (at its entry point when launched).
  /// Throws DebuggerError.
  explicit Debugger(DebuggerConfig cfg);
  /// Halts a running target, then kills a launched process or detaches from an attached one.
  ~Debugger();
  Debugger(const Debugger&) = delete;
  Debugger& operator=(const Debugger&) = delete;

  int pid() const;
  /// True when attached to a process that the debugger did not start.
  bool attached_to_existing_process() const;
  std::string executable_path() const;
  /// The target is a core file (DebuggerConfig::core_file): Delve's Recorded, backend "core".
  bool is_core() const;

  /// Delve's DumpStart (debugger_dump.cpp): creates `path` and writes a core of the stopped
  /// process to it on the tracer thread, which answers nothing else meanwhile (as Delve
  /// holds the target lock). Returns the state at once. Throws "core dumping not
  /// supported" for a core, "core dump in progress", or the file's creation error.
  DumpState dump_start(const std::string& path);
  /// The dump's state once it has finished or `wait_ms` have passed (0: at once).
  DumpState dump_wait(int wait_ms);
  /// Asks a dump in progress to stop (the partial file is removed).
  void dump_cancel();

  /// The current state; blocking waits until the target stops. Throws "Process N has exited
  /// with status S" once the target has exited (blocking only).
  api::DebuggerState state(bool non_blocking);
  /// Runs a Command (continue, next, step, stepOut, stepInstruction, halt, switchThread,
  /// switchGoroutine). `resumed` is called (on the tracer thread) once the target runs or
  /// immediately for commands that do not resume it.
  api::DebuggerState command(const api::DebuggerCommand& cmd,
                             const std::function<void()>& resumed = {});
  /// Stops a running target soon; no ptrace, callable from any thread.
  void request_halt();

  /// What command_async()/state_async() report: the state, or (state == nullptr) the
  /// exception command()/state() would have thrown.
  using StateCallback =
      std::function<void(const api::DebuggerState* state, std::exception_ptr error)>;
  /// command() without waiting: returns at once, and `done` runs on the tracer thread when
  /// the command has finished, so that a front end can answer from the thread that owns
  /// the process instead of waking a waiting one. `done` must not block for long (nothing
  /// else runs on the tracer thread meanwhile) and must not call back into the Debugger;
  /// it is called on the calling thread when the session is already shutting down.
  void command_async(const api::DebuggerCommand& cmd, std::function<void()> resumed,
                     StateCallback done);
  /// state() without waiting, as command_async(). A non-blocking state of a running target
  /// is reported at once, on the calling thread.
  void state_async(bool non_blocking, StateCallback done);
  /// The typed forms of command() and command_async().
  api::DebuggerState command(const Command& cmd, const std::function<void()>& resumed = {});
  void command_async(const Command& cmd, std::function<void()> resumed, StateCallback done);

  /// Delivers every event from now on to `handler` (see EventHandler for the threads) until
  /// the returned Subscription is dropped. Every front end gets every event, whichever
  /// front end's request caused it.
  [[nodiscard]] Subscription subscribe(EventHandler handler);

  api::Breakpoint create_breakpoint(const api::Breakpoint& req, const std::string& loc_expr,
                                    bool suspended);
  /// Delve's CreateWatchpoint: a hardware watchpoint on the variable `expr` evaluates to in
  /// `scope`; `type` is read 1 | write 2 (reads are refused for stack variables). A stack
  /// variable's watchpoint is deleted when its goroutine's topmost frame returns (reported
  /// in DebuggerState::watch_out_of_scope).
  api::Breakpoint create_watchpoint(const api::EvalScope& scope, const std::string& expr, int type);
  /// Whether hardware watchpoints trap on this machine (some hypervisors accept the debug
  /// registers and never trap; create_watchpoint then fails with "hardware watchpoints do
  /// not fire on this machine"). Needs no session: measured once per process by a traced
  /// child; `why` gets the reason when not.
  static bool hardware_watchpoints_available(std::string* why = nullptr);
  api::Breakpoint clear_breakpoint(int id, const std::string& name);
  api::Breakpoint toggle_breakpoint(int id, const std::string& name);
  void amend_breakpoint(const api::Breakpoint& bp);
  api::Breakpoint get_breakpoint(int id, const std::string& name);
  std::vector<api::Breakpoint> breakpoints(bool all);
  std::vector<std::uint64_t> function_return_locations(const std::string& fn_name);
  /// Delve's CreateEBPFTracepoint: the entry and returns of the function named `fn_name`
  /// recorded while the target runs, without stopping it for the client (non-stop traps,
  /// see target/buffered_trace.hpp), for buffered_tracepoints() to collect.
  void create_ebpf_tracepoint(const std::string& fn_name);
  /// Delve's GetBufferedTracepoints: the hits recorded since the previous call, oldest
  /// first. Any thread; never waits for a running command. `dropped` gets how many hits
  /// the bounded buffer had to drop since the previous call (none while clients poll).
  std::vector<api::TracepointResult> buffered_tracepoints(std::uint64_t* dropped = nullptr);
  /// Beyond Delve: `on` makes a breakpoint's hits never stop the process (a DAP logpoint):
  /// the hitting thread alone is held while its condition, hit condition and `variables`
  /// (loaded with `variables_cfg`) are read, then it goes on; each hit is a TraceEvent
  /// with `nonstop` set. A condition that cannot be evaluated still stops. JSON-RPC never
  /// sees the flag.
  void set_breakpoint_nonstop(int id, bool on, const api::LoadConfig& variables_cfg);

  /// Beyond Delve: traces every function matching the regexp as `dlv trace` would, with
  /// nonstop tracepoints at its entry and return sites; every call and return is a
  /// TraceEvent with `text` in dlv trace's words (goroutine-paired). Throws DebuggerError
  /// for a bad regexp or when nothing matches.
  FunctionTrace trace_functions(const FunctionTraceRequest& req);
  /// Ends the tracing of the traced functions matching `regexp` (all when empty): their
  /// tracepoints are cleared, and a trace left with no function writes its JSON file.
  /// Returns the functions no longer traced.
  std::vector<std::string> untrace_functions(const std::string& regexp);
  /// The functions traced now.
  std::vector<std::string> traced_functions();
  RunStats run_stats();

  std::vector<api::Thread> threads();
  api::Thread thread(int tid);
  std::vector<api::Goroutine> goroutines(int start, int count, int* next);
  /// Delve's FindGoroutine: one goroutine by id without converting the others (the DAP
  /// front end asks this at every stackTrace and for a capped thread list); nullopt when
  /// there is none.
  std::optional<api::Goroutine> goroutine(std::int64_t id);
  /// Delve's ListGoroutines: the page [start, start+count) read first, then filtered and
  /// grouped (Nextg comes from the unfiltered page, as in Delve).
  api::GoroutineList goroutines(int start, int count,
                                const std::vector<api::GoroutineFilter>& filters,
                                const api::GoroutineGrouping& grouping);
  /// `opts`: Delve's StacktraceOptions bits (1 ReadDefers, 2 Simple, 4 G: from g.sched).
  std::vector<api::Stackframe> stacktrace(std::int64_t goroutine_id, int depth, bool full,
                                          const std::optional<api::LoadConfig>& cfg,
                                          unsigned opts = 0);
  std::vector<api::Variable> local_vars(const api::EvalScope& scope, const api::LoadConfig& cfg);
  std::vector<api::Variable> function_args(const api::EvalScope& scope, const api::LoadConfig& cfg);
  std::vector<api::Variable> package_vars(const std::string& filter, const api::LoadConfig& cfg);
  api::Variable eval(const api::EvalScope& scope, const std::string& expr,
                     const api::LoadConfig& cfg);
  void set_variable(const api::EvalScope& scope, const std::string& symbol,
                    const std::string& value);
  /// Delve's ListRegisters: a thread's registers (0: the current thread) or, with `scope`,
  /// those of a frame (ScopeRegisters).
  std::vector<api::Register> registers(int thread_id, bool include_fp,
                                       const std::optional<api::EvalScope>& scope = {});
  std::vector<std::byte> examine_memory(std::uint64_t addr, int length);
  /// Delve's ListPackagesBuildInfo: the packages of the binary from its compile units.
  std::vector<api::PackageBuildInfo> packages_build_info(bool include_files);
  /// Delve's Disassemble: [start, end), or the function containing `start` when `end` is 0;
  /// `flavour` 0 GNU, 1 Intel, 2 Go. The scope's goroutine marks AtPC.
  std::vector<api::AsmInstruction> disassemble(const api::EvalScope& scope, std::uint64_t start,
                                               std::uint64_t end, int flavour);

  std::vector<std::string> functions(const std::string& filter);
  std::vector<std::string> sources(const std::string& filter);
  std::vector<std::string> types(const std::string& filter);
  /// Delve location specs: file:line, func, func:line, /regexp/, +N, -N, N, *addr.
  std::vector<api::Location> find_location(const api::EvalScope& scope, const std::string& spec,
                                           bool include_non_executable_lines);

  /// Kills and relaunches the process, keeping breakpoints. Throws when attached.
  std::vector<api::DiscardedBreakpoint> restart(
      const std::optional<std::vector<std::string>>& new_args);
  /// Drops the traps of a next/step/stepOut interrupted by a breakpoint of another goroutine
  /// (Delve's CancelNext; NextInProgress becomes false).
  void cancel_next();
  /// Ends the session: kills the process (always when launched) or detaches. Idempotent.
  void detach(bool kill);
  bool detached() const;

  /// Delve's TargetGoVersion, "Go cmd/compile go1.19.8"; "" while the target runs or when
  /// the binary does not say. Does not wait for a running command.
  std::string target_go_version();
  /// Seconds since the epoch (with nanoseconds) of the executable's mtime.
  std::int64_t last_modified_ns() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace goscope::session

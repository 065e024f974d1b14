#pragma once
// The process under run control: the Target, the thread and goroutine the user looks at,
// the goroutine ids of threads (read once per stop), and how the process ended.
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "target/scope.hpp"
#include "target/variable.hpp"
#include "target/views.hpp"

namespace goscope::proc {
class Process;
struct StopEvent;
}  // namespace goscope::proc
namespace goscope::dwarf {
struct Function;
}  // namespace goscope::dwarf

namespace goscope::target {

class BinaryInfo;
class Target;
struct Frame;
struct Goroutine;
struct Location;

/// How to start the program (a launch) or which process to attach to.
struct LaunchSpec {
  std::string path;
  std::vector<std::string> args;
  std::string working_dir;
  bool disable_aslr = false;
  std::string stdin_path, stdout_path, stderr_path;  ///< empty: inherited
  std::string tty_path;
  bool new_process_group = false;
  std::optional<std::vector<std::string>> env;
  std::optional<pid_t> attach_pid;  ///< attach instead of launching
  /// Post-mortem: read the process from this core file (`path` is the executable it ran)
  /// instead of launching; nothing runs, memory and registers are the core's.
  std::string core_path;
};

/// Threading: tracer thread only, as Target.
class Debuggee {
 public:
  /// Reads the executable of `spec` (or /proc/PID/exe when attaching), calls
  /// `before_start` (which may still change the spec: the output pipes), then launches
  /// (stopped at its entry) or attaches. Throws CommandError in Delve's words.
  Debuggee(LaunchSpec spec, const std::function<void(LaunchSpec&)>& before_start);
  ~Debuggee();
  Debuggee(const Debuggee&) = delete;
  Debuggee& operator=(const Debuggee&) = delete;

  Target& target() { return *tgt_; }
  proc::Process& process() { return *p_; }
  const BinaryInfo& binary() const { return *bi_; }
  pid_t pid() const { return pid_; }
  /// The Go version the binary was built with ("go1.19.8"; "" when it does not say).
  const std::string& go_version() const { return go_version_; }

  /// Makes a running command stop soon: async-signal-safe, callable from any thread.
  void request_interrupt();

  // ---- how it ended ----
  bool exited() const { return exited_; }
  int exit_status() const { return exit_status_; }
  /// Records the exit and calls the exit hook.
  void mark_exit(int status);
  void set_exit_hook(std::function<void()> hook) { on_exit_ = std::move(hook); }
  /// "Process N has exited with status S", as CommandError.
  [[noreturn]] void throw_exited() const;
  /// Delve's exit status of an exit event: the code, or minus the killing signal.
  static int exit_status_of(const proc::StopEvent& ev);
  /// Kills the process (`kill`) or detaches from it (errors are ignored: it may be gone),
  /// and drops the process and the binary: only pid(), exited() and live() remain.
  void end(bool kill);
  /// The process is there to be traced: neither exited nor ended.
  bool live() const { return !exited_ && !ended_; }
  /// Read from a core file (LaunchSpec::core_path): it can be read, not run or changed.
  bool is_core() const { return is_core_; }

  // ---- where the user looks ----
  pid_t current_thread() const { return current_tid_; }
  void set_current_thread(pid_t tid) { current_tid_ = tid; }
  std::int64_t selected_goroutine() const { return selected_goid_; }
  void set_selected_goroutine(std::int64_t goid) { selected_goid_ = goid; }
  /// Makes `tid` current and its goroutine selected (a stop on that thread).
  void select_thread(pid_t tid);
  /// The scope of a request: a goroutine of -1 is the selected one (Delve's EvalScope).
  Scope scope(std::int64_t goroutine_id, int frame, int deferred_call);

  // ---- threads and goroutines at a stop ----
  std::vector<pid_t> threads();
  bool has_thread(pid_t tid);
  std::uint64_t pc_of(pid_t tid);
  /// The goroutine running on `tid` (0: none), cached until invalidate().
  std::int64_t goid_of(pid_t tid);
  /// The thread running goroutine `goid` (the current thread first), 0 when none does.
  pid_t thread_of(std::int64_t goid);
  /// Reads every thread's goroutine id with two system calls (all threads are stopped).
  void prefetch_goroutines();
  void prefetch_goroutines(const std::vector<pid_t>& tids);
  /// Goroutine `goid`, read from thread `tid` when it runs there; a goroutine that cannot
  /// be read is shown with its thread's position.
  Goroutine goroutine_on(std::int64_t goid, pid_t tid);
  GoroutineView goroutine_view(std::int64_t goid, pid_t tid);
  /// The parameters of the function at the thread's pc (entry, body or RET), as Delve's
  /// breakpoint LoadArgs: arguments and results, with their flags.
  std::vector<Variable> load_params(pid_t tid, const LoadConfig& cfg, bool results_only);
  /// The stack of a stopped thread for a breakpoint's Stacktrace (a failure to unwind is
  /// not a reason to lose the stop: the frames read so far, or none).
  std::vector<Frame> thread_frames(pid_t tid, int depth);

  // ---- resuming ----
  /// Drops everything read while stopped (target caches, goroutine ids).
  void invalidate();
  /// The thread goes on: what was read about it alone is forgotten.
  void forget_thread(pid_t tid);
  /// Stops every thread (all-stop); the goroutine ids cached so far stay valid.
  void stop_everything();

  // ---- static knowledge ----
  PcLocation location(std::uint64_t pc) const;
  std::optional<FunctionSummary> function_of(const Location& l) const;
  PcLocation view(const Location& l) const;
  FrameView view(const Frame& f) const;
  GoroutineView view(const Goroutine& g) const;
  const dwarf::Function* find_function(const std::string& name) const;

 private:
  std::unique_ptr<Target> tgt_;
  proc::Process* p_ = nullptr;
  const BinaryInfo* bi_ = nullptr;
  pid_t pid_ = 0;
  std::string go_version_;
  bool exited_ = false;
  bool ended_ = false;
  bool is_core_ = false;
  int exit_status_ = 0;
  std::function<void()> on_exit_;
  pid_t current_tid_ = 0;
  std::int64_t selected_goid_ = 0;
  std::unordered_map<pid_t, std::int64_t> goid_cache_;
};

}  // namespace goscope::target

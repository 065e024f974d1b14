#pragma once
// One `goscope trace` run below the session: the binary, the functions a selection picks
// (with --follow-calls), the process (launched or attached) and the trace engine.
#include <sys/types.h>

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "target/go_regexp.hpp"
#include "target/trace_event.hpp"

namespace goscope::proc {
class Process;
}

namespace goscope::target {

class BinaryInfo;
class TraceEngine;

/// Which functions to trace: those `regexp` matches, or in one of `packages` (Go package
/// patterns, "a/b/..."), but not those `exclude` matches; with `follow_calls` > 0 also
/// every function they reach through direct calls, up to that depth.
struct TraceSelection {
  const GoRegexp* regexp = nullptr;  ///< nullptr: none
  std::vector<std::string> packages;
  const GoRegexp* exclude = nullptr;
  int follow_calls = 0;
};

/// Threading: the thread that calls start() must call run(), detach() and kill();
/// request_interrupt() may come from any thread or a signal handler.
class TraceSession {
 public:
  /// Loads the executable. Throws CommandError ("could not launch process: ...").
  explicit TraceSession(const std::string& path);
  ~TraceSession();
  TraceSession(const TraceSession&) = delete;
  TraceSession& operator=(const TraceSession&) = delete;

  /// Picks the functions and inlined calls to trace. Throws CommandError ("no breakpoints
  /// set") when there are none.
  void select(const TraceSelection& sel);
  /// The functions --follow-calls started from (empty without it).
  const std::vector<std::string>& follow_roots() const { return roots_; }
  /// The line table's file and line of `pc`.
  std::optional<SourceLine> source_line(std::uint64_t pc) const;

  /// Launches `path` with `args` (stopped at its entry), or attaches to `attach_pid`.
  /// Throws CommandError in dlv's words.
  void start(std::optional<pid_t> attach_pid, const std::string& path,
             const std::vector<std::string>& args);
  /// The engine: "ptrace", "uprobe" (CommandError when it is not available) or anything
  /// else for the uprobe engine where it works, ptrace otherwise.
  void prepare_engine(const std::string& engine, const TraceOptions& opts);
  /// Traces until the process exits, calls exec, or is interrupted.
  TraceExit run(TraceObserver& observer);
  TraceEngineStats stats() const;

  pid_t pid() const { return pid_; }
  void detach();
  void kill();
  /// Async-signal-safe: makes run() return soon (Kind::interrupted).
  void request_interrupt();

 private:
  std::unique_ptr<BinaryInfo> bi_;
  std::unique_ptr<proc::Process> process_;
  std::unique_ptr<TraceEngine> engine_;
  std::vector<const dwarf::Function*> functions_;
  std::vector<const dwarf::InlinedCall*> inlined_;
  std::vector<std::string> roots_;
  pid_t pid_ = 0;
  bool attached_ = false;
};

}  // namespace goscope::target

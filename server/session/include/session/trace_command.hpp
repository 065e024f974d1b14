#pragma once
#include <sys/types.h>

#include <cstdint>
#include <cstdio>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace goscope::session {

/// A user-facing failure with a one-line message (printed as is, exit status 1).
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// What `goscope trace` was asked to do (dlv trace's flags).
struct TraceRequest {
  std::string exec_path;               ///< --exec, or the binary built from `package`
  std::optional<std::string> package;  ///< build this package first (dlv trace [package])
  bool test = false;                   ///< --test: build the package's test binary
  std::string output = "./debug";      ///< --output: where the built binary goes
  std::optional<pid_t> pid;            ///< --pid: attach instead of launching
  std::string regexp;
  std::vector<std::string> args;  ///< after --
  int stack_depth = 0;            ///< --stack N
  bool timestamp = false;         ///< --timestamp
  int follow_calls = 0;           ///< --follow-calls N (dlv HEAD): and their callees

  // Beyond dlv.
  bool graph = false;                     ///< --graph: call tree per goroutine with durations
  bool stats = false;                     ///< --stats: per-function latency statistics at exit
  std::string json_path;                  ///< --json FILE: Chrome trace-event JSON (Perfetto)
  std::string folded_path;                ///< --folded FILE: folded stacks weighted by time
  std::vector<std::string> packages;      ///< --pkg PATTERN: every function of these packages
  std::string exclude;                    ///< --exclude REGEXP
  int depth = -1;                         ///< --depth N
  std::string min_duration;               ///< --min-duration DUR
  std::string cond;                       ///< --cond EXPR over the arguments
  std::optional<std::int64_t> goroutine;  ///< --goroutine ID
  std::uint64_t sample = 1;               ///< --sample N
  std::string engine = "auto";            ///< --engine auto|inproc|uprobe|ptrace
};

/// Runs a trace to completion, printing dlv's trace lines to `out`. Returns the process exit
/// code for the command line (0 when the target ran to its end, as dlv). Throws
/// session::Error for bad input, before anything is started.
int run_trace(const TraceRequest& req, std::FILE* out);

/// Async-signal-safe: interrupts a running run_trace (SIGINT/SIGTERM handler). The target
/// is then detached (--pid) or killed (launched), with every trap removed.
void interrupt_trace();

}  // namespace goscope::session

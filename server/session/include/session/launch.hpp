#pragma once
// One launch spec for every way goscope starts a target (the headless JSON-RPC server, the
// DAP server's launch/attach requests, `goscope trace`): build with go, exec, attach, test,
// the working directory, the environment, and removing what was built.
#include <sys/types.h>

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "session/debugger.hpp"

namespace goscope::session {

enum class LaunchMode {
  debug,   ///< build the package (-gcflags='all=-N -l') and launch it
  test,    ///< build the package's test binary (go test -c) and launch it
  exec,    ///< launch a binary
  attach,  ///< attach to a running process
};

struct LaunchSpec {
  LaunchMode mode = LaunchMode::exec;
  /// debug/test: the package ("" the one in build_dir); exec: the binary.
  std::string program;
  std::optional<pid_t> pid;       ///< attach
  std::vector<std::string> args;  ///< the target's argv[1..]
  std::string working_dir;        ///< the target's; "" ours
  /// The target's whole environment ("KEY=VALUE"); nullopt: ours.
  std::optional<std::vector<std::string>> env;
  std::vector<std::string> build_flags;  ///< debug/test: the user's extra go flags
  std::string build_dir;                 ///< debug/test: where go runs; "" ours
  /// debug/test: where the binary goes; "" dlv's default (__debug_bin, debug.test, in
  /// our working directory). Relative paths are taken from our working directory.
  std::string output;
  bool disable_aslr = false;
  bool capture_output = false;  ///< DebuggerConfig::capture_output
};

/// A launch that cannot start; what() is the line to show.
class LaunchError : public std::runtime_error {
 public:
  enum class Kind { build_failed, bad_spec };
  LaunchError(Kind k, const std::string& what) : std::runtime_error(what), kind_(k) {}
  Kind kind() const { return kind_; }

 private:
  Kind kind_;
};

/// A launch spec made ready: for debug/test the binary is built (go's messages go to our
/// stderr) and removed again when this object goes, as dlv removes __debug_bin.
class PreparedLaunch {
 public:
  /// Builds if the mode needs it. Throws LaunchError.
  explicit PreparedLaunch(LaunchSpec spec);
  ~PreparedLaunch();
  PreparedLaunch(PreparedLaunch&& o) noexcept;
  PreparedLaunch& operator=(PreparedLaunch&&) = delete;
  PreparedLaunch(const PreparedLaunch&) = delete;
  PreparedLaunch& operator=(const PreparedLaunch&) = delete;

  const LaunchSpec& spec() const { return spec_; }
  /// The binary to debug: absolute for exec and built binaries, /proc/PID/exe for attach.
  const std::string& executable() const { return executable_; }
  /// The path of the binary this object built (and will remove), "" when none.
  const std::string& built() const { return built_; }
  /// How a Debugger starts this target.
  DebuggerConfig debugger_config() const;

 private:
  LaunchSpec spec_;
  std::string executable_;
  std::string built_;
};

/// Splits --build-flags as a shell would for simple cases (quotes group words).
std::vector<std::string> split_build_flags(const std::string& s);

}  // namespace goscope::session

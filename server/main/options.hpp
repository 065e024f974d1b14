#pragma once
// The goscope command line: dlv's command tree, flags and parser (cobra and pflag, as Delve
// 1.20.2 uses them), because IDEs and deployment recipes spawn the server with exactly
// dlv's command lines. See cli_spec.hpp for the tree and docs/drop-in.md for the lines.
#include <array>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "session/trace_command.hpp"

namespace goscope::cli {

/// A command line cobra refuses: printed as "Error: <what>" and the command's usage.
class UsageError : public std::runtime_error {
 public:
  UsageError(const std::string& what, std::string command)
      : std::runtime_error(what), command_(std::move(command)) {}
  /// The command whose usage follows the error ("" for the root).
  const std::string& command() const { return command_; }

 private:
  std::string command_;
};

/// An unknown command: "Error: unknown command ..." and "Run 'goscope --help' for usage."
class UnknownCommand : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class Verb {
  help,     ///< print `help_text` to stdout
  version,  ///< goscope version [-v]
  run,      ///< the deprecated `run`
  trace,
  exec,
  debug,
  test,
  attach,
  core,
  connect,
  dap,
};

/// dlv's flags of the debugging verbs (exec, debug, test, attach, core, connect, dap).
struct ServerOptions {
  std::string target;  ///< exec: binary; debug/test: package; attach: pid; connect: address
  std::vector<std::string> packages;  ///< debug/test: every positional word before `--`
  std::string attach_executable;      ///< attach PID [executable]
  std::string core_file;              ///< core EXECUTABLE CORE
  std::vector<std::string> args;      ///< the target's argv[1..]
  bool headless = false;
  bool headless_given = false;  ///< --headless was on the line (dap warns about it)
  std::string listen = "127.0.0.1:0";
  int api_version = 1;  ///< dlv's default; goscope serves v2 (SetApiVersion switches)
  bool api_version_given = false;
  bool accept_multiclient = false;
  bool continue_after_start = false;  ///< --continue (attach, debug, exec)
  bool only_same_user = true;
  bool log = false;
  std::string log_output;
  std::string log_dest;
  bool check_go_version = true;
  std::string init;
  std::string wd;
  std::string build_flags;
  std::string output;  ///< debug/test --output (their defaults)
  bool allow_non_terminal_interactive = false;
  bool disable_aslr = false;
  std::string backend = "default";
  std::vector<std::string> redirects;  ///< -r/--redirect, as given
  std::string tty;                     ///< --tty (debug, exec)
  std::string client_addr;             ///< dap --client-addr
};

struct Command {
  Verb verb = Verb::help;
  std::string help_text;  ///< Verb::help: what to print (stdout)
  bool verbose = false;   ///< version -v
  session::TraceRequest trace;
  ServerOptions server;
};

/// Parses argv[1..] exactly as dlv's cobra command tree does: global flags anywhere on the
/// line (before or after the verb), `--flag=value`, `--flag value`, `-f value`, `-fvalue`,
/// `-f=value`, `--bool`, `--bool=false`, `--` ending the flags (the rest goes to the
/// target), `-h`/`--help` and `help VERB`. Throws UsageError or UnknownCommand with dlv's
/// texts.
Command parse(const std::vector<std::string>& args);

/// The usage block cobra prints after an error ("Usage: ...", the flags); `command` is a
/// verb or "" for the root.
std::string usage(const std::string& command);

/// `-r`/`--redirect` rules parsed as dlv's parseRedirects: [stdin, stdout, stderr] paths.
/// Throws std::runtime_error("redirect error: stdin redirected twice").
std::array<std::string, 3> parse_redirects(const std::vector<std::string>& redirects);

}  // namespace goscope::cli

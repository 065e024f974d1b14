#pragma once
#include <stdexcept>
#include <string>
#include <vector>

#include "session/trace_command.hpp"

namespace goscope::cli {

/// A malformed command line; printed with the usage text.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class Verb { help, version, trace, exec, debug, test, attach, connect, dap };

/// dlv's headless-server flags (exec, debug, test, attach) and connect's.
struct ServerOptions {
  std::string target;                 ///< exec: binary; debug/test: package; attach: pid
  std::vector<std::string> raw_args;  ///< connect: everything after the verb, for dlv
  std::string attach_executable;      ///< attach PID [executable]
  std::vector<std::string> args;      ///< after --
  bool headless = false;
  std::string listen = "127.0.0.1:0";
  int api_version = 2;  ///< only 2 is served
  bool api_version_given = false;
  bool accept_multiclient = false;
  bool continue_after_start = false;  ///< --continue
  bool only_same_user = true;
  bool log = false;
  std::string log_output;
  std::string log_dest;
  bool check_go_version = true;
  std::string init;
  std::string wd;
  std::string build_flags;
  std::string output;  ///< debug/test --output
  bool allow_non_terminal_interactive = false;
  bool disable_aslr = false;
  std::string backend = "default";
  std::vector<std::string> warnings;  ///< flags accepted but without effect here
};

struct Command {
  Verb verb = Verb::help;
  session::TraceRequest trace;
  ServerOptions server;
};

/// Parses argv[1..] the way dlv's cobra flags do: `--flag=value`, `--flag value`, `-f value`,
/// boolean flags without a value, `--` ending the flags (what follows goes to the target).
Command parse(const std::vector<std::string>& args);
std::string usage();

}  // namespace goscope::cli

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

enum class Verb { help, version, trace };

struct Command {
  Verb verb = Verb::help;
  session::TraceRequest trace;
};

/// Parses argv[1..] the way dlv's cobra flags do: `--flag=value`, `--flag value`, `-f value`,
/// boolean flags without a value, `--` ending the flags (what follows goes to the target).
Command parse(const std::vector<std::string>& args);
std::string usage();

}  // namespace goscope::cli

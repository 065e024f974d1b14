#pragma once
// dlv's command tree as data (cmd/dlv/cmds/commands.go, Delve 1.20.2), with goscope's name
// and goscope's own trace flags, and the help texts cobra renders from it.
#include <string>
#include <string_view>
#include <vector>

namespace goscope::cli {

enum class FlagType { boolean, string, integer, string_array };

struct FlagSpec {
  std::string_view name;
  char shorthand = 0;
  FlagType type = FlagType::boolean;
  std::string_view def;  ///< the default as pflag prints it ("" for zero values)
  std::string_view usage;
  bool hidden = false;
};

struct CommandSpec {
  std::string_view name;
  std::string_view use;  ///< "exec <path/to/binary>"
  std::string_view short_desc;
  std::string_view long_desc;
  std::vector<FlagSpec> flags;  ///< local flags, without -h/--help (added for every command)
  bool runnable = true;         ///< false: a help topic (backend, log, redirect)
};

/// The root's persistent flags: every command accepts them, anywhere on the line.
const std::vector<FlagSpec>& global_flags();
/// Every command, sorted by name as cobra lists them.
const std::vector<CommandSpec>& commands();
const CommandSpec* find_command(std::string_view name);

/// cobra's help for a command ("" for the root): its long description and its usage.
std::string help_text(std::string_view command);
/// cobra's usage block for a command ("" for the root), ending with a newline.
std::string usage_text(std::string_view command);
/// cobra's "Did you mean this?" part of an unknown-command error ("" if none).
std::string suggestions(std::string_view typed);

}  // namespace goscope::cli

// dlv's command-line grammar: cobra's command lookup (Command.Find and its stripFlags) and
// pflag's parser (FlagSet.Parse), as vendored by Delve 1.20.2 (cobra 1.1.3), with the same
// accepted spellings and the same error texts.
#include "options.hpp"

#include <algorithm>
#include <charconv>
#include <climits>
#include <cstdint>
#include <map>
#include <set>
#include <variant>

#include "cli_spec.hpp"

namespace goscope::cli {
namespace {

/// The flag set of one command: its own flags, -h/--help and the root's persistent flags.
struct FlagSet {
  std::vector<FlagSpec> flags;

  const FlagSpec* by_name(std::string_view name) const {
    for (const auto& f : flags) {
      if (f.name == name)
        return &f;
    }
    return nullptr;
  }
  const FlagSpec* by_short(char c) const {
    for (const auto& f : flags) {
      if (f.shorthand == c)
        return &f;
    }
    return nullptr;
  }
};

FlagSet flag_set(const CommandSpec* cmd) {
  FlagSet fs;
  if (cmd)
    fs.flags = cmd->flags;
  fs.flags.push_back({"help", 'h', FlagType::boolean, "", ""});
  const auto& g = global_flags();
  fs.flags.insert(fs.flags.end(), g.begin(), g.end());
  return fs;
}

/// What pflag recorded: each flag's values in order (a string array keeps all of them).
struct Parsed {
  std::map<std::string, std::vector<std::string>, std::less<>> values;
  std::vector<std::string> args;  ///< positional words, then everything after `--`
  int args_len_at_dash = -1;      ///< cobra's ArgsLenAtDash

  bool has(std::string_view name) const { return values.find(name) != values.end(); }
  const std::string* last(std::string_view name) const {
    auto it = values.find(name);
    return it == values.end() ? nullptr : &it->second.back();
  }
};

// strconv.ParseBool
std::optional<bool> go_parse_bool(std::string_view v) {
  if (v == "1" || v == "t" || v == "T" || v == "TRUE" || v == "true" || v == "True")
    return true;
  if (v == "0" || v == "f" || v == "F" || v == "FALSE" || v == "false" || v == "False")
    return false;
  return std::nullopt;
}

// strconv.ParseInt(s, 0, 64): an optional sign, 0x/0o/0b/0 prefixes, '_' between digits.
// Returns the error text after "strconv.ParseInt: " or the value.
std::variant<std::int64_t, std::string> go_parse_int(std::string_view s0) {
  const std::string quoted = "parsing \"" + std::string(s0) + "\": ";
  std::string_view s = s0;
  bool neg = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  int base = 10;
  bool prefixed = false;
  if (s.size() >= 2 && s[0] == '0') {
    const char b = static_cast<char>(s[1] | 0x20);
    if (b == 'x' || b == 'o' || b == 'b') {
      base = b == 'x' ? 16 : b == 'o' ? 8 : 2;
      s.remove_prefix(2);
      prefixed = true;
    } else {
      base = 8;
      s.remove_prefix(1);
      prefixed = true;
    }
  }
  // strconv.underscoreOK: '_' only between digits, or between a base prefix and a digit.
  std::string digits;
  bool after_digit = prefixed;  // a base prefix counts as a digit
  bool after_us = false;
  for (char c : s) {
    if (c == '_') {
      if (!after_digit)
        return quoted + "invalid syntax";
      after_digit = false;
      after_us = true;
      continue;
    }
    digits += c;
    after_digit = true;
    after_us = false;
  }
  if (after_us)
    return quoted + "invalid syntax";
  if (s.empty() && !(prefixed && base == 8))
    return quoted + "invalid syntax";
  if (digits.empty())
    return std::int64_t{0};
  unsigned long long u = 0;
  const auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), u, base);
  if (p != digits.data() + digits.size())
    return quoted + "invalid syntax";
  if (ec == std::errc::result_out_of_range || u > (neg ? 1ULL << 63 : (1ULL << 63) - 1))
    return quoted + "value out of range";
  return neg ? static_cast<std::int64_t>(0 - u) : static_cast<std::int64_t>(u);
}

std::string display_name(const FlagSpec& f) {
  return f.shorthand ? std::string("-") + f.shorthand + ", --" + std::string(f.name)
                     : "--" + std::string(f.name);
}

// pflag's Value.Set with its error text.
void set_flag(Parsed& out, const FlagSpec& f, const std::string& value, const std::string& cmd) {
  auto invalid = [&](const std::string& why) {
    throw UsageError(
        "invalid argument \"" + value + "\" for \"" + display_name(f) + "\" flag: " + why, cmd);
  };
  if (f.type == FlagType::boolean && !go_parse_bool(value)) {
    invalid("strconv.ParseBool: parsing \"" + value + "\": invalid syntax");
  }
  if (f.type == FlagType::integer) {
    auto r = go_parse_int(value);
    if (auto* e = std::get_if<std::string>(&r))
      invalid("strconv.ParseInt: " + *e);
    if (std::get<std::int64_t>(r) > INT32_MAX || std::get<std::int64_t>(r) < INT32_MIN) {
      // pflag's int is Go's int (64 bits); ours are C++ ints: refuse rather than wrap.
      invalid("value out of range");
    }
  }
  auto& v = out.values[std::string(f.name)];
  if (f.type != FlagType::string_array)
    v.clear();
  v.push_back(value);
}

// pflag's FlagSet.Parse over `args` (the line without the command's name).
Parsed parse_flags(const FlagSet& fs, const std::vector<std::string>& args,
                   const std::string& cmd) {
  Parsed out;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& s = args[i];
    if (s.size() < 2 || s[0] != '-') {
      out.args.push_back(s);
      continue;
    }
    if (s[1] == '-') {
      if (s.size() == 2) {  // "--" ends the flags
        out.args_len_at_dash = static_cast<int>(out.args.size());
        out.args.insert(out.args.end(), args.begin() + static_cast<std::ptrdiff_t>(i) + 1,
                        args.end());
        break;
      }
      std::string name = s.substr(2);
      if (name[0] == '-' || name[0] == '=')
        throw UsageError("bad flag syntax: " + s, cmd);
      std::optional<std::string> value;
      if (auto eq = name.find('='); eq != std::string::npos) {
        value = name.substr(eq + 1);
        name.resize(eq);
      }
      const FlagSpec* f = fs.by_name(name);
      if (!f)
        throw UsageError("unknown flag: --" + name, cmd);
      if (!value) {
        if (f->type == FlagType::boolean) {
          value = "true";
        } else if (i + 1 < args.size()) {
          value = args[++i];
        } else {
          throw UsageError("flag needs an argument: " + s, cmd);
        }
      }
      set_flag(out, *f, *value, cmd);
      continue;
    }
    // Shorthands, possibly several ("-tv"), "-l ADDR", "-lADDR", "-l=ADDR".
    std::string_view shorts = std::string_view(s).substr(1);
    while (!shorts.empty()) {
      const char c = shorts[0];
      const FlagSpec* f = fs.by_short(c);
      if (!f) {
        throw UsageError(
            std::string("unknown shorthand flag: '") + c + "' in -" + std::string(shorts), cmd);
      }
      std::string value;
      if (shorts.size() > 2 && shorts[1] == '=') {
        value = shorts.substr(2);
        shorts = {};
      } else if (f->type == FlagType::boolean) {
        value = "true";
        shorts.remove_prefix(1);
      } else if (shorts.size() > 1) {
        value = shorts.substr(1);
        shorts = {};
      } else if (i + 1 < args.size()) {
        value = args[++i];
        shorts = {};
      } else {
        throw UsageError(
            std::string("flag needs an argument: '") + c + "' in -" + std::string(shorts), cmd);
      }
      set_flag(out, *f, value, cmd);
    }
  }
  return out;
}

// cobra's stripFlags: the words that are not flags nor a flag's value, as Command.Find
// sees them (a `--flag` without `=` is assumed to take the next word unless it is a known
// boolean; so is a two-letter `-f` whose flag is not boolean).
std::vector<std::string> strip_flags(const FlagSet& fs, const std::vector<std::string>& args) {
  std::vector<std::string> commands;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& s = args[i];
    if (s == "--")
      break;
    const bool has_eq = s.find('=') != std::string::npos;
    bool skip_next = false;
    if (s.starts_with("--") && !has_eq) {
      const FlagSpec* f = fs.by_name(std::string_view(s).substr(2));
      skip_next = !(f && f->type == FlagType::boolean);
    } else if (s.starts_with("-") && !has_eq && s.size() == 2) {
      const FlagSpec* f = fs.by_short(s[1]);
      skip_next = !(f && f->type == FlagType::boolean);
    } else if (!s.empty() && s[0] != '-') {
      commands.push_back(s);
    }
    if (skip_next) {
      if (args.size() - i - 1 <= 1)
        break;  // cobra: "if len(args) <= 1 break" (the value would be the last word)
      ++i;
    }
  }
  return commands;
}

bool get_bool(const Parsed& p, std::string_view name, bool def) {
  const std::string* v = p.last(name);
  return v ? *go_parse_bool(*v) : def;
}
std::string get_string(const Parsed& p, std::string_view name, std::string def = {}) {
  const std::string* v = p.last(name);
  return v ? *v : def;
}
int get_int(const Parsed& p, std::string_view name, int def) {
  const std::string* v = p.last(name);
  return v ? static_cast<int>(std::get<std::int64_t>(go_parse_int(*v))) : def;
}

void fill_server(ServerOptions& o, const Parsed& p) {
  o.listen = get_string(p, "listen", o.listen);
  o.log = get_bool(p, "log", false);
  o.log_output = get_string(p, "log-output");
  o.log_dest = get_string(p, "log-dest");
  o.headless = get_bool(p, "headless", false);
  o.headless_given = p.has("headless");
  o.accept_multiclient = get_bool(p, "accept-multiclient", false);
  o.api_version = get_int(p, "api-version", 1);
  o.api_version_given = p.has("api-version");
  o.init = get_string(p, "init");
  o.build_flags = get_string(p, "build-flags");
  o.wd = get_string(p, "wd");
  o.check_go_version = get_bool(p, "check-go-version", true);
  o.only_same_user = get_bool(p, "only-same-user", true);
  o.backend = get_string(p, "backend", "default");
  if (auto it = p.values.find("redirect"); it != p.values.end())
    o.redirects = it->second;
  o.allow_non_terminal_interactive = get_bool(p, "allow-non-terminal-interactive", false);
  o.disable_aslr = get_bool(p, "disable-aslr", false);
  o.continue_after_start = get_bool(p, "continue", false);
  o.tty = get_string(p, "tty");
  o.client_addr = get_string(p, "client-addr");
}

// cmd/dlv's splitArgs: the words before `--` and the words after it.
std::pair<std::vector<std::string>, std::vector<std::string>> split_args(const Parsed& p) {
  if (p.args_len_at_dash < 0)
    return {p.args, {}};
  const auto at = p.args.begin() + p.args_len_at_dash;
  return {std::vector<std::string>(p.args.begin(), at), std::vector<std::string>(at, p.args.end())};
}

void fill_trace(Command& cmd, const Parsed& p) {
  auto& t = cmd.trace;
  const std::string name = "trace";
  if (p.has("exec"))
    t.exec_path = get_string(p, "exec");
  if (p.has("pid"))
    t.pid = get_int(p, "pid", 0);
  t.test = get_bool(p, "test", false);
  t.stack_depth = get_int(p, "stack", 0);
  if (p.has("output"))
    t.output = get_string(p, "output");
  t.timestamp = get_bool(p, "timestamp", false);
  t.follow_calls = get_int(p, "follow-calls", 0);
  t.graph = get_bool(p, "graph", false);
  t.stats = get_bool(p, "stats", false);
  t.json_path = get_string(p, "json");
  t.folded_path = get_string(p, "folded");
  if (auto it = p.values.find("pkg"); it != p.values.end())
    t.packages = it->second;
  t.exclude = get_string(p, "exclude");
  t.depth = get_int(p, "depth", -1);
  t.min_duration = get_string(p, "min-duration");
  t.cond = get_string(p, "cond");
  if (p.has("goroutine"))
    t.goroutine = get_int(p, "goroutine", 0);
  if (p.has("engine")) {
    t.engine = get_string(p, "engine");
    if (t.engine != "auto" && t.engine != "uprobe" && t.engine != "ptrace" && t.engine != "inproc")
      throw UsageError("--engine must be auto, inproc, uprobe or ptrace", name);
  }
  if (p.has("sample")) {
    const int n = get_int(p, "sample", 1);
    if (n < 1)
      throw UsageError("--sample must be at least 1", name);
    t.sample = static_cast<std::uint64_t>(n);
  }
  auto [positional, target_args] = split_args(p);
  t.args = target_args;
  if (positional.empty() && t.packages.empty())
    throw UsageError("you must provide a function to trace", name);
  if (positional.size() > 2)
    throw UsageError("too many arguments", name);
  if (!positional.empty())
    t.regexp = positional.back();
  if (positional.size() == 2)
    t.package = positional.front();
  if (t.pid && !t.exec_path.empty())
    throw UsageError("--pid and --exec are mutually exclusive", name);
}

}  // namespace

std::string usage(const std::string& command) {
  return usage_text(command);
}

std::array<std::string, 3> parse_redirects(const std::vector<std::string>& redirects) {
  static constexpr std::string_view kNames[3] = {"stdin", "stdout", "stderr"};
  std::array<std::string, 3> r;
  for (std::string_view redirect : redirects) {
    std::size_t idx = 0;
    for (std::size_t i = 0; i < 3; ++i) {
      const std::string pfx = std::string(kNames[i]) + ":";
      if (redirect.starts_with(pfx)) {
        idx = i;
        redirect.remove_prefix(pfx.size());
        break;
      }
    }
    if (!r[idx].empty())
      throw std::runtime_error("redirect error: " + std::string(kNames[idx]) + " redirected twice");
    r[idx] = redirect;
  }
  return r;
}

Command parse(const std::vector<std::string>& args) {
  Command cmd;
  // Command.Find: the first word that is neither a flag nor a flag's value names the verb;
  // that word is removed (its first occurrence) and the rest is parsed with its flag set.
  const FlagSet root_flags = flag_set(nullptr);
  const auto words = strip_flags(root_flags, args);
  const CommandSpec* spec = nullptr;
  std::vector<std::string> rest = args;
  if (!words.empty()) {
    spec = find_command(words[0]);
    if (!spec) {
      throw UnknownCommand("unknown command \"" + words[0] + "\" for \"goscope\"" +
                           suggestions(words[0]));
    }
    rest.erase(std::find(rest.begin(), rest.end(), words[0]));
  }
  const std::string name = spec ? std::string(spec->name) : std::string();
  // goscope's own addition: `goscope --version` (dlv has only the `version` verb).
  if (!spec && args.size() == 1 && args[0] == "--version") {
    cmd.verb = Verb::version;
    return cmd;
  }
  const Parsed p = parse_flags(flag_set(spec), rest, name);
  if (get_bool(p, "help", false) || !spec || !spec->runnable) {
    cmd.verb = Verb::help;
    cmd.help_text = help_text(name);
    return cmd;
  }
  if (name == "help") {
    // `goscope help [command]`: cobra's help command.
    const auto [positional, after] = split_args(p);
    (void)after;
    if (positional.empty()) {
      cmd.help_text = help_text("");
    } else if (const CommandSpec* topic = find_command(positional[0])) {
      cmd.help_text = help_text(topic->name);
    } else {
      throw UsageError("Unknown help topic [`" + positional[0] + "`]", "help");
    }
    return cmd;
  }
  if (name == "version") {
    cmd.verb = Verb::version;
    cmd.verbose = get_bool(p, "verbose", false);
    return cmd;
  }
  if (name == "run") {
    cmd.verb = Verb::run;
    return cmd;
  }
  if (name == "trace") {
    cmd.verb = Verb::trace;
    fill_server(cmd.server, p);  // the global flags trace honours (--log*) or warns about
    fill_trace(cmd, p);
    return cmd;
  }
  auto& o = cmd.server;
  fill_server(o, p);
  if (name == "debug" || name == "test")
    o.output = get_string(p, "output", name == "debug" ? "./__debug_bin" : "debug.test");
  const auto [before_dash, after_dash] = split_args(p);
  if (name == "exec") {
    cmd.verb = Verb::exec;
    if (p.args.empty())
      throw UsageError("you must provide a path to a binary", name);
    // dlv exec passes every word after the binary to it, before and after `--`.
    o.target = p.args[0];
    o.args.assign(p.args.begin() + 1, p.args.end());
  } else if (name == "debug" || name == "test") {
    cmd.verb = name == "debug" ? Verb::debug : Verb::test;
    o.packages = before_dash;
    if (!before_dash.empty())
      o.target = before_dash[0];
    o.args = after_dash;
  } else if (name == "attach") {
    cmd.verb = Verb::attach;
    if (p.args.empty())
      throw UsageError("you must provide a PID", name);
    o.target = p.args[0];
    if (p.args.size() > 1)
      o.attach_executable = p.args[1];
  } else if (name == "core") {
    cmd.verb = Verb::core;
    if (p.args.size() != 2)
      throw UsageError("you must provide a core file and an executable", name);
    o.target = p.args[0];
    o.core_file = p.args[1];
  } else if (name == "connect") {
    cmd.verb = Verb::connect;
    if (p.args.empty())
      throw UsageError("you must provide an address as the first argument", name);
    o.target = p.args[0];
  } else if (name == "dap") {
    cmd.verb = Verb::dap;
    o.packages = before_dash;
    o.args = after_dash;
  }
  return cmd;
}

}  // namespace goscope::cli

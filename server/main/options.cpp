#include "options.hpp"

#include <functional>

#include <charconv>
#include <optional>

namespace goscope::cli {
namespace {

// Flags every verb accepts because dlv accepts them globally; they do not change what
// `trace` does, so they are parsed and ignored.
bool is_ignored_global(const std::string& name, bool& takes_value) {
  static const std::vector<std::pair<std::string, bool>> globals = {
      {"log", false},
      {"log-output", true},
      {"log-dest", true},
      {"check-go-version", false},
      {"only-same-user", false},
      {"backend", true},
      {"build-flags", true},
      {"wd", true},
      {"disable-aslr", false},
      {"allow-non-terminal-interactive", false},
      {"init", true},
      {"ebpf", false},
      {"redirect", true},
      {"r", true},
      {"tty", true}};
  for (const auto& [n, v] : globals) {
    if (n == name) {
      takes_value = v;
      return true;
    }
  }
  return false;
}

int parse_int(const std::string& flag, const std::string& s) {
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) {
    throw UsageError("invalid argument \"" + s + "\" for \"" + flag + "\"");
  }
  return v;
}

bool parse_bool(const std::string& flag, const std::optional<std::string>& v) {
  if (!v)
    return true;
  if (*v == "true" || *v == "1" || *v == "t" || *v == "T" || *v == "TRUE" || *v == "True") {
    return true;
  }
  if (*v == "false" || *v == "0" || *v == "f" || *v == "F" || *v == "FALSE" || *v == "False") {
    return false;
  }
  throw UsageError("invalid argument \"" + *v + "\" for \"--" + flag + "\"");
}

// How cobra (dlv's flag library) reads argv[1..]: `--flag=value`, `--flag value`,
// `-f value`, boolean flags without a value, words that are not flags are positional, and
// `--` ends the flags (what follows goes to the target, into `rest`). `on_flag` handles one
// flag: `value` is its inline `=value`, `need_value()` its argument (inline or next word).
struct Flag {
  std::string arg;   ///< the word as written, for error messages
  std::string name;  ///< without dashes and without `=value`
  std::optional<std::string> value;
  std::function<std::string()> need_value;
};
std::vector<std::string> scan_args(const std::vector<std::string>& args,
                                   std::vector<std::string>& rest,
                                   const std::function<void(const Flag&)>& on_flag) {
  std::vector<std::string> positional;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      rest.assign(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
      break;
    }
    if (a.size() < 2 || a[0] != '-') {
      positional.push_back(a);
      continue;
    }
    Flag f;
    f.arg = a;
    f.name = a.substr(a[1] == '-' ? 2 : 1);
    if (auto eq = f.name.find('='); eq != std::string::npos) {
      f.value = f.name.substr(eq + 1);
      f.name = f.name.substr(0, eq);
    }
    f.need_value = [&]() -> std::string {
      if (f.value)
        return *f.value;
      if (i + 1 >= args.size())
        throw UsageError("flag needs an argument: --" + f.name);
      return args[++i];
    };
    on_flag(f);
  }
  return positional;
}

Command parse_server(const std::vector<std::string>& args) {
  Command cmd;
  const std::string& verb = args[0];
  cmd.verb = verb == "exec"      ? Verb::exec
             : verb == "debug"   ? Verb::debug
             : verb == "test"    ? Verb::test
             : verb == "attach"  ? Verb::attach
             : verb == "connect" ? Verb::connect
                                 : Verb::dap;
  auto& o = cmd.server;
  o.raw_args.assign(args.begin() + 1, args.end());
  const auto positional = scan_args(args, o.args, [&](const Flag& flag) {
    const std::string& name = flag.name;
    const auto& value = flag.value;
    const auto& need_value = flag.need_value;
    if (name == "headless") {
      o.headless = parse_bool(name, value);
    } else if (name == "l" || name == "listen") {
      o.listen = need_value();
    } else if (name == "api-version") {
      o.api_version = parse_int("--api-version", need_value());
      o.api_version_given = true;
    } else if (name == "accept-multiclient") {
      o.accept_multiclient = parse_bool(name, value);
    } else if (name == "continue" || name == "c") {
      o.continue_after_start = parse_bool(name, value);
    } else if (name == "only-same-user") {
      o.only_same_user = parse_bool(name, value);
    } else if (name == "log") {
      o.log = parse_bool(name, value);
    } else if (name == "log-output") {
      o.log_output = need_value();
    } else if (name == "log-dest") {
      o.log_dest = need_value();
    } else if (name == "check-go-version") {
      o.check_go_version = parse_bool(name, value);
    } else if (name == "init") {
      o.init = need_value();
    } else if (name == "wd") {
      o.wd = need_value();
    } else if (name == "build-flags") {
      o.build_flags = need_value();
    } else if (name == "o" || name == "output") {
      o.output = need_value();
    } else if (name == "allow-non-terminal-interactive") {
      o.allow_non_terminal_interactive = parse_bool(name, value);
    } else if (name == "disable-aslr") {
      o.disable_aslr = parse_bool(name, value);
    } else if (name == "backend") {
      o.backend = need_value();
    } else if (name == "r" || name == "redirect" || name == "tty") {
      need_value();
      o.warnings.push_back("--" + name + " is not supported yet and was ignored");
    } else {
      throw UsageError("unknown flag: " + flag.arg);
    }
  });
  switch (cmd.verb) {
    case Verb::exec:
      if (positional.empty())
        throw UsageError("you must provide a path to a binary");
      o.target = positional[0];
      if (positional.size() > 1) {
        o.args.insert(o.args.begin(), positional.begin() + 1, positional.end());
      }
      break;
    case Verb::attach:
      if (positional.empty())
        throw UsageError("you must provide a PID");
      o.target = positional[0];
      parse_int("pid", o.target);
      if (positional.size() > 1)
        o.attach_executable = positional[1];
      break;
    case Verb::connect:
      if (positional.empty())
        throw UsageError("you must provide an address as the first argument");
      o.target = positional[0];
      break;
    case Verb::debug:
    case Verb::test:
      if (!positional.empty())
        o.target = positional[0];
      if (positional.size() > 1) {
        o.args.insert(o.args.begin(), positional.begin() + 1, positional.end());
      }
      break;
    default:
      break;
  }
  return cmd;
}

}  // namespace

std::string usage() {
  return "Usage:\n"
         "  goscope exec <path/to/binary> --headless [flags] [-- args]\n"
         "  goscope debug [package] --headless [flags] [-- args]\n"
         "  goscope test [package] --headless [flags] [-- args]\n"
         "  goscope attach <pid> [executable] --headless [flags]\n"
         "  goscope connect <addr> [--init FILE]   (runs dlv connect)\n"
         "  goscope trace [package] regexp [flags] [-- args]\n"
         "  goscope version\n\n"
         "Server flags (exec, debug, test, attach), as dlv's:\n"
         "      --headless              run in headless mode (required: there is no terminal UI)\n"
         "  -l, --listen string         debugging server listen address (default 127.0.0.1:0)\n"
         "      --api-version int       JSON-RPC API version; only 2 is served\n"
         "      --accept-multiclient    allow several clients; keep the target on disconnect\n"
         "  -c, --continue              continue the process on start (needs "
         "--accept-multiclient)\n"
         "      --only-same-user        refuse connections from other users (default true)\n"
         "      --wd string             working directory of the target\n"
         "      --build-flags string    flags for go build (debug, test)\n"
         "      --disable-aslr          disable address space randomisation\n"
         "      --log, --log-output, --log-dest, --check-go-version, --init, --backend,\n"
         "      --allow-non-terminal-interactive   accepted for compatibility\n\n"
         "Trace flags:\n"
         "  -e, --exec string     binary to execute and trace\n"
         "  -p, --pid int         pid to attach to\n"
         "  -t, --test            trace a test binary\n"
         "  -s, --stack int       show stack trace with given depth\n"
         "  -o, --output string   output path for the binary (default \"./debug\")\n"
         "      --timestamp       prefix each trace line with a timestamp\n"
         "      --follow-calls N  also trace callees of the matched functions, N levels deep\n\n"
         "Beyond dlv:\n"
         "      --graph               call tree per goroutine, durations and call sites\n"
         "      --stats               per-function calls, total, mean, p50, p99, max and a\n"
         "                            log2 latency histogram at exit\n"
         "      --json FILE           Chrome trace-event JSON (Perfetto, chrome://tracing)\n"
         "      --folded FILE         folded stacks weighted by time (flamegraph.pl)\n"
         "      --pkg PATTERN         trace every function of a package (a/b, a/b/...)\n"
         "      --exclude REGEXP      do not trace matching functions\n"
         "      --depth N             hide calls nested deeper than N traced calls\n"
         "      --min-duration DUR    show only calls at least this long (250us, 2ms)\n"
         "      --cond EXPR           show only calls whose arguments satisfy EXPR\n"
         "      --goroutine ID        show only this goroutine\n"
         "      --sample N            show 1 in N root calls\n"
         "      --engine ENGINE       uprobe (no stop: eBPF), ptrace, or auto (default:\n"
         "                            uprobe where the kernel and privileges allow it)\n";
}

Command parse(const std::vector<std::string>& args) {
  Command cmd;
  if (args.empty())
    return cmd;
  const std::string& verb = args[0];
  if (verb == "help" || verb == "--help" || verb == "-h")
    return cmd;
  if (verb == "version" || verb == "--version") {
    cmd.verb = Verb::version;
    return cmd;
  }
  if (verb == "exec" || verb == "debug" || verb == "test" || verb == "attach" ||
      verb == "connect" || verb == "dap") {
    return parse_server(args);
  }
  if (verb != "trace")
    throw UsageError("unknown command \"" + verb + "\" for \"goscope\"");
  cmd.verb = Verb::trace;
  auto& t = cmd.trace;
  const auto positional = scan_args(args, t.args, [&](const Flag& flag) {
    const std::string& name = flag.name;
    const auto& need_value = flag.need_value;
    bool takes_value = false;
    if (name == "e" || name == "exec") {
      t.exec_path = need_value();
    } else if (name == "p" || name == "pid") {
      t.pid = parse_int("--pid", need_value());
    } else if (name == "t" || name == "test") {
      t.test = true;
    } else if (name == "s" || name == "stack") {
      t.stack_depth = parse_int("--stack", need_value());
    } else if (name == "o" || name == "output") {
      t.output = need_value();
    } else if (name == "timestamp") {
      t.timestamp = true;
    } else if (name == "follow-calls") {
      t.follow_calls = parse_int("--follow-calls", need_value());
    } else if (name == "graph") {
      t.graph = true;
    } else if (name == "stats") {
      t.stats = true;
    } else if (name == "json") {
      t.json_path = need_value();
    } else if (name == "folded") {
      t.folded_path = need_value();
    } else if (name == "pkg") {
      t.packages.push_back(need_value());
    } else if (name == "exclude") {
      t.exclude = need_value();
    } else if (name == "depth") {
      t.depth = parse_int("--depth", need_value());
    } else if (name == "min-duration") {
      t.min_duration = need_value();
    } else if (name == "cond") {
      t.cond = need_value();
    } else if (name == "goroutine") {
      t.goroutine = parse_int("--goroutine", need_value());
    } else if (name == "engine") {
      t.engine = need_value();
      if (t.engine != "auto" && t.engine != "uprobe" && t.engine != "ptrace")
        throw UsageError("--engine must be auto, uprobe or ptrace");
    } else if (name == "sample") {
      const int n = parse_int("--sample", need_value());
      if (n < 1)
        throw UsageError("--sample must be at least 1");
      t.sample = static_cast<std::uint64_t>(n);
    } else if (is_ignored_global(name, takes_value)) {
      if (takes_value)
        need_value();
    } else {
      throw UsageError("unknown flag: " + flag.arg);
    }
  });
  if (positional.empty() && t.packages.empty()) {
    throw UsageError("you must provide a function to trace");
  }
  if (positional.size() > 2)
    throw UsageError("too many arguments");
  if (!positional.empty())
    t.regexp = positional.back();
  if (positional.size() == 2)
    t.package = positional.front();
  if (t.pid && !t.exec_path.empty())
    throw UsageError("--pid and --exec are mutually exclusive");
  return cmd;
}

}  // namespace goscope::cli

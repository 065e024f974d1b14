#include "options.hpp"

#include <charconv>
#include <optional>

namespace goscope::cli {
namespace {

// Flags every verb accepts because dlv accepts them globally; they do not change what
// `trace` does, so they are parsed and ignored.
bool is_ignored_global(const std::string& name, bool& takes_value) {
  static const std::vector<std::pair<std::string, bool>> globals = {
      {"log", false}, {"log-output", true}, {"log-dest", true}, {"check-go-version", false},
      {"only-same-user", false}, {"backend", true}, {"build-flags", true}, {"wd", true},
      {"disable-aslr", false}, {"allow-non-terminal-interactive", false}, {"init", true},
      {"ebpf", false}, {"redirect", true}, {"r", true}, {"tty", true}};
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

}  // namespace

std::string usage() {
  return "Usage:\n"
         "  goscope trace [package] regexp [flags] [-- args]\n"
         "  goscope version\n\n"
         "Trace flags:\n"
         "  -e, --exec string     binary to execute and trace\n"
         "  -p, --pid int         pid to attach to\n"
         "  -t, --test            trace a test binary\n"
         "  -s, --stack int       show stack trace with given depth\n"
         "  -o, --output string   output path for the binary (default \"./debug\")\n"
         "      --timestamp       prefix each trace line with a timestamp\n\n"
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
         "      --sample N            show 1 in N root calls\n";
}

Command parse(const std::vector<std::string>& args) {
  Command cmd;
  if (args.empty()) return cmd;
  const std::string& verb = args[0];
  if (verb == "help" || verb == "--help" || verb == "-h") return cmd;
  if (verb == "version" || verb == "--version") {
    cmd.verb = Verb::version;
    return cmd;
  }
  if (verb != "trace") throw UsageError("unknown command \"" + verb + "\" for \"goscope\"");
  cmd.verb = Verb::trace;
  auto& t = cmd.trace;
  std::vector<std::string> positional;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      t.args.assign(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
      break;
    }
    if (a.size() < 2 || a[0] != '-') {
      positional.push_back(a);
      continue;
    }
    std::string name = a.substr(a[1] == '-' ? 2 : 1);
    std::optional<std::string> value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    auto need_value = [&]() -> std::string {
      if (value) return *value;
      if (i + 1 >= args.size()) throw UsageError("flag needs an argument: --" + name);
      return args[++i];
    };
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
    } else if (name == "sample") {
      const int n = parse_int("--sample", need_value());
      if (n < 1) throw UsageError("--sample must be at least 1");
      t.sample = static_cast<std::uint64_t>(n);
    } else if (is_ignored_global(name, takes_value)) {
      if (takes_value) need_value();
    } else {
      throw UsageError("unknown flag: " + a);
    }
  }
  if (positional.empty() && t.packages.empty()) {
    throw UsageError("you must provide a function to trace");
  }
  if (positional.size() > 2) throw UsageError("too many arguments");
  if (!positional.empty()) t.regexp = positional.back();
  if (positional.size() == 2) t.package = positional.front();
  if (t.pid && !t.exec_path.empty()) throw UsageError("--pid and --exec are mutually exclusive");
  return cmd;
}

}  // namespace goscope::cli

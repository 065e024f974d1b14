#include "cli_spec.hpp"

#include <algorithm>

namespace goscope::cli {
namespace {

using F = FlagType;

constexpr std::string_view kRootLong =
    R"(goscope is a debug server and function tracer for Go programs, with Delve's command line.

It serves Delve's JSON-RPC API v2 (dlv connect, GoLand, scripts) and the Debug Adapter
Protocol (VS Code Go, nvim-dap, vimspector), over its own process control, and traces
function calls without stopping the program (goscope trace).

Pass flags to the program you are debugging using `--`, for example:

`goscope exec ./hello -- server --config conf/config.toml`)";

constexpr std::string_view kLogLong =
    R"(Logging can be enabled by specifying the --log flag and using the
--log-output flag to select which components should produce logs.

The argument of --log-output must be a comma separated list of component
names selected from this list:


	debugger	Log debugger commands
	gdbwire		Log connection to gdbserial backend (accepted, not applicable)
	lldbout		Copy output from debugserver/lldb to standard output (accepted, not applicable)
	debuglineerr	Log recoverable errors reading .debug_line
	rpc		Log all RPC messages
	dap		Log all DAP messages
	fncall		Log function call protocol
	minidump	Log minidump loading (accepted, not applicable)
	stack		Log stacktracer

Additionally --log-dest can be used to specify where the logs should be
written. 
If the argument is a number it will be interpreted as a file descriptor,
otherwise as a file path.
This option will also redirect the "server listening at" message in headless
and dap modes.
)";

constexpr std::string_view kRedirectLong =
    R"(The standard file descriptors of the target process can be controlled using the '-r' and '--tty' arguments. 

The --tty argument allows redirecting all standard descriptors to a terminal, specified as an argument to --tty.

The syntax for '-r' argument is:

		-r [source:]destination

Where source is one of 'stdin', 'stdout' or 'stderr' and destination is the path to a file. If the source is omitted stdin is used implicitly.

File redirects can also be changed using the 'restart' command.
)";

constexpr std::string_view kBackendLong =
    R"(The --backend flag specifies which backend should be used, possible values
are:

	default		goscope's own ptrace backend.
	native		The same.

lldb and rr are refused: goscope has no other backend.
)";

constexpr std::string_view kDapLong =
    R"(Starts a headless TCP server communicating via Debug Adaptor Protocol (DAP).

The server is always headless and requires a DAP client like VS Code to connect and request a binary
to be launched or a process to be attached to. The following modes can be specified via the client's launch config:
- launch + exec   (executes precompiled binary, like 'goscope exec')
- launch + debug  (builds and launches, like 'goscope debug')
- launch + test   (builds and tests, like 'goscope test')
- attach + local  (attaches to a running process, like 'goscope attach')

Program and output binary paths will be interpreted relative to goscope's working directory.

This server does not accept multiple client connections (--accept-multiclient).
Use 'goscope [command] --headless' instead and a DAP client with attach + remote config.
While --continue is not supported, stopOnEntry launch/attach attribute can be used to control if
execution is resumed at the start of the debug session.

The --client-addr flag is a special flag that makes the server initiate a debug session
by dialing in to the host:port where a DAP client is waiting. This server process
will exit when the debug session ends.)";

constexpr std::string_view kTraceLong =
    R"(Trace program execution.

The trace sub command will set a tracepoint on every function matching the
provided regular expression and output information when tracepoint is hit.  This
is useful if you do not want to begin an entire debug session, but merely want
to know what functions your process is executing.

The output of the trace sub command is printed to stderr, so if you would like to
only see the output of the trace operations you can redirect stdout.

goscope traces without stopping the program (a uprobe and an eBPF program per function
where the kernel and privileges allow it, else one trap per call that stops only the
calling thread), and adds call trees, statistics and exports (--graph, --stats, --json,
--folded) and filters.)";

std::vector<FlagSpec> make_globals() {
  return {
      {"listen", 'l', F::string, "127.0.0.1:0", "Debugging server listen address."},
      {"log", 0, F::boolean, "", "Enable debugging server logging."},
      {"log-output", 0, F::string, "",
       "Comma separated list of components that should produce debug output (see 'goscope "
       "help log')"},
      {"log-dest", 0, F::string, "",
       "Writes logs to the specified file or file descriptor (see 'goscope help log')."},
      {"headless", 0, F::boolean, "",
       "Run debug server only, in headless mode. Server will accept both JSON-RPC or DAP "
       "client connections."},
      {"accept-multiclient", 0, F::boolean, "",
       "Allows a headless server to accept multiple client connections via JSON-RPC or DAP."},
      {"api-version", 0, F::integer, "1",
       "Selects JSON-RPC API version when headless. goscope serves API v2 (clients switch "
       "with RPCServer.SetApiVersion, as dlv connect and GoLand do)."},
      {"init", 0, F::string, "", "Init file, executed by the terminal client."},
      {"build-flags", 0, F::string, "",
       "Build flags, to be passed to the compiler. For example: "
       "--build-flags=\"-tags=integration -mod=vendor -cover -v\""},
      {"wd", 0, F::string, "", "Working directory for running the program."},
      {"check-go-version", 0, F::boolean, "true",
       "Accepted for compatibility: goscope does not refuse a binary by its Go version."},
      {"only-same-user", 0, F::boolean, "true",
       "Only connections from the same user that started this instance of goscope are "
       "allowed to connect."},
      {"backend", 0, F::string, "default", "Backend selection (see 'goscope help backend')."},
      {"redirect", 'r', F::string_array, "",
       "Specifies redirect rules for target process (see 'goscope help redirect')"},
      {"allow-non-terminal-interactive", 0, F::boolean, "",
       "Allows interactive sessions of goscope that don't have a terminal as stdin, stdout "
       "and stderr"},
      {"disable-aslr", 0, F::boolean, "", "Disables address space randomization"},
  };
}

std::vector<CommandSpec> make_commands() {
  const FlagSpec cont{"continue", 0, F::boolean, "", "Continue the debugged process on start."};
  const FlagSpec tty{"tty", 0, F::string, "", "TTY to use for the target program"};
  std::vector<CommandSpec> c = {
      {"attach",
       "attach pid [executable]",
       "Attach to running process and begin debugging.",
       "Attach to an already running process and begin debugging it.\n\n"
       "This command will cause goscope to take control of an already running process, and\n"
       "begin a new debug session.  When exiting the debug session you will have the\n"
       "option to let the process continue or kill it.\n",
       {cont}},
      {"backend", "backend", "Help about the --backend flag.", kBackendLong, {}, false},
      {"connect",
       "connect addr",
       "Connect to a headless debug server with a terminal client.",
       "Connect to a running headless debug server with a terminal client.\n\n"
       "The terminal client is Delve's: goscope runs `dlv connect`.",
       {}},
      {"core",
       "core <executable> <core>",
       "Examine a core dump.",
       "Examine a core dump.\n\n"
       "The core command will open the specified core file and the associated\n"
       "executable and let you examine the state of the process when the\n"
       "core dump was taken.\n\n"
       "Currently supports linux/amd64 core files, the kernel's, gdb's gcore's and\n"
       "those written by the dump command.",
       {{"core", 'c', F::boolean, "", "", true}}},
      {"dap",
       "dap",
       "Starts a headless TCP server communicating via Debug Adaptor Protocol (DAP).",
       kDapLong,
       {{"client-addr", 0, F::string, "",
         "host:port where the DAP client is waiting for the DAP server to dial in"}}},
      {"debug",
       "debug [package]",
       "Compile and begin debugging main package in current directory, or the package "
       "specified.",
       "Compiles your program with optimizations disabled, starts and attaches to it.\n\n"
       "By default, with no arguments, goscope will compile the 'main' package in the\n"
       "current directory, and begin to debug it. Alternatively you can specify a\n"
       "package name and goscope will compile that package instead, and begin a new debug\n"
       "session.",
       {cont, {"output", 0, F::string, "./__debug_bin", "Output path for the binary."}, tty}},
      {"exec",
       "exec <path/to/binary>",
       "Execute a precompiled binary, and begin a debug session.",
       "Execute a precompiled binary and begin a debug session.\n\n"
       "This command will cause goscope to exec the binary and immediately attach to it to\n"
       "begin a new debug session. Please note that if the binary was not compiled with\n"
       "optimizations disabled, it may be difficult to properly debug it. Please\n"
       "consider compiling debugging binaries with -gcflags=\"all=-N -l\" on Go 1.10\n"
       "or later, -gcflags=\"-N -l\" on earlier versions of Go.",
       {tty, cont}},
      {"help",
       "help [command]",
       "Help about any command",
       "Help provides help for any command in the application.\n"
       "Simply type goscope help [path to command] for full details.",
       {}},
      {"log", "log", "Help about logging flags.", kLogLong, {}, false},
      {"redirect", "redirect", "Help about file redirection.", kRedirectLong, {}, false},
      {"run", "run", "Deprecated command. Use 'debug' instead.", "", {}},
      {"test",
       "test [package]",
       "Compile test binary and begin debugging program.",
       "Compiles a test binary with optimizations disabled and begins a new debug session.\n\n"
       "The test command allows you to begin a new debug session in the context of your\n"
       "unit tests. By default goscope will debug the tests in the current directory.\n"
       "Alternatively you can specify a package name, and goscope will debug the tests in\n"
       "that package instead. Double-dashes `--` can be used to pass arguments to the test "
       "program:\n\n"
       "goscope test [package] -- -test.run TestSomething -test.v -other-argument\n\n"
       "See also: 'go help testflag'.",
       {{"output", 0, F::string, "debug.test", "Output path for the binary."}}},
      {"trace",
       "trace [package] regexp",
       "Compile and begin tracing program.",
       kTraceLong,
       {{"pid", 'p', F::integer, "", "Pid to attach to."},
        {"exec", 'e', F::string, "", "Binary file to exec and trace."},
        {"test", 't', F::boolean, "", "Trace a test binary."},
        {"ebpf", 0, F::boolean, "",
         "Trace using eBPF (goscope uses uprobes where it can; see --engine)."},
        {"stack", 's', F::integer, "", "Show stack trace with given depth."},
        {"output", 'o', F::string, "debug", "Output path for the binary."},
        {"timestamp", 0, F::boolean, "", "Prefix each trace line with a timestamp."},
        {"follow-calls", 0, F::integer, "",
         "Also trace the callees of the matched functions, N levels deep."},
        {"graph", 0, F::boolean, "", "Call tree per goroutine, durations and call sites."},
        {"stats", 0, F::boolean, "",
         "Per-function calls, total, mean, p50, p99, max and a log2 latency histogram at "
         "exit."},
        {"json", 0, F::string, "", "Chrome trace-event JSON (Perfetto, chrome://tracing)."},
        {"folded", 0, F::string, "", "Folded stacks weighted by time (flamegraph.pl)."},
        {"pkg", 0, F::string_array, "", "Trace every function of a package (a/b, a/b/...)."},
        {"exclude", 0, F::string, "", "Do not trace matching functions."},
        {"depth", 0, F::integer, "", "Hide calls nested deeper than N traced calls."},
        {"min-duration", 0, F::string, "", "Show only calls at least this long (250us, 2ms)."},
        {"cond", 0, F::string, "", "Show only calls whose arguments satisfy a Go expression."},
        {"goroutine", 0, F::integer, "", "Show only this goroutine."},
        {"sample", 0, F::integer, "", "Show 1 in N root calls."},
        {"engine", 0, F::string, "",
         "uprobe (no stop: eBPF), inproc (no stop, no kernel entry: capture code in the "
         "program), ptrace, or auto (default: uprobe where the kernel and privileges allow "
         "it)."}}},
      {"version",
       "version",
       "Prints version.",
       "",
       {{"verbose", 'v', F::boolean, "", "print verbose version info"}}},
  };
  return c;
}

std::string type_name(FlagType t) {
  switch (t) {
    case F::boolean:
      return "";
    case F::string:
      return "string";
    case F::integer:
      return "int";
    case F::string_array:
      return "stringArray";
  }
  return "";
}

// pflag's FlagUsages: "  -l, --listen string" padded to the longest such column, three
// spaces, the usage and "(default X)" when the default is not the zero value. Sorted.
std::string flag_usages(std::vector<FlagSpec> flags) {
  std::sort(flags.begin(), flags.end(),
            [](const FlagSpec& a, const FlagSpec& b) { return a.name < b.name; });
  std::vector<std::pair<std::string, std::string>> lines;
  std::size_t maxlen = 0;
  for (const auto& f : flags) {
    if (f.hidden)
      continue;
    std::string left = f.shorthand ? std::string("  -") + f.shorthand + ", --" : "      --";
    left += f.name;
    if (const auto t = type_name(f.type); !t.empty())
      left += " " + t;
    maxlen = std::max(maxlen, left.size() + 1);  // pflag counts its \x00 marker
    std::string right(f.usage);
    if (!f.def.empty()) {
      right += f.type == F::string ? " (default \"" + std::string(f.def) + "\")"
                                   : " (default " + std::string(f.def) + ")";
    }
    lines.emplace_back(std::move(left), std::move(right));
  }
  std::string out;
  for (const auto& [left, right] : lines) {
    out += left;
    out += std::string(maxlen - left.size() + 2, ' ');
    out += right;
    // trimTrailingWhitespaces on an empty usage
    while (!out.empty() && out.back() == ' ') out.pop_back();
    out += '\n';
  }
  return out;
}

std::string trim_right(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\t'))
    s.remove_suffix(1);
  return std::string(s);
}

FlagSpec help_flag(std::string_view command) {
  static const std::string root = "help for goscope";
  if (command.empty())
    return {"help", 'h', F::boolean, "", root};
  for (const auto& c : commands()) {
    if (c.name == command) {
      static std::vector<std::string> owned = [] {
        std::vector<std::string> v;
        for (const auto& cc : commands()) v.push_back("help for " + std::string(cc.name));
        return v;
      }();
      return {"help", 'h', F::boolean, "", owned[static_cast<std::size_t>(&c - commands().data())]};
    }
  }
  return {"help", 'h', F::boolean, "", root};
}

std::size_t levenshtein(std::string_view a, std::string_view b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string lower(std::string_view s) {
  std::string r(s);
  for (auto& ch : r) ch = static_cast<char>(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
  return r;
}

}  // namespace

const std::vector<FlagSpec>& global_flags() {
  static const auto g = make_globals();
  return g;
}

const std::vector<CommandSpec>& commands() {
  static const auto c = make_commands();
  return c;
}

const CommandSpec* find_command(std::string_view name) {
  for (const auto& c : commands()) {
    if (c.name == name)
      return &c;
  }
  return nullptr;
}

std::string usage_text(std::string_view command) {
  const CommandSpec* cmd = command.empty() ? nullptr : find_command(command);
  std::string out = "Usage:";
  if (cmd && cmd->runnable) {
    out += "\n  goscope ";
    out += cmd->use;
    out += " [flags]";
  }
  if (!cmd) {
    out += "\n  goscope [command]\n\nAvailable Commands:";
    std::size_t pad = 11;
    for (const auto& c : commands()) pad = std::max(pad, c.name.size());
    for (const auto& c : commands()) {
      if (!c.runnable)
        continue;
      std::string name(c.name);
      name.resize(pad, ' ');
      out += "\n  " + name + " " + std::string(c.short_desc);
    }
  }
  std::vector<FlagSpec> local = cmd ? cmd->flags : global_flags();
  local.push_back(help_flag(command));
  out += "\n\nFlags:\n";
  out += trim_right(flag_usages(local));
  if (cmd) {
    out += "\n\nGlobal Flags:\n";
    out += trim_right(flag_usages(global_flags()));
  } else {
    out += "\n\nAdditional help topics:";
    std::size_t pad = 11;
    for (const auto& c : commands()) pad = std::max(pad, c.name.size() + 8);
    for (const auto& c : commands()) {
      if (c.runnable)
        continue;
      std::string path = "goscope " + std::string(c.name);
      path.resize(pad, ' ');
      out += "\n  " + path + " " + std::string(c.short_desc);
    }
    out += "\n\nUse \"goscope [command] --help\" for more information about a command.";
  }
  out += '\n';
  return out;
}

std::string help_text(std::string_view command) {
  const CommandSpec* cmd = command.empty() ? nullptr : find_command(command);
  std::string out;
  const std::string_view desc =
      cmd ? (cmd->long_desc.empty() ? cmd->short_desc : cmd->long_desc) : kRootLong;
  out = trim_right(desc) + "\n\n";
  if (!cmd || cmd->runnable)
    out += usage_text(command);
  return out;
}

std::string suggestions(std::string_view typed) {
  std::string out;
  for (const auto& c : commands()) {
    if (!c.runnable || c.name == "help")
      continue;
    if (levenshtein(typed, c.name) <= 2 || lower(c.name).starts_with(lower(typed)))
      out += "\t" + std::string(c.name) + "\n";
  }
  return out.empty() ? out : "\n\nDid you mean this?\n" + out;
}

}  // namespace goscope::cli

// dlv exec/debug/test/attach/core: checks and warnings as cmd/dlv's execute() gives them,
// then either a headless JSON-RPC server (print the listening line, start the target, serve
// until a client detaches) or, without --headless, the same server on a private loopback
// port driven by Delve's terminal client (`dlv connect`), as dlv's own terminal does.
#include "server_command.hpp"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <thread>

#include "dap/server.hpp"
#include "log/log.hpp"
#include "net/server.hpp"
#include "rpc/server.hpp"
#include "session/debugger.hpp"
#include "session/go_version.hpp"
#include "session/launch.hpp"

extern char** environ;

namespace goscope::cli {
namespace {

// The bound address (numeric, as the listener reports it) is a loopback one.
bool is_loopback_addr(const std::string& addr) {
  const auto colon = addr.rfind(':');
  std::string host = colon == std::string::npos ? addr : addr.substr(0, colon);
  if (host.size() > 1 && host.front() == '[')
    host = host.substr(1, host.size() - 2);
  return host == "localhost" || host.starts_with("127.") || host == "::1" ||
         host.starts_with("::ffff:127.");
}

/// Where `dlv` is on PATH, or "" (execvp's search, done first so that a missing client is
/// reported before anything starts).
std::string find_dlv() {
  const char* path = std::getenv("PATH");
  std::string p = path ? path : "/usr/local/bin:/usr/bin:/bin";
  std::size_t start = 0;
  while (start <= p.size()) {
    const auto end = p.find(':', start);
    std::string dir = p.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (dir.empty())
      dir = ".";
    const std::string cand = dir + "/dlv";
    if (::access(cand.c_str(), X_OK) == 0)
      return cand;
    if (end == std::string::npos)
      break;
    start = end + 1;
  }
  return {};
}

constexpr const char* kNoDlv =
    "Error: goscope's terminal interface is Delve's terminal client, and dlv is not on PATH: "
    "install Delve (the Debian package delve, or `go install "
    "github.com/go-delve/delve/cmd/dlv@latest`), or run goscope with --headless and connect "
    "another client\n";

/// `dlv connect ADDR [--init FILE]` on our terminal; returns its exit status.
int run_dlv_client(const std::string& dlv, const std::string& addr, const std::string& init,
                   const std::vector<std::string>& extra = {}) {
  std::vector<std::string> argv = {dlv, "connect", addr};
  if (!init.empty()) {
    argv.push_back("--init");
    argv.push_back(init);
  }
  argv.insert(argv.end(), extra.begin(), extra.end());
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  // The client must get SIGINT (it halts the target on Ctrl-C) even though we ignore it.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t def;
  sigemptyset(&def);
  sigaddset(&def, SIGINT);
  sigaddset(&def, SIGPIPE);
  posix_spawnattr_setsigdefault(&attr, &def);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
  pid_t pid = 0;
  const int err = posix_spawn(&pid, dlv.c_str(), nullptr, &attr, cargv.data(), environ);
  posix_spawnattr_destroy(&attr);
  if (err != 0) {
    std::fprintf(stderr, "could not start %s: %s\n", dlv.c_str(), std::strerror(err));
    return 1;
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

// The package directory of `goscope test` (dlv's getPackageDir: `go list` of the packages,
// "." when that fails).
std::string package_dir(const std::vector<std::string>& packages) {
  if (packages.size() > 1)
    return ".";  // dlv decodes one JSON object: several packages give "."
  std::string cmd = "go list -f '{{.Dir}}'";
  for (const auto& p : packages) {
    std::string q = "'";
    for (char c : p) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    cmd += " " + q + "'";
  }
  cmd += " 2>/dev/null";
  std::FILE* f = ::popen(cmd.c_str(), "r");
  if (!f)
    return ".";
  std::string out;
  char buf[4096];
  while (std::fgets(buf, sizeof buf, f)) out += buf;
  const int rc = ::pclose(f);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return rc == 0 && !out.empty() && out.find('\n') == std::string::npos ? out : ".";
}

// dlv dap (cmd/dlv dapCmd): one client, which launches or attaches; the server exits when
// its session ends. Listener, connection and shutdown are server/net's, the readiness line
// and the message log server/log's (--log-dest: VS Code Go's fd 3).
int run_dap_command(const ServerOptions& o) {
  if (const auto err = log::setup(o.log, o.log_output, o.log_dest); !err.empty()) {
    std::fprintf(stderr, "%s\n", err.c_str());
    return 1;
  }
  struct CloseLog {
    ~CloseLog() { log::close(); }
  } close_log;
  // dlv's warnings for the flags that belong to the launch request.
  if (o.headless_given)
    std::fputs("Warning: dap mode is always headless\n", stderr);
  if (o.accept_multiclient)
    std::fputs("Warning: accept-multiclient mode not supported with dap\n", stderr);
  if (!o.init.empty())
    std::fputs("Warning: init file ignored with dap\n", stderr);
  if (o.continue_after_start)
    std::fputs("Warning: continue ignored with dap; specify via launch/attach request instead\n",
               stderr);
  if (o.backend != "default")
    std::fputs("Warning: backend ignored with dap; specify via launch/attach request instead\n",
               stderr);
  if (!o.build_flags.empty())
    std::fputs("Warning: build flags ignored with dap; specify via launch/attach request instead\n",
               stderr);
  if (!o.wd.empty())
    std::fputs("Warning: working directory ignored with dap: specify via launch request instead\n",
               stderr);
  if (!o.args.empty())
    std::fputs(
        "Warning: program flags ignored with dap; specify via launch/attach request instead\n",
        stderr);

  net::ServerConfig scfg;
  scfg.listen = o.listen;
  scfg.accept_multiclient = false;  // one connection, one session
  scfg.only_same_user = o.only_same_user;
  scfg.log_layer = "dap";
  net::Server server(scfg);
  std::string addr;
  if (!o.client_addr.empty()) {
    try {
      server.dial(o.client_addr);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "Failed to connect to the DAP client: %s\n", e.what());
      return 1;
    }
    log::debug(log::Layer::dap, "DAP server for a predetermined client");
  } else {
    try {
      addr = server.listen();
    } catch (const std::exception& e) {
      std::printf("couldn't start listener: %s\n", e.what());
      return 1;
    }
    log::write_listening_message("DAP", addr, is_loopback_addr(addr));
    server.warn_if_remote(stderr);
  }
  log::debug(log::Layer::dap, "DAP server pid = " + std::to_string(::getpid()));
  signal(SIGPIPE, SIG_IGN);
  dap::ProtocolConfig dcfg;
  dcfg.address = addr;
  dcfg.check_go_version = o.check_go_version;
  net::Protocol p = dap::dap_protocol(dcfg);
  // dlv dap does not sniff: whatever the client sends is DAP (and an error if it is not).
  p.sniff = [](std::string_view) { return net::Sniff::match; };
  server.add_protocol(std::move(p));
  // The session releases its own target (kills what it launched, detaches from what it
  // attached to, deletes a built binary) when it ends, which the server's shutdown causes
  // by closing its connection.
  server.run({});
  return 0;
}

}  // namespace

int run_server_command(const Command& cmd) {
  ServerOptions o = cmd.server;
  if (cmd.verb == Verb::connect) {
    // The client is Delve's: its logging flags are its own.
    const std::string dlv = find_dlv();
    if (dlv.empty()) {
      std::fputs(kNoDlv, stderr);
      return 1;
    }
    if (o.target.empty()) {
      std::fputs(
          "An empty address was provided. You must provide an address as the first argument.\n",
          stderr);
      return 1;
    }
    std::vector<std::string> log_flags;
    if (o.log)
      log_flags.push_back("--log");
    if (!o.log_output.empty())
      log_flags.push_back("--log-output=" + o.log_output);
    if (!o.log_dest.empty())
      log_flags.push_back("--log-dest=" + o.log_dest);
    return run_dlv_client(dlv, o.target, o.init, log_flags);
  }
  if (cmd.verb == Verb::dap)
    return run_dap_command(o);
  if (const auto err = log::setup(o.log, o.log_output, o.log_dest); !err.empty()) {
    std::fprintf(stderr, "%s\n", err.c_str());
    return 1;
  }
  struct CloseLog {
    ~CloseLog() { log::close(); }
  } close_log;

  // cmd/dlv execute(): its checks, in its order, with its texts.
  if (o.headless && !o.init.empty())
    std::fputs("Warning: init file ignored with --headless\n", stderr);
  if (o.continue_after_start) {
    if (!o.headless) {
      std::fputs("Error: --continue only works with --headless; use an init file\n", stderr);
      return 1;
    }
    if (!o.accept_multiclient) {
      std::fputs("Error: --continue requires --accept-multiclient\n", stderr);
      return 1;
    }
  }
  if (!o.headless && o.accept_multiclient) {
    std::fputs("Warning accept-multi: ignored\n", stderr);
    o.accept_multiclient = false;
  }
  if (!o.headless && !o.allow_non_terminal_interactive) {
    const std::pair<const char*, int> stdio[] = {
        {"Stdin", STDIN_FILENO}, {"Stdout", STDOUT_FILENO}, {"Stderr", STDERR_FILENO}};
    for (const auto& [name, fd] : stdio) {
      if (!::isatty(fd)) {
        std::fprintf(stderr,
                     "%s is not a terminal, use '-r' to specify redirects for the target "
                     "process or --allow-non-terminal-interactive=true if you really want to "
                     "specify a redirect for goscope\n",
                     name);
        return 1;
      }
    }
  }
  if (!o.redirects.empty() && !o.tty.empty()) {
    std::fputs("Can not use -r and --tty together\n", stderr);
    return 1;
  }
  std::array<std::string, 3> redirects;
  try {
    redirects = parse_redirects(o.redirects);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  if (o.api_version != 1 && o.api_version != 2) {
    std::printf("Unknown API version: %d\n", o.api_version);
    return 1;
  }
  if (o.api_version_given && o.api_version == 1) {
    std::fputs("Error: API version 1 is not supported: goscope serves API v2 (--api-version=2)\n",
               stderr);
    return 1;
  }
  if (o.backend != "default" && o.backend != "native") {
    std::fprintf(stderr,
                 "Error: backend %s is not supported: goscope has its own native backend "
                 "only\n",
                 o.backend.c_str());
    return 1;
  }
  std::string dlv;
  if (!o.headless) {
    dlv = find_dlv();
    if (dlv.empty()) {
      std::fputs(kNoDlv, stderr);
      return 1;
    }
  }

  // debug/test: build first, as dlv does (before the server listens); the built binary is
  // removed when `launch` goes.
  session::LaunchSpec spec;
  spec.mode = cmd.verb == Verb::debug                            ? session::LaunchMode::debug
              : cmd.verb == Verb::test                           ? session::LaunchMode::test
              : cmd.verb == Verb::exec || cmd.verb == Verb::core ? session::LaunchMode::exec
                                                                 : session::LaunchMode::attach;
  if (spec.mode == session::LaunchMode::attach) {
    char* end = nullptr;
    errno = 0;
    const long pid = std::strtol(o.target.c_str(), &end, 10);
    if (o.target.empty() || *end != '\0' || errno != 0 || pid <= 0 || pid > INT32_MAX) {
      std::fprintf(stderr, "Invalid pid: %s\n", o.target.c_str());
      return 1;
    }
    spec.pid = static_cast<pid_t>(pid);
  } else {
    spec.program = o.target;
  }
  spec.args = o.args;
  spec.working_dir = o.wd;
  if (spec.mode == session::LaunchMode::test && spec.working_dir.empty())
    spec.working_dir = package_dir(o.packages);
  spec.disable_aslr = o.disable_aslr;
  spec.build_flags = session::split_build_flags(o.build_flags);
  spec.output = o.output;
  std::optional<session::PreparedLaunch> launch;
  session::DebuggerConfig dcfg;
  if (cmd.verb == Verb::core) {
    // dlv core EXE CORE: nothing to build or launch; the Debugger opens both (its errors,
    // a missing file or a core of another program, come after the listening line, as dlv's).
    dcfg.executable = o.target;
    dcfg.core_file = o.core_file;
  } else {
    try {
      launch.emplace(spec);
    } catch (const session::LaunchError& e) {
      std::fprintf(stderr, "could not launch process: %s\n", e.what());
      return 1;
    }
    dcfg = launch->debugger_config();
  }
  dcfg.stdin_path = redirects[0];
  dcfg.stdout_path = redirects[1];
  dcfg.stderr_path = redirects[2];
  dcfg.tty = o.tty;
  dcfg.new_process_group = !o.headless;

  net::ServerConfig scfg;
  // Without --headless the server is private: the terminal client is its only client.
  scfg.listen = o.headless ? o.listen : "127.0.0.1:0";
  scfg.accept_multiclient = o.accept_multiclient;
  scfg.only_same_user = o.only_same_user;
  scfg.log_layer = "rpc";
  net::Server server(scfg);
  std::string addr;
  try {
    addr = server.listen();
  } catch (const std::exception& e) {
    std::printf("couldn't start listener: %s\n", e.what());
    return 1;
  }
  // SIGINT/SIGTERM are handled by the server's io_context (asio::signal_set, installed when
  // the server was created): run() returns and shuts down as Delve does.
  signal(SIGPIPE, SIG_IGN);
  if (o.headless) {
    const bool loopback = is_loopback_addr(addr);
    log::write_listening_message("API", addr, loopback);
    server.warn_if_remote(stderr);  // names the address actually bound
    log::debug(log::Layer::rpc, "API server pid = " + std::to_string(::getpid()));
  }

  std::unique_ptr<session::Debugger> dbg;
  try {
    dbg = std::make_unique<session::Debugger>(dcfg);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  // --check-go-version (Delve's debugger.New, after the launch): a binary of a Go that dlv
  // 1.20.2 does not support is refused and the process released (killed when launched,
  // left running when attached); =false says a warning instead.
  if (const auto c = session::check_go_version(dbg->target_go_version(), o.check_go_version);
      c.error || c.warning) {
    std::fprintf(stderr, "%s\n", c.error ? c.error->c_str() : c.warning->c_str());
    if (c.error) {
      dbg->detach(!dbg->attached_to_existing_process());
      return 1;
    }
  }
  if (!o.headless) {
    // The terminal's Ctrl-C is the client's (it halts the target); the program has a
    // process group of its own, and the server ignores it.
    signal(SIGINT, SIG_IGN);
    server.add_protocol(rpc::json_rpc_protocol(*dbg, {false, GOSCOPE_VERSION}));
    std::thread serving(
        [&] { server.run([d = dbg.get()] { d->detach(!d->attached_to_existing_process()); }); });
    const int status = run_dlv_client(dlv, addr, o.init);
    server.stop();
    serving.join();
    dbg.reset();
    return status;
  }
  // --continue: Delve connects to itself and sends an asynchronous continue; a thread does
  // the same here. run() detaches the debugger before it returns, which ends this continue.
  std::thread continuer;
  if (o.continue_after_start) {
    continuer = std::thread([d = dbg.get()] {
      try {
        d->command(session::Command{session::CommandKind::continue_});
      } catch (const std::exception&) {
      }
    });
  }
  // One port, every protocol: the first bytes decide (Delve: 'C' is DAP, whose clients
  // attach to this debugger in mode `remote`). JSON-RPC matches anything, so it is
  // registered last.
  dap::ProtocolConfig dap_cfg;
  dap_cfg.address = addr;
  dap_cfg.debugger = dbg.get();
  dap_cfg.accept_multiclient = o.accept_multiclient;
  server.add_protocol(dap::dap_protocol(dap_cfg));
  server.add_protocol(rpc::json_rpc_protocol(*dbg, {o.accept_multiclient, GOSCOPE_VERSION}));
  // Delve's ServerImpl.Stop: a launched target is killed, an attached one left running
  // without traps (halting a running command first).
  server.run([d = dbg.get()] { d->detach(!d->attached_to_existing_process()); });
  log::debug(log::Layer::rpc, "stopping");
  if (continuer.joinable())
    continuer.join();
  // No thread uses the debugger any more; its destructor finds it already detached.
  dbg.reset();
  std::fflush(stdout);
  return 0;
}

}  // namespace goscope::cli

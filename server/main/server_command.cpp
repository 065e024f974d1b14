// dlv exec/debug/test/attach --headless: print the listening line, start the target, serve
// JSON-RPC API v2 until a client detaches (or the single client leaves, or a signal).
#include "server_command.hpp"

#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <thread>

#include "net/server.hpp"
#include "rpc/server.hpp"
#include "session/debugger.hpp"
#include "session/launch.hpp"

namespace goscope::cli {
namespace {

int connect_with_dlv(const ServerOptions& o) {
  std::vector<std::string> argv = {"dlv", "connect"};
  argv.insert(argv.end(), o.raw_args.begin(), o.raw_args.end());
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  execvp("dlv", cargv.data());
  std::fprintf(stderr,
               "Error: goscope has no terminal client of its own; `goscope connect` runs Delve's "
               "(`dlv connect %s`), but dlv was not found on PATH (%s). Install Delve or use "
               "another JSON-RPC API v2 client.\n",
               o.target.c_str(), std::strerror(errno));
  return 1;
}

}  // namespace

int run_server_command(const Command& cmd) {
  const auto& o = cmd.server;
  if (cmd.verb == Verb::dap) {
    std::fprintf(stderr,
                 "Error: goscope dap is not implemented yet (use --headless JSON-RPC "
                 "API v2: goscope exec BIN --headless)\n");
    return 1;
  }
  if (cmd.verb == Verb::connect)
    return connect_with_dlv(o);
  if (!o.headless) {
    std::fprintf(stderr,
                 "Error: goscope has no terminal interface: run it with --headless and connect "
                 "a client (e.g. `goscope connect ADDR`, which runs `dlv connect`)\n");
    return 1;
  }
  if (o.api_version_given && o.api_version != 2) {
    std::fprintf(stderr,
                 "Error: API version %d is not supported: goscope serves API v2 only "
                 "(--api-version=2)\n",
                 o.api_version);
    return 1;
  }
  if (o.continue_after_start && !o.accept_multiclient) {
    std::fprintf(stderr, "Error: --continue requires --accept-multiclient\n");
    return 1;
  }
  if (o.backend != "default" && o.backend != "native") {
    std::fprintf(stderr,
                 "Error: backend %s is not supported: goscope has its own native "
                 "backend only\n",
                 o.backend.c_str());
    return 1;
  }
  std::vector<std::string> warnings = o.warnings;
  if (!o.init.empty())
    warnings.push_back("--init is ignored with --headless");
  if (o.log || !o.log_output.empty() || !o.log_dest.empty()) {
    warnings.push_back("--log, --log-output and --log-dest have no effect yet");
  }
  if (!o.check_go_version)
    warnings.push_back("--check-go-version has no effect (never checked)");
  if (o.allow_non_terminal_interactive) {
    warnings.push_back("--allow-non-terminal-interactive has no effect with --headless");
  }
  if (!o.build_flags.empty() && cmd.verb != Verb::debug && cmd.verb != Verb::test) {
    warnings.push_back("--build-flags only applies to debug and test");
  }
  if (cmd.verb == Verb::attach && !o.wd.empty())
    warnings.push_back("--wd does not apply to attach");
  if (cmd.verb == Verb::attach && o.disable_aslr) {
    warnings.push_back("--disable-aslr does not apply to attach");
  }
  for (const auto& w : warnings) std::fprintf(stderr, "Warning: %s\n", w.c_str());

  // debug/test: build first, as dlv does (before the server listens); the built binary is
  // removed when `launch` goes.
  session::LaunchSpec spec;
  spec.mode = cmd.verb == Verb::debug  ? session::LaunchMode::debug
              : cmd.verb == Verb::test ? session::LaunchMode::test
              : cmd.verb == Verb::exec ? session::LaunchMode::exec
                                       : session::LaunchMode::attach;
  if (spec.mode == session::LaunchMode::attach) {
    spec.pid = std::stoi(o.target);
  } else {
    spec.program = o.target;
  }
  spec.args = o.args;
  spec.working_dir = o.wd;
  spec.disable_aslr = o.disable_aslr;
  spec.build_flags = session::split_build_flags(o.build_flags);
  spec.output = o.output;
  std::optional<session::PreparedLaunch> launch;
  try {
    launch.emplace(spec);
  } catch (const session::LaunchError& e) {
    std::fprintf(stderr, "could not launch process: %s\n", e.what());
    return 1;
  }
  const session::DebuggerConfig dcfg = launch->debugger_config();

  net::ServerConfig scfg;
  scfg.listen = o.listen;
  scfg.accept_multiclient = o.accept_multiclient;
  scfg.only_same_user = o.only_same_user;
  scfg.log_layer = "rpc";
  net::Server server(scfg);
  std::string addr;
  try {
    addr = server.listen();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "couldn't start listener: %s\n", e.what());
    return 1;
  }
  // SIGINT/SIGTERM are handled by the server's io_context (asio::signal_set, installed when
  // the server was created): run() returns and shuts down as Delve does.
  signal(SIGPIPE, SIG_IGN);
  std::printf("API server listening at: %s\n", addr.c_str());
  std::fflush(stdout);
  server.warn_if_remote(stderr);

  std::unique_ptr<session::Debugger> dbg;
  try {
    dbg = std::make_unique<session::Debugger>(dcfg);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
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
  // One port, every protocol: the first bytes decide (Delve: 'C' is DAP). JSON-RPC
  // matches anything, so it is registered last.
  server.add_protocol(rpc::json_rpc_protocol(*dbg, {o.accept_multiclient, GOSCOPE_VERSION}));
  // Delve's ServerImpl.Stop: a launched target is killed, an attached one left running
  // without traps (halting a running command first).
  server.run([d = dbg.get()] { d->detach(!d->attached_to_existing_process()); });
  if (continuer.joinable())
    continuer.join();
  // No thread uses the debugger any more; its destructor finds it already detached.
  dbg.reset();
  std::fflush(stdout);
  return 0;
}

}  // namespace goscope::cli

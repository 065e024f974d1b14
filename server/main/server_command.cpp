// dlv exec/debug/test/attach --headless: print the listening line, start the target, serve
// JSON-RPC API v2 until a client detaches (or the single client leaves, or a signal).
#include "server_command.hpp"

#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <sstream>
#include <thread>

#include "rpc/server.hpp"
#include "session/debugger.hpp"
#include "session/go_build.hpp"

namespace goscope::cli {
namespace {

// Splits --build-flags the way a shell would for simple cases (quotes group words).
std::vector<std::string> split_flags(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  char quote = 0;
  bool have = false;
  for (char c : s) {
    if (quote) {
      if (c == quote) {
        quote = 0;
      } else {
        cur += c;
      }
    } else if (c == '\'' || c == '"') {
      quote = c;
      have = true;
    } else if (c == ' ' || c == '\t') {
      if (have || !cur.empty())
        out.push_back(cur);
      cur.clear();
      have = false;
    } else {
      cur += c;
    }
  }
  if (have || !cur.empty())
    out.push_back(cur);
  return out;
}

bool is_loopback_listen(const std::string& listen) {
  const auto colon = listen.rfind(':');
  std::string host = colon == std::string::npos ? listen : listen.substr(0, colon);
  if (host.size() > 1 && host.front() == '[')
    host = host.substr(1, host.size() - 2);
  return host.empty() ? false : host == "localhost" || host.starts_with("127.") || host == "::1";
}

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
  if (!is_loopback_listen(o.listen)) {
    std::fprintf(stderr,
                 "Warning: listening for remote connections (connections are not authenticated "
                 "nor encrypted)\n"
                 "WARNING: this allows anyone who can reach %s to run code as this user\n",
                 o.listen.c_str());
  }

  // debug/test: build first, as dlv does (before the server listens).
  session::DebuggerConfig dcfg;
  dcfg.args = o.args;
  dcfg.working_dir = o.wd;
  dcfg.disable_aslr = o.disable_aslr;
  std::string built;
  if (cmd.verb == Verb::debug || cmd.verb == Verb::test) {
    std::string out =
        o.output.empty() ? (cmd.verb == Verb::test ? "__debug_bin.test" : "__debug_bin") : o.output;
    out = std::filesystem::absolute(out).string();
    if (!session::go_build(cmd.verb == Verb::test,
                           o.target.empty() ? std::nullopt : std::optional(o.target), out,
                           split_flags(o.build_flags))) {
      std::fprintf(stderr, "could not launch process: go build failed\n");
      return 1;
    }
    built = out;
    dcfg.executable = out;
  } else if (cmd.verb == Verb::exec) {
    dcfg.executable = std::filesystem::absolute(o.target).string();
  } else {
    dcfg.attach_pid = std::stoi(o.target);
  }
  struct RemoveBuilt {
    std::string path;
    ~RemoveBuilt() {
      if (!path.empty())
        std::filesystem::remove(path);
    }
  } remove_built{built};

  rpc::ServerConfig scfg;
  scfg.listen = o.listen;
  scfg.accept_multiclient = o.accept_multiclient;
  scfg.only_same_user = o.only_same_user;
  scfg.version = GOSCOPE_VERSION;
  rpc::Server server(scfg);
  std::string addr;
  try {
    addr = server.listen();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "Error: %s\n", e.what());
    return 1;
  }
  // SIGINT/SIGTERM are handled by the server's io_context (asio::signal_set, installed when
  // the server was created): run() returns and shuts down as Delve does.
  signal(SIGPIPE, SIG_IGN);
  std::printf("API server listening at: %s\n", addr.c_str());
  std::fflush(stdout);

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
        d->command(session::api::DebuggerCommand{"continue", 0, 0, std::nullopt, "", false});
      } catch (const std::exception&) {
      }
    });
  }
  server.run(*dbg);
  if (continuer.joinable())
    continuer.join();
  // No thread uses the debugger any more; its destructor finds it already detached.
  dbg.reset();
  std::fflush(stdout);
  return 0;
}

}  // namespace goscope::cli

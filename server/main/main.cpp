// The goscope command line: dlv's verbs and flags, because IDEs and scripts spawn it with
// exactly those.
#include <malloc.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "log/log.hpp"
#include "options.hpp"
#include "server_command.hpp"
#include "session/trace_command.hpp"

namespace {

void on_terminate_signal(int) {
  goscope::session::interrupt_trace();
}

void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_terminate_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  // A closed stderr pipe must not kill the tracer while traps are in the target.
  signal(SIGPIPE, SIG_IGN);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace goscope;
  // A debug server's round trip allocates and frees the same few KB over and over on its
  // threads: grow a heap by 1 MB at a time and give memory back only above 16 MB, so that
  // glibc does not shrink and regrow a thread's arena (an mprotect each time) round after
  // round. Blocks up to 4 MB come from the heap rather than from their own mmap/munmap.
  mallopt(M_TOP_PAD, 1 << 20);
  mallopt(M_TRIM_THRESHOLD, 16 << 20);
  mallopt(M_MMAP_THRESHOLD, 4 << 20);
  std::vector<std::string> args(argv + 1, argv + argc);
  cli::Command cmd;
  try {
    cmd = cli::parse(args);
  } catch (const cli::UnknownCommand& e) {
    std::fprintf(stderr, "Error: %s\nRun 'goscope --help' for usage.\n", e.what());
    return 1;
  } catch (const cli::UsageError& e) {
    // cobra: "Error: ..." then the command's usage and an empty line; `help TOPIC` of an
    // unknown topic prints its line and the root's usage.
    if (e.command() == "help") {
      std::fprintf(stderr, "%s\n%s", e.what(), cli::usage("").c_str());
    } else {
      std::fprintf(stderr, "Error: %s\n%s\n", e.what(), cli::usage(e.command()).c_str());
    }
    return 1;
  }
  try {
    switch (cmd.verb) {
      case cli::Verb::help:
        std::fputs(cmd.help_text.c_str(), stdout);
        return 0;
      case cli::Verb::version:
        // dlv's shape: "Delve Debugger", "Version: X", "Build: $Id: ... $".
        std::printf("Goscope Debugger\nVersion: %s\nBuild: $Id: goscope %s, C++ $\n",
                    GOSCOPE_VERSION, GOSCOPE_VERSION);
        if (cmd.verbose) {
          std::printf("Build Details: g++ %d.%d, C++%ld, Delve JSON-RPC API v2 and DAP\n", __GNUC__,
                      __GNUC_MINOR__, __cplusplus / 100 % 100);
        }
        return 0;
      case cli::Verb::run:
        std::puts("This command is deprecated, please use 'debug' instead.");
        return 0;
      case cli::Verb::trace: {
        const auto& o = cmd.server;
        if (const auto err = log::setup(o.log, o.log_output, o.log_dest); !err.empty()) {
          std::fprintf(stderr, "%s\n", err.c_str());
          return 1;
        }
        if (o.headless)
          std::fputs("Warning: headless mode not supported with trace\n", stderr);
        if (o.accept_multiclient)
          std::fputs("Warning: accept multiclient mode not supported with trace\n", stderr);
        install_signal_handlers();
        return session::run_trace(cmd.trace, stderr);
      }
      case cli::Verb::exec:
      case cli::Verb::debug:
      case cli::Verb::test:
      case cli::Verb::attach:
      case cli::Verb::core:
      case cli::Verb::connect:
      case cli::Verb::dap:
        return cli::run_server_command(cmd);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}

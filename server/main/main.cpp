// The goscope command line: dlv's verbs and flags, because IDEs and scripts spawn it with
// exactly those.
#include <malloc.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "dap_command.hpp"
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
  try {
    if (!args.empty() && args[0] == "dap")  // dlv dap's flags: server/main/dap_command.cpp
      return cli::run_dap_command(args);
    const auto cmd = cli::parse(args);
    switch (cmd.verb) {
      case cli::Verb::help:
        std::fputs(cli::usage().c_str(), stdout);
        return 0;
      case cli::Verb::version:
        std::printf("Goscope Debugger\nVersion: %s\nBuild: C++ (Delve JSON-RPC API v2 and DAP)\n",
                    GOSCOPE_VERSION);
        return 0;
      case cli::Verb::trace:
        install_signal_handlers();
        return session::run_trace(cmd.trace, stderr);
      case cli::Verb::exec:
      case cli::Verb::debug:
      case cli::Verb::test:
      case cli::Verb::attach:
      case cli::Verb::connect:
      case cli::Verb::dap:
        return cli::run_server_command(cmd);
    }
  } catch (const cli::UsageError& e) {
    std::fprintf(stderr, "Error: %s\n%s", e.what(), cli::usage().c_str());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}

#include "live.hpp"

#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>

namespace goscope::fuzz {

namespace {

bool ptrace_allowed() {
  const pid_t child = ::fork();
  if (child == 0) {
    ::pause();
    ::_exit(0);
  }
  const bool ok = ::ptrace(PTRACE_SEIZE, child, nullptr, nullptr) == 0;
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  return ok;
}

}  // namespace

session::Debugger& live_debugger() {
  static std::unique_ptr<session::Debugger> dbg = [] {
    if (!ptrace_allowed()) {
      std::fprintf(stderr, "skipped: ptrace is not allowed here\n");
      std::exit(77);
    }
    session::DebuggerConfig cfg;
    cfg.executable = GOSCOPE_FIXTURE_DIR "/values";
    auto d = std::make_unique<session::Debugger>(cfg);
    session::api::Breakpoint bp;
    bp.function_name = "main.stop";
    d->create_breakpoint(bp, "main.stop", false);
    session::api::DebuggerCommand go;
    go.name = "continue";
    const auto st = d->command(go);
    if (st.exited || !st.current_thread) {
      std::fprintf(stderr, "the values fixture did not stop at main.stop\n");
      std::exit(1);
    }
    return d;
  }();
  return *dbg;
}

}  // namespace goscope::fuzz

#include "live.hpp"

#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <csignal>
#include <cstdlib>
#include <string>

#include "proc/process.hpp"

namespace goscope::target::test {

namespace {

bool ptrace_allowed() {
  pid_t child = ::fork();
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

Stopped run_to(const char* fixture, const std::function<proc::VirtAddr(const BinaryInfo&)>& where) {
  if (!ptrace_allowed())
    std::exit(77);
  const std::string path = std::string(GOSCOPE_FIXTURE_DIR "/") + fixture;
  auto bi = BinaryInfo::load(path);
  const auto entry = where(*bi);
  proc::LaunchOptions opts;
  opts.path = path;
  opts.stdout_path = "/dev/null";
  opts.stderr_path = "/dev/null";
  auto p = proc::Process::launch(opts);
  p->set_signal_passthrough(SIGURG, true);
  p->add_breakpoint(entry);
  p->resume_all();
  Stopped s;
  for (;;) {
    auto ev = p->wait_event();
    if (ev.kind == proc::StopEvent::Kind::breakpoint && ev.pc == entry) {
      s.tid = ev.tid;
      break;
    }
    REQUIRE(ev.kind == proc::StopEvent::Kind::signal);
    p->resume_thread(ev.tid, ev.signal);
  }
  p->stop_all();
  s.t = std::make_unique<Target>(std::move(p), std::move(bi));
  s.t->set_current_thread(s.tid);
  return s;
}

Stopped run_to_function(const char* fixture, const char* fn) {
  return run_to(fixture, [fn](const BinaryInfo& bi) {
    const auto* f = bi.debug().find_function(fn);
    REQUIRE(f);
    return bi.to_virt(f->low_pc);
  });
}

}  // namespace goscope::target::test

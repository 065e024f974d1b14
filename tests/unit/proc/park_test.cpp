// Parking (Process::set_park_blocked): threads blocked in system calls stay in them across
// all-stop stops, on the `parking` fixture (a pipe reader, a condition-variable waiter and
// a sleeper next to a main thread that hits a breakpoint in a loop).
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

#include "proc/process.hpp"
#include "support.hpp"

using namespace goscope::proc;
using namespace goscope::proc::test;
using Kind = StopEvent::Kind;

namespace {

std::uint64_t sym(const std::string& name) {
  auto s = find_symbol(fixture("parking"), name);
  REQUIRE(s);
  return s->address;
}

std::unique_ptr<Process> launch_parking(const std::string& ticks, const std::string& out) {
  require_ptrace();
  LaunchOptions opts;
  opts.path = fixture("parking");
  opts.args = {ticks};
  opts.stdout_path = out;
  auto p = Process::launch(opts);
  p->set_park_blocked(true);
  p->add_breakpoint(VirtAddr(sym("tick")));
  p->resume_all();
  return p;
}

// Waits for the next breakpoint hit, forwarding signals; false once the process exited.
bool next_hit(Process& p, StopEvent& ev) {
  for (;;) {
    ev = p.wait_event();
    if (ev.kind == Kind::exited || ev.kind == Kind::killed)
      return false;
    if (ev.kind == Kind::breakpoint)
      return true;
    p.resume_thread(ev.tid, ev.kind == Kind::signal ? ev.signal : 0);
  }
}

}  // namespace

TEST_CASE("parked threads stay in their calls across stops and never run while stopped",
          "[proc][park]") {
  const std::string out = temp_path("out");
  auto p = launch_parking("400", out);
  const VirtAddr sleeps(sym("sleeps"));
  StopEvent ev;
  int hits = 0;
  bool checked_still = false;
  while (next_hit(*p, ev)) {
    ++hits;
    // All-stop at every hit, as the debugger does.
    p->stop_all();
    for (pid_t tid : p->threads()) CHECK(p->registers(tid).pc().value() != 0);
    if (hits == 100) {
      // By now the idle threads have been parked. The sleeper's 200 µs sleeps end while we
      // wait here, yet it must not count them: it cannot leave the kernel while stopped.
      CHECK(p->stats().parked > 0);
      const auto before = p->read<long>(sleeps);
      std::this_thread::sleep_for(std::chrono::milliseconds(30));
      CHECK(p->read<long>(sleeps) == before);
      checked_still = true;
      // What needs a real stop gets one: every thread's FP registers, then a register
      // write-back of the values read.
      const auto unparked = p->stats().unparked;
      for (pid_t tid : p->threads()) {
        (void)p->fp_registers(tid);
        p->set_registers(tid, p->registers(tid));
      }
      CHECK(p->stats().unparked > unparked);
    }
    p->resume_all();
  }
  CHECK(hits == 400);
  CHECK(checked_still);
  CHECK(read_text(out) == run_native(fixture("parking"), {"400"}).out);
}

TEST_CASE("detach with parked threads leaves the process running clean", "[proc][park]") {
  const std::string out = temp_path("out");
  auto p = launch_parking("3000", out);
  const pid_t pid = p->pid();
  const std::uint64_t tick = sym("tick");
  const auto original = file_bytes_at(fixture("parking"), tick, 8);
  StopEvent ev;
  for (int hits = 0; hits < 200; ++hits) {
    REQUIRE(next_hit(*p, ev));
    p->stop_all();
    p->resume_all();
  }
  REQUIRE(next_hit(*p, ev));
  p->stop_all();
  CHECK(p->stats().parked > 0);
  p->detach();
  CHECK_FALSE(p->running());
  CHECK(raw_memory(pid, tick, 8) == original);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(read_text(out) == run_native(fixture("parking"), {"3000"}).out);
}

TEST_CASE("a process killed with parked threads is reaped", "[proc][park]") {
  const std::string out = temp_path("out");
  auto p = launch_parking("100000", out);
  StopEvent ev;
  for (int hits = 0; hits < 100; ++hits) {
    REQUIRE(next_hit(*p, ev));
    p->stop_all();
    p->resume_all();
  }
  REQUIRE(next_hit(*p, ev));
  p->stop_all();
  p->kill();
  CHECK_FALSE(p->running());
}

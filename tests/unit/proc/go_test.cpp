// The Go fixtures: many goroutines on many threads hitting traps at once, with Go's own
// signals (SIGURG preemption) flowing through.
#include <signal.h>

#include <catch2/catch.hpp>

#include "proc/disassembler.hpp"
#include "proc/process.hpp"
#include "support.hpp"

using namespace goscope::proc;
using namespace goscope::proc::test;
using Kind = StopEvent::Kind;

namespace {

struct GoRun {
  int entries = 0;
  int returns = 0;
  StopEvent end;
  Process::Stats stats;
  std::string out;
};

GoRun trace_compute(const std::string& binary, const std::string& workers, const std::string& calls,
                    bool passthrough_sigurg) {
  auto compute = find_symbol(fixture(binary), "main.compute");
  REQUIRE(compute);
  auto code = file_bytes_at(fixture(binary), compute->address, compute->size);
  auto rets = find_returns(code, VirtAddr(compute->address));
  REQUIRE(!rets.empty());

  require_ptrace();
  GoRun run;
  std::string out = temp_path("out");
  LaunchOptions opts;
  opts.path = fixture(binary);
  opts.args = {workers, calls};
  opts.stdout_path = out;
  auto p = Process::launch(opts);
  if (passthrough_sigurg)
    p->set_signal_passthrough(SIGURG, true);
  p->add_breakpoint(VirtAddr(compute->address));
  for (VirtAddr r : rets) p->add_breakpoint(r);
  p->resume_all();
  for (;;) {
    StopEvent ev = p->wait_event();
    if (ev.kind == Kind::exited || ev.kind == Kind::killed) {
      run.end = ev;
      break;
    }
    if (ev.kind == Kind::signal) {
      p->resume_thread(ev.tid, ev.signal);
      continue;
    }
    REQUIRE(ev.kind == Kind::breakpoint);
    if (ev.pc.value() == compute->address) {
      ++run.entries;
    } else {
      ++run.returns;
    }
    p->resume_thread(ev.tid);
  }
  run.stats = p->stats();
  run.out = read_text(out);
  return run;
}

}  // namespace

TEST_CASE("goroutines: every call to main.compute is reported (debug build)", "[proc][go]") {
  GoRun r = trace_compute("goroutines", "8", "1000", false);
  CHECK(r.end.kind == Kind::exited);
  CHECK(r.end.exit_status == 0);
  CHECK(r.entries == 8000);
  CHECK(r.returns == 8000);
  CHECK(r.out == "sum 31996000\n");
  CHECK(r.stats.emulated_steps == 16000);
  CHECK(r.stats.single_steps == 0);
}

TEST_CASE("goroutines: every call to main.compute is reported (optimized build)", "[proc][go]") {
  GoRun r = trace_compute("goroutines_opt", "8", "1000", true);
  CHECK(r.end.kind == Kind::exited);
  CHECK(r.end.exit_status == 0);
  CHECK(r.entries == 8000);
  CHECK(r.returns == 8000);
  CHECK(r.out == "sum 31996000\n");
  CHECK(r.stats.single_steps == 0);
}

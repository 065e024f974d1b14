// Process tests on the C fixtures: launch, breakpoints, the emulated step against real
// execution, signals, stop_all, kill and attach/detach.
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "proc/emulator.hpp"
#include "proc/error.hpp"
#include "proc/process.hpp"
#include "support.hpp"

using namespace goscope::proc;
using namespace goscope::proc::test;
using Kind = StopEvent::Kind;

namespace {

std::unique_ptr<Process> launch(const std::string& name, std::vector<std::string> args,
                                const std::string& out = {}) {
  require_ptrace();
  LaunchOptions opts;
  opts.path = fixture(name);
  opts.args = std::move(args);
  opts.stdout_path = out;
  return Process::launch(opts);
}

std::uint64_t sym(const std::string& name, const std::string& fx) {
  auto s = find_symbol(fixture(fx), name);
  REQUIRE(s);
  return s->address;
}

// Runs until exit, resuming every breakpoint and forwarding every signal. Returns the exit
// event and counts hits per address.
StopEvent run_to_exit(Process& p, std::map<std::uint64_t, int>* hits = nullptr) {
  for (;;) {
    StopEvent ev = p.wait_event();
    switch (ev.kind) {
      case Kind::breakpoint:
        if (hits != nullptr)
          ++(*hits)[ev.pc.value()];
        p.resume_thread(ev.tid);
        break;
      case Kind::signal:
        p.resume_thread(ev.tid, ev.signal);
        break;
      case Kind::single_step:
      case Kind::watchpoint:
      case Kind::exec:
        p.resume_thread(ev.tid);
        break;
      case Kind::interrupted:
        p.resume_all();
        break;
      case Kind::exited:
      case Kind::killed:
        return ev;
    }
  }
}

bool sigtrap_pending(pid_t pid, pid_t tid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("SigPnd:", 0) == 0) {
      return (std::strtoull(line.c_str() + 7, nullptr, 16) >> (SIGTRAP - 1)) & 1;
    }
  }
  return false;
}

bool no_children_left() {
  int status = 0;
  return ::waitpid(-1, &status, WNOHANG | __WALL) < 0 && errno == ECHILD;
}

}  // namespace

TEST_CASE("launch stops before the first instruction and runs to exit", "[proc]") {
  std::string out = temp_path("out");
  auto p = launch("shapes", {"50"}, out);
  REQUIRE(p->running());
  REQUIRE(p->threads() == std::vector<pid_t>{p->pid()});
  auto regs = p->registers(p->pid());
  CHECK(regs.pc().value() != 0);
  p->resume_all();
  StopEvent ev = run_to_exit(*p);
  CHECK(ev.kind == Kind::exited);
  CHECK(ev.exit_status == 0);
  CHECK_FALSE(p->running());
  CHECK_THROWS_AS(p->wait_event(), ProcessExited);
  CHECK(read_text(out) == run_native(fixture("shapes"), {"50"}).out);
}

TEST_CASE("launch of a missing file gives a clear error and leaves no zombie", "[proc]") {
  require_ptrace();
  LaunchOptions opts;
  opts.path = "/nonexistent/goscope-fixture";
  try {
    Process::launch(opts);
    FAIL("launch should have thrown");
  } catch (const Error& e) {
    CHECK(std::string(e.what()) ==
          "cannot execute /nonexistent/goscope-fixture: No such file or directory");
  }
  CHECK(no_children_left());
}

TEST_CASE("launch of a non-executable file gives a clear error", "[proc]") {
  require_ptrace();
  std::string path = temp_path("not-executable");
  { std::ofstream(path) << "data"; }
  LaunchOptions opts;
  opts.path = path;
  try {
    Process::launch(opts);
    FAIL("launch should have thrown");
  } catch (const Error& e) {
    CHECK(std::string(e.what()) == "cannot execute " + path + ": Permission denied");
  }
  ::unlink(path.c_str());
  CHECK(no_children_left());
}

TEST_CASE("breakpoints are refcounted and masked in reads and removed cleanly", "[proc]") {
  auto p = launch("shapes", {"10"});
  std::uint64_t addr = sym("go_like", "shapes");
  auto original = file_bytes_at(fixture("shapes"), addr, 16);
  REQUIRE(raw_memory(p->pid(), addr, 16) == original);

  p->add_breakpoint(VirtAddr(addr));
  p->add_breakpoint(VirtAddr(addr));
  p->add_breakpoint(VirtAddr(addr + 4));
  CHECK(p->has_breakpoint(VirtAddr(addr)));
  auto raw = raw_memory(p->pid(), addr, 16);
  CHECK(raw[0] == std::byte{0xcc});
  CHECK(raw[4] == std::byte{0xcc});
  CHECK(p->read_memory(VirtAddr(addr), 16) == original);
  // Batch reads mask too.
  std::vector<std::byte> a(8), b(8);
  std::vector<Process::ReadRequest> reqs{{VirtAddr(addr), a}, {VirtAddr(addr + 8), b}};
  p->read_memory_batch(reqs);
  CHECK(std::equal(a.begin(), a.end(), original.begin()));

  p->remove_breakpoint(VirtAddr(addr));
  CHECK(raw_memory(p->pid(), addr, 1)[0] == std::byte{0xcc});  // one reference left
  p->remove_breakpoint(VirtAddr(addr));
  CHECK_FALSE(p->has_breakpoint(VirtAddr(addr)));
  p->remove_all_breakpoints();
  CHECK(raw_memory(p->pid(), addr, 16) == original);
}

TEST_CASE("write_memory under a trap keeps the trap and updates the original", "[proc]") {
  auto p = launch("shapes", {"10"});
  std::uint64_t addr = find_symbol(fixture("shapes"), "g_struct")->address;
  // Data, not code, but the bookkeeping is the same.
  p->add_breakpoint(VirtAddr(addr));
  std::vector<std::byte> data{std::byte{1}, std::byte{2}, std::byte{3}};
  p->write_memory(VirtAddr(addr), data);
  CHECK(raw_memory(p->pid(), addr, 3)[0] == std::byte{0xcc});
  CHECK(p->read_memory(VirtAddr(addr), 3) == data);
  p->remove_breakpoint(VirtAddr(addr));
  CHECK(raw_memory(p->pid(), addr, 3) == data);
}

TEST_CASE("every Go-like shape hit many times keeps the program's result", "[proc]") {
  const std::string n = "300";
  auto shapes = symbols_with_prefix(fixture("shapes"), "shape_");
  REQUIRE(shapes.size() > 40);
  std::string out = temp_path("out");
  auto p = launch("shapes", {n}, out);
  for (auto& [name, s] : shapes) p->add_breakpoint(VirtAddr(s.address));
  p->resume_all();
  std::map<std::uint64_t, int> hits;
  StopEvent ev = run_to_exit(*p, &hits);
  REQUIRE(ev.kind == Kind::exited);
  CHECK(ev.exit_status == 0);
  CHECK(read_text(out) == run_native(fixture("shapes"), {n}).out);
  for (auto& [name, s] : shapes) {
    INFO(name);
    CHECK(hits[s.address] == 300);
  }
  auto st = p->stats();
  CHECK(st.breakpoint_hits == 300 * shapes.size());
  CHECK(st.single_steps == 300);  // shape_xorps_fallback only
  CHECK(st.emulated_steps == st.breakpoint_hits - 300);
}

TEST_CASE("what the caller reads at a hit serves the emulated step without a read", "[proc]") {
  // As target::Tracer does at each hit: registers, then g's stack guard and the word at rsp
  // in one batch. The emulated `cmp rsp, [r14+0x10]` and `ret` then reuse those bytes.
  const std::string n = "200";
  std::string out = temp_path("out");
  auto p = launch("shapes", {n}, out);
  std::uint64_t cmp = sym("shape_cmp_rsp_g", "shapes");
  std::uint64_t ret = sym("shape_ret", "shapes");
  p->add_breakpoint(VirtAddr(cmp));
  p->add_breakpoint(VirtAddr(ret));
  p->resume_all();
  int hits = 0;
  for (;;) {
    StopEvent ev = p->wait_event();
    if (ev.kind == Kind::exited) {
      CHECK(ev.exit_status == 0);
      break;
    }
    REQUIRE(ev.kind == Kind::breakpoint);
    ++hits;
    auto regs = p->registers(ev.tid);
    std::uint64_t guard = 0, top = 0;
    std::array<Process::ReadRequest, 2> reads{{
        {VirtAddr(regs.gp.r14 + 0x10), std::as_writable_bytes(std::span(&guard, 1))},
        {VirtAddr(regs.gp.rsp), std::as_writable_bytes(std::span(&top, 1))},
    }};
    p->read_memory_batch(reads);
    if (hits % 50 == 0) {
      // A write drops every cached read: this hit reads the tracee again.
      p->write_memory(VirtAddr(regs.gp.r14 + 0x10), std::as_bytes(std::span(&guard, 1)));
    }
    p->resume_thread(ev.tid);
  }
  CHECK(hits == 400);
  CHECK(p->stats().emulated_steps == 400);
  CHECK(p->stats().cached_reads == 400 - 8);
  CHECK(read_text(out) == run_native(fixture("shapes"), {n}).out);
}

namespace {

// Reads the tracee; remembers writes instead of doing them.
class RecordingMemory : public EmulatorMemory {
 public:
  explicit RecordingMemory(Process& p) : p_(p) {}
  bool read(std::uint64_t addr, std::span<std::byte> out) override {
    try {
      p_.read_memory(VirtAddr(addr), out);
      return true;
    } catch (const Error&) {
      return false;
    }
  }
  bool write(std::uint64_t addr, std::span<const std::byte> data) override {
    writes.emplace_back(addr, std::vector<std::byte>(data.begin(), data.end()));
    return true;
  }
  std::vector<std::pair<std::uint64_t, std::vector<std::byte>>> writes;

 private:
  Process& p_;
};

void compare_regs(const user_regs_struct& emu, const user_regs_struct& real) {
  CHECK(emu.rip == real.rip);
  CHECK(emu.rsp == real.rsp);
  CHECK(emu.rbp == real.rbp);
  CHECK(emu.rax == real.rax);
  CHECK(emu.rbx == real.rbx);
  CHECK(emu.rcx == real.rcx);
  CHECK(emu.rdx == real.rdx);
  CHECK(emu.rsi == real.rsi);
  CHECK(emu.rdi == real.rdi);
  CHECK(emu.r8 == real.r8);
  CHECK(emu.r9 == real.r9);
  CHECK(emu.r10 == real.r10);
  CHECK(emu.r11 == real.r11);
  CHECK(emu.r12 == real.r12);
  CHECK(emu.r13 == real.r13);
  CHECK(emu.r14 == real.r14);
  CHECK(emu.r15 == real.r15);
  // Arithmetic flags and DF; TF/RF belong to the single-step machinery.
  CHECK((emu.eflags & 0xcd5) == (real.eflags & 0xcd5));
}

}  // namespace

TEST_CASE("the emulated step matches real execution for every shape", "[proc]") {
  const std::string n = "60";
  auto shapes = symbols_with_prefix(fixture("shapes"), "shape_");
  std::map<std::uint64_t, std::string> names;
  for (auto& [name, s] : shapes) names[s.address] = name;
  std::string out = temp_path("out");
  auto p = launch("shapes", {n}, out);
  for (auto& [addr, name] : names) p->add_breakpoint(VirtAddr(addr));
  p->resume_all();
  int compared = 0;
  for (;;) {
    StopEvent ev = p->wait_event();
    if (ev.kind == Kind::exited) {
      CHECK(ev.exit_status == 0);
      break;
    }
    REQUIRE(ev.kind == Kind::breakpoint);
    std::uint64_t site = ev.pc.value();
    INFO(names[site]);
    auto before = p->registers(ev.tid).gp;
    auto code = p->read_memory(VirtAddr(site), 15);
    auto insn = EmulatedInstruction::decode(code, VirtAddr(site));
    if (!insn) {
      CHECK(names[site] == "shape_xorps_fallback");
      p->resume_thread(ev.tid);
      continue;
    }
    user_regs_struct emulated = before;
    RecordingMemory mem(*p);
    REQUIRE(insn->execute(emulated, mem));

    // Real execution: take the trap out and single-step.
    p->remove_breakpoint(VirtAddr(site));
    p->step_instruction(ev.tid);
    StopEvent step = p->wait_event();
    REQUIRE(step.kind == Kind::single_step);
    REQUIRE(step.tid == ev.tid);
    auto real = p->registers(ev.tid).gp;
    compare_regs(emulated, real);
    for (auto& [addr, bytes] : mem.writes) {
      CHECK(p->read_memory(VirtAddr(addr), bytes.size()) == bytes);
    }
    ++compared;
    p->add_breakpoint(VirtAddr(site));
    p->resume_thread(ev.tid);
  }
  CHECK(compared == 60 * static_cast<int>(shapes.size() - 1));
  CHECK(read_text(out) == run_native(fixture("shapes"), {n}).out);
}

TEST_CASE("step_instruction over a breakpoint executes the real instruction", "[proc]") {
  auto p = launch("shapes", {"3"});
  std::uint64_t push_rbp = sym("shape_push_rbp", "shapes");
  std::uint64_t next = sym("shape_mov_rbp_rsp", "shapes");
  p->add_breakpoint(VirtAddr(push_rbp));
  p->resume_all();
  StopEvent ev = p->wait_event();
  REQUIRE(ev.kind == Kind::breakpoint);
  CHECK(ev.pc.value() == push_rbp);
  auto before = p->registers(ev.tid);
  CHECK(before.pc().value() == push_rbp);
  p->step_instruction(ev.tid);
  StopEvent step = p->wait_event();
  REQUIRE(step.kind == Kind::single_step);
  CHECK(step.pc.value() == next);
  auto after = p->registers(ev.tid);
  CHECK(after.sp().value() == before.sp().value() - 8);
  CHECK(p->read<std::uint64_t>(after.sp()) == before.gp.rbp);
  // And once more without a trap underneath.
  p->step_instruction(ev.tid);
  step = p->wait_event();
  REQUIRE(step.kind == Kind::single_step);
  CHECK(p->registers(ev.tid).gp.rbp == after.gp.rsp);
  p->remove_all_breakpoints();
  p->resume_thread(ev.tid);
  CHECK(run_to_exit(*p).exit_status == 0);
}

TEST_CASE("signals are reported and forwarded", "[proc]") {
  std::string out = temp_path("out");
  auto p = launch("signals", {"20"}, out);
  p->add_breakpoint(VirtAddr(sym("tick", "signals")));
  p->resume_all();
  int usr1 = 0, ticks = 0;
  for (;;) {
    StopEvent ev = p->wait_event();
    if (ev.kind == Kind::exited) {
      CHECK(ev.exit_status == 0);
      break;
    }
    if (ev.kind == Kind::signal) {
      CHECK(ev.signal == SIGUSR1);
      ++usr1;
      p->resume_thread(ev.tid, ev.signal);
    } else {
      REQUIRE(ev.kind == Kind::breakpoint);
      ++ticks;
      p->resume_thread(ev.tid);
    }
  }
  CHECK(usr1 == 20);
  CHECK(ticks == 20);
  CHECK(read_text(out) == "handled 20 ticks 20\n");
}

TEST_CASE("pass-through signals are forwarded without being reported", "[proc]") {
  std::string out = temp_path("out");
  auto p = launch("signals", {"20"}, out);
  p->set_signal_passthrough(SIGUSR1, true);
  p->resume_all();
  StopEvent ev = p->wait_event();
  CHECK(ev.kind == Kind::exited);
  CHECK(ev.exit_status == 0);
  CHECK(read_text(out) == "handled 20 ticks 20\n");
}

namespace {

// Runs `signals 1` to its tick() breakpoint (forwarding the program's own SIGUSR1), then
// queues one more SIGUSR1 on that thread and single-steps it.
StopEvent step_with_signal_pending(Process& p, pid_t& tid) {
  const std::uint64_t tick = sym("tick", "signals");
  p.add_breakpoint(VirtAddr(tick));
  p.resume_all();
  for (;;) {
    StopEvent ev = p.wait_event();
    if (ev.kind == Kind::signal) {
      p.resume_thread(ev.tid, ev.signal);
      continue;
    }
    REQUIRE(ev.kind == Kind::breakpoint);
    REQUIRE(ev.pc.value() == tick);
    tid = ev.tid;
    break;
  }
  p.remove_breakpoint(VirtAddr(tick));
  REQUIRE(::syscall(SYS_tgkill, p.pid(), tid, SIGUSR1) == 0);
  p.step_instruction(tid);
  return p.wait_event();
}

}  // namespace

TEST_CASE("a signal arriving during a single step is delivered after it", "[proc]") {
  // Delivering it with the step would end the step at the handler's first instruction.
  const std::uint64_t tick = sym("tick", "signals");
  for (bool passthrough : {false, true}) {
    std::string out = temp_path("out");
    auto p = launch("signals", {"1"}, out);
    p->set_signal_passthrough(SIGUSR1, passthrough);
    pid_t tid = 0;
    StopEvent ev = step_with_signal_pending(*p, tid);
    REQUIRE(ev.kind == Kind::single_step);
    CHECK(ev.tid == tid);
    CHECK(ev.pc.value() > tick);
    CHECK(ev.pc.value() < tick + 16);  // the next instruction of tick, not on_usr1
    p->resume_thread(tid);
    int usr1 = 0;
    for (;;) {
      ev = p->wait_event();
      if (ev.kind == Kind::exited)
        break;
      REQUIRE(ev.kind == Kind::signal);
      CHECK(ev.signal == SIGUSR1);
      ++usr1;
      p->resume_thread(ev.tid, ev.signal);
    }
    CHECK(usr1 == (passthrough ? 0 : 1));
    CHECK(ev.exit_status != 0);  // handled 2 signals for 1 tick
    CHECK(read_text(out) == "handled 2 ticks 1\n");
  }
}

TEST_CASE("a trap re-inserted where a thread was reported is hit when it resumes", "[proc]") {
  std::string out = temp_path("out");
  auto p = launch("signals", {"3"}, out);
  p->set_signal_passthrough(SIGUSR1, true);
  const std::uint64_t tick = sym("tick", "signals");
  p->add_breakpoint(VirtAddr(tick));
  p->resume_all();
  StopEvent ev = p->wait_event();
  REQUIRE(ev.kind == Kind::breakpoint);
  // Removed then inserted again while the thread stands there: the thread no longer counts
  // as stopped at the trap, so it runs into it again (Delve's behaviour for a breakpoint set
  // where a step stopped).
  p->remove_breakpoint(VirtAddr(tick));
  p->add_breakpoint(VirtAddr(tick));
  p->resume_thread(ev.tid);
  StopEvent again = p->wait_event();
  REQUIRE(again.kind == Kind::breakpoint);
  CHECK(again.tid == ev.tid);
  CHECK(again.pc.value() == tick);
  // Still reported there, it is stepped over; the next hit is the next call.
  p->resume_thread(again.tid);
  int hits = 0;
  for (;;) {
    ev = p->wait_event();
    if (ev.kind == Kind::exited)
      break;
    REQUIRE(ev.kind == Kind::breakpoint);
    ++hits;
    p->resume_thread(ev.tid);
  }
  CHECK(hits == 2);
  CHECK(ev.exit_status == 0);
  CHECK(read_text(out) == "handled 3 ticks 3\n");
}

TEST_CASE("threads hitting breakpoints including the single-step fallback", "[proc]") {
  std::string out = temp_path("out");
  auto p = launch("threads", {"4", "2000"}, out);
  std::uint64_t work = sym("work", "threads");
  std::uint64_t sse = sym("work_sse", "threads");
  p->add_breakpoint(VirtAddr(work));
  p->add_breakpoint(VirtAddr(sse));
  p->resume_all();
  std::map<std::uint64_t, int> hits;
  StopEvent ev = run_to_exit(*p, &hits);
  CHECK(ev.kind == Kind::exited);
  CHECK(ev.exit_status == 0);
  CHECK(hits[work] == 8000);
  CHECK(hits[sse] == 8000);
  CHECK(p->stats().single_steps == 8000);
  CHECK(read_text(out) == run_native(fixture("threads"), {"4", "2000"}).out);
}

TEST_CASE("exclusive children: one waitpid per event, same results", "[proc]") {
  std::string out = temp_path("out");
  auto p = launch("threads", {"4", "1000"}, out);
  p->set_exclusive_children(true);
  std::uint64_t work = sym("work", "threads");
  std::uint64_t sse = sym("work_sse", "threads");
  p->add_breakpoint(VirtAddr(work));
  p->add_breakpoint(VirtAddr(sse));  // the single-step fallback waits too
  p->resume_all();
  std::map<std::uint64_t, int> hits;
  StopEvent ev = run_to_exit(*p, &hits);
  CHECK(ev.kind == Kind::exited);
  CHECK(ev.exit_status == 0);
  CHECK(hits[work] == 4000);
  CHECK(hits[sse] == 4000);
  CHECK(read_text(out) == run_native(fixture("threads"), {"4", "1000"}).out);
  CHECK(no_children_left());
}

TEST_CASE("stop_all stops every thread and resume_all lets them go on", "[proc]") {
  std::string out = temp_path("out");
  auto p = launch("threads", {"4", "3000", "200"}, out);
  p->add_breakpoint(VirtAddr(sym("work", "threads")));
  p->resume_all();
  int hits = 0, stops = 0;
  for (;;) {
    StopEvent ev = p->wait_event();
    if (ev.kind == Kind::exited) {
      CHECK(ev.exit_status == 0);
      break;
    }
    if (ev.kind == Kind::signal) {
      p->resume_thread(ev.tid, ev.signal);
      continue;
    }
    REQUIRE(ev.kind == Kind::breakpoint);
    ++hits;
    if (hits % 500 == 0) {
      p->stop_all();
      ++stops;
      for (pid_t tid : p->threads()) {
        // Every thread is stopped: registers are readable, and none has executed a trap
        // without it being reported (a pending SIGTRAP).
        CHECK(p->registers(tid).pc().value() != 0);
        CHECK_FALSE(sigtrap_pending(p->pid(), tid));
      }
      p->resume_all();
    } else {
      p->resume_thread(ev.tid);
    }
  }
  CHECK(hits == 12000);
  CHECK(stops == 24);
  CHECK(read_text(out) == run_native(fixture("threads"), {"4", "3000", "200"}).out);
}

TEST_CASE("kill -9 from outside while tracing is reported as killed", "[proc]") {
  auto p = launch("threads", {"4", "100000000"});
  p->add_breakpoint(VirtAddr(sym("work", "threads")));
  p->resume_all();
  int hits = 0;
  StopEvent ev;
  for (;;) {
    ev = p->wait_event();
    if (ev.kind == Kind::exited || ev.kind == Kind::killed)
      break;
    if (ev.kind == Kind::breakpoint && ++hits == 1000)
      ::kill(p->pid(), SIGKILL);
    p->resume_thread(ev.tid, ev.kind == Kind::signal ? ev.signal : 0);
  }
  CHECK(ev.kind == Kind::killed);
  CHECK(ev.signal == SIGKILL);
  CHECK_FALSE(p->running());
  CHECK_THROWS_AS(p->registers(p->pid()), ProcessExited);
  CHECK(no_children_left());
}

TEST_CASE("kill() reaps the process", "[proc]") {
  auto p = launch("threads", {"4", "100000000"});
  p->resume_all();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  p->kill();
  CHECK_FALSE(p->running());
  CHECK(no_children_left());
}

TEST_CASE("request_interrupt stops everything and the process then finishes normally", "[proc]") {
  std::string out = temp_path("out");
  auto p = launch("threads", {"4", "400", "1000"}, out);
  StopEvent ev = run_then_interrupt(*p, std::chrono::milliseconds(100));
  REQUIRE(ev.kind == Kind::interrupted);
  CHECK(p->threads().size() == 5);
  for (pid_t tid : p->threads()) CHECK(p->registers(tid).pc().value() != 0);
  p->resume_all();
  // Our SIGSTOP must not have been forwarded: the program runs on to its normal end.
  ev = run_to_exit(*p);
  CHECK(ev.kind == Kind::exited);
  CHECK(ev.exit_status == 0);
  CHECK(read_text(out) == run_native(fixture("threads"), {"4", "400", "1000"}).out);
}

TEST_CASE("attach with breakpoints then detach leaves the process running clean", "[proc]") {
  std::string out = temp_path("out");
  const std::vector<std::string> args{"4", "600", "2000"};  // ~1.2 s
  require_ptrace();
  pid_t pid = spawn(fixture("threads"), args, out);
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  std::uint64_t work = sym("work", "threads");
  auto original = raw_memory(pid, work, 8);
  {
    auto p = Process::attach(pid);
    CHECK(p->threads().size() == 5);
    p->add_breakpoint(VirtAddr(work));
    p->resume_all();
    int hits = 0;
    while (hits < 40) {
      StopEvent ev = p->wait_event();
      REQUIRE((ev.kind == Kind::breakpoint || ev.kind == Kind::signal));
      if (ev.kind == Kind::breakpoint)
        ++hits;
      // Leave the last hit unresumed: detach must rewind its pc itself.
      if (hits < 40)
        p->resume_thread(ev.tid, ev.kind == Kind::signal ? ev.signal : 0);
    }
    p->detach();
    CHECK_FALSE(p->running());
  }
  CHECK(raw_memory(pid, work, 8) == original);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(read_text(out) == run_native(fixture("threads"), args).out);
}

TEST_CASE("the destructor of an attached Process detaches", "[proc]") {
  std::string out = temp_path("out");
  const std::vector<std::string> args{"2", "300", "2000"};
  require_ptrace();
  pid_t pid = spawn(fixture("threads"), args, out);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  {
    auto p = Process::attach(pid);
    p->add_breakpoint(VirtAddr(sym("work", "threads")));
    p->resume_all();
    StopEvent ev = p->wait_event();
    CHECK((ev.kind == Kind::breakpoint || ev.kind == Kind::signal));
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(read_text(out) == run_native(fixture("threads"), args).out);
}

TEST_CASE("attach to a missing pid fails with a clear error", "[proc]") {
  try {
    Process::attach(0x3ffffff0);
    FAIL("attach should have thrown");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("cannot attach to process") == 0);
  }
}

namespace {

// Sends `sig` to `pid` from another process (a SIGSTOP from the tracer's own pid would be
// taken for request_interrupt()'s), after `delay_ms`.
pid_t send_from_child(pid_t pid, int sig, int delay_ms) {
  pid_t sender = ::fork();
  if (sender == 0) {
    ::usleep(static_cast<useconds_t>(delay_ms) * 1000);
    ::kill(pid, sig);
    ::_exit(0);
  }
  return sender;
}

// waitpid with a deadline, so that a process left stopped fails the test instead of hanging.
bool wait_exit(pid_t pid, int& status, int timeout_ms) {
  for (int waited = 0; waited < timeout_ms; waited += 5) {
    if (::waitpid(pid, &status, WNOHANG) == pid)
      return true;
    ::usleep(5000);
  }
  return false;
}

}  // namespace

TEST_CASE("a stop signal from outside group-stops the process until SIGCONT", "[proc]") {
  std::string out = temp_path("out");
  const std::vector<std::string> args{"2", "300", "1000"};
  auto p = launch("threads", args, out);
  p->resume_all();
  pid_t stopper = send_from_child(p->pid(), SIGSTOP, 50);
  StopEvent ev = p->wait_event();
  REQUIRE(ev.kind == Kind::signal);
  REQUIRE(ev.signal == SIGSTOP);
  int st = 0;
  ::waitpid(stopper, &st, 0);
  p->resume_thread(ev.tid, SIGSTOP);  // forwarded: the whole process stops

  // While group-stopped, an interrupt still gets through.
  p->request_interrupt();
  ev = p->wait_event();
  REQUIRE(ev.kind == Kind::interrupted);
  p->resume_all();  // back to the group-stop, not running

  pid_t continuer = send_from_child(p->pid(), SIGCONT, 100);
  bool saw_cont = false;
  for (;;) {
    ev = p->wait_event();
    if (ev.kind == Kind::exited)
      break;
    REQUIRE(ev.kind == Kind::signal);
    if (ev.signal == SIGCONT)
      saw_cont = true;
    p->resume_thread(ev.tid, ev.signal);
  }
  ::waitpid(continuer, &st, 0);
  CHECK(saw_cont);
  CHECK(ev.exit_status == 0);
  CHECK(read_text(out) == run_native(fixture("threads"), args).out);
}

TEST_CASE("detach after request_interrupt leaves no stop behind", "[proc]") {
  std::string out = temp_path("out");
  const std::vector<std::string> args{"2", "300", "1000"};
  auto p = launch("threads", args, out);
  p->add_breakpoint(VirtAddr(sym("work", "threads")));
  p->resume_all();
  p->request_interrupt();
  StopEvent ev = p->wait_event();
  while (ev.kind != Kind::interrupted) {
    p->resume_thread(ev.tid, ev.kind == Kind::signal ? ev.signal : 0);
    ev = p->wait_event();
  }
  pid_t pid = p->pid();
  p->detach();
  int status = 0;
  REQUIRE(wait_exit(pid, status, 10000));
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(read_text(out) == run_native(fixture("threads"), args).out);
}

TEST_CASE("attach to a running Go program then trace and detach", "[proc][go]") {
  std::string out = temp_path("out");
  const long calls = 60000000;
  require_ptrace();
  pid_t pid = spawn(fixture("goroutines"), {"8", std::to_string(calls)}, out);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto compute = find_symbol(fixture("goroutines"), "main.compute");
  REQUIRE(compute);
  auto original = raw_memory(pid, compute->address, 16);
  {
    auto p = Process::attach(pid);
    CHECK(p->threads().size() > 1);
    p->set_signal_passthrough(SIGURG, true);
    p->add_breakpoint(VirtAddr(compute->address));
    p->resume_all();
    int hits = 0;
    while (hits < 2000) {
      StopEvent ev = p->wait_event();
      REQUIRE((ev.kind == Kind::breakpoint || ev.kind == Kind::signal));
      if (ev.kind == Kind::breakpoint)
        ++hits;
      p->resume_thread(ev.tid, ev.kind == Kind::signal ? ev.signal : 0);
    }
    CHECK(p->stats().single_steps == 0);
    p->detach();
  }
  CHECK(raw_memory(pid, compute->address, 16) == original);
  int status = 0;
  REQUIRE(wait_exit(pid, status, 60000));
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  long long expect = 28000LL * calls + 4LL * calls * (calls - 1);
  CHECK(read_text(out) == "sum " + std::to_string(expect) + "\n");
}

TEST_CASE("stopped read cache: whole pages while everything is stopped, dropped on resume",
          "[proc]") {
  std::string out = temp_path("out");
  auto p = launch("threads", {"2", "400", "100"}, out);
  p->set_stopped_read_cache(true);
  const VirtAddr work(sym("work", "threads"));
  const VirtAddr iterations(sym("iterations", "threads"));
  p->add_breakpoint(work);
  p->resume_all();
  int stops = 0;
  for (;;) {
    StopEvent ev = p->wait_event();
    if (ev.kind == Kind::exited) {
      CHECK(ev.exit_status == 0);
      break;
    }
    if (ev.kind == Kind::signal) {
      p->resume_thread(ev.tid, ev.signal);
      continue;
    }
    REQUIRE(ev.kind == Kind::breakpoint);
    if (stops == 3) {
      // Non-stop: the other thread runs, nothing is cached.
      const auto before = p->stats();
      CHECK(p->read<std::int64_t>(iterations) == 400);
      CHECK(p->read<std::int64_t>(iterations) == 400);
      CHECK(p->stats().page_fills == before.page_fills);
      CHECK(p->stats().page_cache_hits == before.page_cache_hits);
      p->resume_thread(ev.tid);
      ++stops;
      continue;
    }
    if (stops++ > 6) {
      p->resume_thread(ev.tid);
      continue;
    }
    p->stop_all();
    // Changed behind the Process' back at the previous stop: seen after the resume.
    CHECK(p->read<std::int64_t>(iterations) == (stops == 2 ? 402 : 400));
    if (stops == 2) {
      const std::int64_t fix = 400;
      p->write_memory(iterations, std::as_bytes(std::span(&fix, 1)));
    }
    const auto before = p->stats();
    CHECK(p->read<std::int64_t>(iterations) == 400);
    // The trap reads as the original code from the cache too.
    CHECK(p->read<std::uint8_t>(work) != 0xcc);
    std::int64_t again = 0;
    Process::ReadRequest req[] = {{iterations, std::as_writable_bytes(std::span(&again, 1))}};
    p->read_memory_batch(req);
    CHECK(again == 400);
    const auto after = p->stats();
    CHECK(after.page_fills - before.page_fills <= 2);  // the data page and the code page
    CHECK(after.page_cache_hits > before.page_cache_hits);
    // A write through the Process is seen at once.
    const std::int64_t more = 401;
    p->write_memory(iterations, std::as_bytes(std::span(&more, 1)));
    CHECK(p->read<std::int64_t>(iterations) == 401);
    const std::int64_t back = 400;
    p->write_memory(iterations, std::as_bytes(std::span(&back, 1)));
    CHECK(p->read<std::int64_t>(iterations) == 400);
    if (stops == 5) {
      // More pages than the cache keeps (256): it starts over, reads stay right.
      pid_t worker = 0;
      for (pid_t tid : p->threads()) {
        if (tid != p->pid())
          worker = tid;
      }
      REQUIRE(worker != 0);
      const std::uint64_t sp = p->registers(worker).gp.rsp & ~std::uint64_t{7};
      const auto top = p->read<std::uint64_t>(VirtAddr(sp));
      for (std::uint64_t k = 1; k <= 300; ++k) {
        std::uint64_t word = 0;
        Process::ReadRequest two[] = {
            {VirtAddr(sp), std::as_writable_bytes(std::span(&word, 1))},
            {VirtAddr(sp - k * 4096), std::as_writable_bytes(std::span(&word, 1))}};
        p->read_memory_batch(two);  // a cached page and a new one, in one batch
        CHECK(p->read<std::uint64_t>(VirtAddr(sp)) == top);
      }
    }
    if (stops == 1) {
      // A change made behind the Process' back reads stale until the next resume
      // (documented), then fresh.
      const std::string mem = "/proc/" + std::to_string(p->pid()) + "/mem";
      std::fstream f(mem, std::ios::in | std::ios::out | std::ios::binary);
      REQUIRE(f);
      const std::int64_t outside = 402;
      f.seekp(static_cast<std::streamoff>(iterations.value()));
      f.write(reinterpret_cast<const char*>(&outside), sizeof outside);
      f.flush();
      CHECK(p->read<std::int64_t>(iterations) == 400);
    }
    p->resume_all();
  }
  CHECK(stops > 6);
  CHECK(read_text(out) == run_native(fixture("threads"), {"2", "400", "100"}).out);
}

TEST_CASE("a launched program gets stdin, stdout and stderr only, none of our descriptors",
          "[proc]") {
  // A descriptor of ours without close-on-exec (a server's listening socket, say).
  int leaky[2];
  REQUIRE(::pipe(leaky) == 0);
  auto p = launch("threads", {"1", "1", "0"});
  std::vector<std::string> fds;
  const std::string dir = "/proc/" + std::to_string(p->pid()) + "/fd";
  for (const auto& e : std::filesystem::directory_iterator(dir)) fds.push_back(e.path().filename());
  std::sort(fds.begin(), fds.end());
  CHECK(fds == std::vector<std::string>{"0", "1", "2"});
  ::close(leaky[0]);
  ::close(leaky[1]);
  p->kill();
}

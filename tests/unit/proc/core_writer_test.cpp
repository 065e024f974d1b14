// proc::write_core: a core of a live Go program (the ticker fixture, interrupted with every
// thread stopped) read back with proc::CoreFile and with a Process opened on it: the same
// threads, registers and memory as the live process, and Delve's refusals of what needs a
// live process.
#include <elf.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>

#include "proc/core_file.hpp"
#include "proc/core_writer.hpp"
#include "proc/error.hpp"
#include "proc/process.hpp"
#include "proc/unique_fd.hpp"
#include "support.hpp"

using namespace goscope::proc;
using namespace goscope::proc::test;
using Kind = StopEvent::Kind;

namespace {

/// The ticker running for a while, then stopped everywhere by request_interrupt().
std::unique_ptr<Process> stopped_ticker(const std::string& out) {
  require_ptrace();
  LaunchOptions opts;
  opts.path = fixture("ticker");
  opts.args = {"100000"};
  opts.stdout_path = out;
  auto p = Process::launch(opts);
  p->set_signal_passthrough(SIGURG, true);
  StopEvent ev = run_then_interrupt(*p, std::chrono::milliseconds(300));
  REQUIRE(ev.kind == Kind::interrupted);
  return p;
}

std::string refusal(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("write_core: the core reads back as the live process", "[proc][core]") {
  const std::string out = temp_path("ticker.out");
  auto p = stopped_ticker(out);
  const auto tids = p->threads();
  REQUIRE(tids.size() >= 2);
  const pid_t first = tids.back();  // not the smallest: the option must move it first

  const std::string path = temp_path("written.core");
  int reports = 0;
  {
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    REQUIRE(fd);
    CoreDumpOptions opts;
    opts.first_thread = first;
    opts.executable = fixture("ticker");
    opts.version = "Version: test";
    CoreDumpProgress last;
    opts.progress = [&](const CoreDumpProgress& pr) {
      ++reports;
      last = pr;
      return true;
    };
    REQUIRE(write_core(*p, fd.get(), opts));
    CHECK(last.threads_done == static_cast<int>(tids.size()));
    CHECK(last.threads_total == static_cast<int>(tids.size()));
    CHECK(last.mem_done == last.mem_total);
    CHECK(last.mem_total > 0);
  }
  CHECK(reports > static_cast<int>(tids.size()));

  CoreFile core = CoreFile::open(path);
  CHECK(core.pid() == p->pid());
  CHECK(core.command() == "ticker");
  REQUIRE(core.threads().size() == tids.size());
  CHECK(core.threads().front().tid == first);
  for (const auto& t : core.threads()) {
    INFO("thread " << t.tid);
    const auto live = p->registers(t.tid);
    CHECK(std::memcmp(&live.gp, &t.regs.gp, sizeof live.gp) == 0);
    const auto fp = p->fp_registers(t.tid);
    REQUIRE(t.fpregs.size() == sizeof fp);
    CHECK(std::memcmp(&fp, t.fpregs.data(), sizeof fp) == 0);
    CHECK(t.xstate.size() >= 512 + 64);
  }
  REQUIRE(core.auxv(AT_ENTRY));
  CHECK(core.use_executable(fixture("ticker")) == 0);  // not position-independent
  CHECK(!core.mappings().empty());

  // Memory: a thread's stack, and the program's code at its pc.
  const auto regs = p->registers(first);
  for (VirtAddr at :
       {VirtAddr(regs.gp.rsp), VirtAddr(regs.gp.rip), VirtAddr(*core.auxv(AT_ENTRY))}) {
    INFO("at " << std::hex << at.value());
    std::vector<std::byte> live(256), dumped(256);
    p->read_memory(at, live);
    REQUIRE(core.read(at, dumped) == dumped.size());
    CHECK(live == dumped);
  }

  // A Process on the core: the same registers and memory, and nothing that needs a live one.
  auto post = Process::open_core(CoreFile::open(path));
  REQUIRE(post->core() != nullptr);
  CHECK(post->pid() == p->pid());
  CHECK(post->threads() == tids);
  for (pid_t tid : tids) {
    const auto a = p->registers(tid);
    const auto b = post->registers(tid);
    CHECK(std::memcmp(&a.gp, &b.gp, sizeof a.gp) == 0);
    const auto fa = p->fp_registers(tid);
    const auto fb = post->fp_registers(tid);
    CHECK(std::memcmp(&fa, &fb, sizeof fa) == 0);
  }
  std::vector<std::byte> live(64), dumped(64);
  p->read_memory(VirtAddr(regs.gp.rsp), live);
  post->read_memory(VirtAddr(regs.gp.rsp), dumped);
  CHECK(live == dumped);
  CHECK_THROWS_AS(post->read_memory(VirtAddr(8), 8), Error);

  const std::string cont = "can not continue execution of core process";
  CHECK(refusal([&] { post->resume_all(); }) == cont);
  CHECK(refusal([&] { post->resume_thread(first); }) == cont);
  CHECK(refusal([&] { post->step_instruction(first); }) == cont);
  CHECK(refusal([&] { post->wait_event(); }) == cont);
  CHECK(refusal([&] { post->write_memory(VirtAddr(regs.gp.rsp), live); }) ==
        "can not write to core process");
  CHECK(refusal([&] { post->set_registers(first, regs); }) ==
        "can not change register values of core process");
  CHECK(refusal([&] { post->add_breakpoint(VirtAddr(regs.gp.rip)); }) ==
        "cannot write a breakpoint to a core file");
  post->stop_all();           // every thread is stopped already: nothing to do
  post->request_interrupt();  // never a signal to the pid the core names
  post->detach();
  CHECK(!post->running());
  post.reset();

  // The live process was only read: it runs on to its end.
  p->kill();
  ::unlink(path.c_str());
  ::unlink(out.c_str());
}

TEST_CASE("write_core: a cancelled dump returns false", "[proc][core]") {
  const std::string out = temp_path("ticker.out");
  auto p = stopped_ticker(out);
  const std::string path = temp_path("cancelled.core");
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  REQUIRE(fd);
  CoreDumpOptions opts;
  opts.progress = [](const CoreDumpProgress& pr) { return pr.mem_done == 0; };
  CHECK_FALSE(write_core(*p, fd.get(), opts));
  p->kill();
  ::unlink(path.c_str());
  ::unlink(out.c_str());
}

// Stacktraces from g.sched (Delve's StacktraceG / StacktraceSimple) and CPU registers in
// expressions, on live fixtures, checked against what dlv 1.20.2 answers in the same state.

#include <catch2/catch.hpp>

#include <functional>
#include <string>

#include "live.hpp"
#include "proc/process.hpp"
#include "target/binary_info.hpp"
#include "target/target.hpp"

using namespace goscope;
using goscope::target::test::run_to;
using goscope::target::test::run_to_function;
using goscope::target::test::Stopped;

namespace {

const target::LoadConfig kDefault{true, 1, 64, 64, -1};

target::StackOptions g_sched(bool simple = false) {
  return target::StackOptions::from_delve(simple ? 6 : 4);
}

}  // namespace

TEST_CASE("StackOptions from Delve's Opts bits", "[target][stack]") {
  const auto o = target::StackOptions::from_delve(7);
  CHECK(o.read_defers);
  CHECK(o.simple);
  CHECK(o.from_g_sched);
  const auto z = target::StackOptions::from_delve(0);
  CHECK_FALSE(z.read_defers);
  CHECK_FALSE(z.simple);
  CHECK_FALSE(z.from_g_sched);
}

TEST_CASE("a stack from g.sched: a running goroutine's is stale, a parked one's is its stack",
          "[target][stack]") {
  // A worker at its first main.compute has never been descheduled: g.sched still holds
  // newproc's pc (main.main.func2's entry) with sp and bp zeroed by gogo.
  auto s = run_to_function("goroutines", "main.compute");
  auto& t = *s.t;
  auto g = t.goroutine_of_thread(s.tid);
  REQUIRE(g);
  REQUIRE(g->sched_sp == 0);

  const auto normal = t.stacktrace(*g, 5);
  REQUIRE(normal.size() >= 3);
  CHECK(normal[0].current.function_name() == "main.compute");
  CHECK(normal.back().bottom);
  CHECK(normal.back().current.function_name() == "runtime.goexit");

  for (const bool simple : {false, true}) {
    for (const int depth : {0, 5}) {
      INFO("simple " << simple << " depth " << depth);
      // dlv: [{"pc":0,...,"Bottom":true,"Err":""},{"pc":0,...,"Err":"NULL address"}]
      const auto frames = t.stacktrace(*g, depth, g_sched(simple));
      REQUIRE(frames.size() == 2);
      CHECK(frames[0].current.pc == 0);
      CHECK(frames[0].current.function == nullptr);
      CHECK(frames[0].current.file.empty());
      CHECK(frames[0].current.line == 0);
      CHECK(frames[0].frame_offset == 0);
      CHECK(frames[0].frame_pointer_offset == 0);
      CHECK(frames[0].bottom);
      CHECK(frames[0].err.empty());
      CHECK(frames[1].err == "NULL address");
      CHECK_FALSE(frames[1].bottom);
      CHECK(frames[1].current.pc == 0);
    }
  }

  // Parked goroutines start from g.sched anyway: the options change nothing.
  int parked = 0;
  for (const auto& other : t.goroutines()) {
    if (other.thread_id != 0)
      continue;
    ++parked;
    const auto a = t.stacktrace(other, 10);
    const auto b = t.stacktrace(other, 10, g_sched());
    const auto c = t.stacktrace(other, 10, g_sched(true));
    REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
      INFO("goroutine " << other.id << " frame " << i);
      CHECK(a[i].current.pc == b[i].current.pc);
      CHECK(a[i].current.function_name() == b[i].current.function_name());
      CHECK(a[i].frame_offset == b[i].frame_offset);
      CHECK(a[i].bottom == b[i].bottom);
      CHECK(a[i].err == b[i].err);
    }
    // Simple never stops at runtime.goexit by name: it unwinds past it, to a frame whose
    // return address is 0.
    REQUIRE(c.size() >= 1);
    CHECK(c[0].current.pc == a[0].current.pc);
  }
  CHECK(parked > 0);
}

TEST_CASE("a stack from a stale g.sched ends at the first unreadable return address",
          "[target][stack]") {
  // main.stop runs on the main goroutine, whose g.sched is what its last system call
  // saved (syscall.Syscall): dlv walks it to a garbage frame and an "input/output error".
  auto s = run_to_function("values", "main.stop");
  auto& t = *s.t;
  auto g = t.goroutine_of_thread(s.tid);
  REQUIRE(g);
  if (g->sched_sp == 0)
    return;  // preempted since its system call (gogo zeroed sp): the NULL address case
  const auto frames = t.stacktrace(*g, 50, g_sched());
  REQUIRE(frames.size() >= 2);
  CHECK(frames[0].current.pc == g->sched_pc);
  CHECK(frames[0].sp == g->sched_sp);
  CHECK(frames[0].current.function_name() == "syscall.Syscall");
  CHECK(frames[frames.size() - 2].bottom);
  CHECK(frames.back().err == "input/output error");
  // Depth 0: the first frame alone, no error reached.
  const auto one = t.stacktrace(*g, 0, g_sched());
  REQUIRE(one.size() == 1);
  CHECK(one[0].err.empty());
}

TEST_CASE("CPU registers in expressions as dlv evaluates them", "[target][eval][registers]") {
  auto s = run_to_function("goroutines", "main.compute");
  auto& t = *s.t;
  auto g = t.goroutine_of_thread(s.tid);
  REQUIRE(g);
  const auto frames = t.stacktrace(*g, 2);
  REQUIRE(frames.size() >= 2);
  const auto& f0 = frames[0];
  const auto& f1 = frames[1];
  constexpr std::uint64_t kFake = 0xbeed000000000000ULL;

  SECTION("frame 0: every register of the thread") {
    auto v = t.eval("RSP", f0, kDefault);
    CHECK(v.name == "RSP");
    CHECK(v.addr == kFake);
    CHECK(v.type == "uint64");
    CHECK(v.real_type == "uint64");
    CHECK(v.kind == 7);  // reflect.Uint, as Delve's fakeBasicType("uint", 64) gets it
    CHECK(v.flags == target::kFlagCPURegister);
    CHECK(v.value == std::to_string(f0.regs.gp.rsp));
    CHECK(v.base == 0);
    CHECK(v.len == 0);
    CHECK(v.children.empty());

    CHECK(t.eval("RIP", f0, kDefault).value == std::to_string(f0.current.pc));
    CHECK(t.eval("RAX", f0, kDefault).value == std::to_string(f0.regs.gp.rax));
    CHECK(t.eval("R14", f0, kDefault).value == std::to_string(g->g_addr));
    CHECK(t.eval("EFLAGS", f0, kDefault).value == t.eval("RFLAGS", f0, kDefault).value);
    CHECK(t.eval("CS", f0, kDefault).value == std::to_string(f0.regs.gp.cs));
    // Leading underscores are dropped; the name stays as written.
    auto u = t.eval("__RIP", f0, kDefault);
    CHECK(u.name == "__RIP");
    CHECK(u.value == std::to_string(f0.current.pc));

    auto x = t.eval("XMM0", f0, kDefault);
    CHECK(x.type == "string");
    CHECK(x.kind == 24);
    CHECK(x.value.size() == 32);
    CHECK(x.len == 32);
    CHECK(x.base == kFake);
    CHECK(x.addr == kFake);
    CHECK(x.flags == target::kFlagCPURegister);
    CHECK(t.eval("ST0", f0, kDefault).len == 20);
    CHECK(t.eval("MXCSR", f0, kDefault).type == "uint64");
  }

  SECTION("only capital letters and digits name a register, as Delve spells them") {
    for (const char* e : {"rsp", "Rsp", "FS_BASE", "GS_BASE", "K0", "XMM16", "XMM01"}) {
      INFO(e);
      CHECK_THROWS_WITH(t.eval(e, f0, kDefault),
                        std::string("could not find symbol value for ") + e);
    }
  }

  SECTION("a caller's frame knows RIP, RSP and RBP only") {
    CHECK(t.eval("RIP", f1, kDefault).value == std::to_string(f1.current.pc));
    CHECK(t.eval("RSP", f1, kDefault).value == std::to_string(f0.cfa));
    CHECK(t.eval("RBP", f1, kDefault).value == std::to_string(f1.regs.gp.rbp));
    CHECK_THROWS_WITH(t.eval("RAX", f1, kDefault), "could not find symbol value for RAX");
    CHECK_THROWS_WITH(t.eval("XMM0", f1, kDefault), "could not find symbol value for XMM0");
  }

  SECTION("registers in expressions") {
    const auto rsp = f0.regs.gp.rsp;
    auto sum = t.eval("RSP+1", f0, kDefault);
    CHECK(sum.value == std::to_string(rsp + 1));
    CHECK(sum.addr == 0);
    CHECK(sum.flags == 0);
    CHECK(sum.type == "uint64");
    CHECK(t.eval("RSP == RSP", f0, kDefault).value == "true");
    CHECK(t.eval("uint8(RIP)", f0, kDefault).value == std::to_string(f0.current.pc & 0xff));

    auto p = t.eval("&RSP", f0, kDefault);
    CHECK(p.type == "*uint64");
    REQUIRE(p.children.size() == 1);
    CHECK(p.children[0].addr == kFake);
    CHECK(p.children[0].only_addr);
    CHECK(p.children[0].flags == target::kFlagCPURegister);

    // Delve's registerVariableTypeConv.
    auto a = t.eval("RSP.int8", f0, kDefault);
    CHECK(a.name == "RSP");
    CHECK(a.type == "[8]void");
    CHECK(a.kind == 17);
    CHECK(a.len == 8);
    CHECK(a.addr == kFake);
    CHECK(a.base == kFake);
    CHECK(a.flags == target::kFlagCPURegister);
    REQUIRE(a.children.size() == 8);
    CHECK(a.children[0].value == std::to_string(static_cast<std::int8_t>(rsp & 0xff)));
    CHECK(a.children[0].kind == 3);
    CHECK(a.children[0].flags == target::kFlagConstant);
    CHECK(a.children[0].type.empty());
    auto w = t.eval("RIP.uint32", f0, kDefault);
    REQUIRE(w.children.size() == 2);
    CHECK(w.children[0].value == std::to_string(f0.current.pc & 0xffffffff));
    CHECK(w.children[0].kind == 10);
    auto wide = t.eval("XMM0.uint128", f0, kDefault);
    REQUIRE(wide.children.size() == 1);
    CHECK(wide.children[0].kind == 24);
    CHECK(wide.children[0].len == 32);
    CHECK(t.eval("XMM0.float64", f0, kDefault).children.size() == 2);
    CHECK_THROWS_WITH(t.eval("RSP.foo", f0, kDefault),
                      "unknown CPU register type conversion to \"foo\"");
  }
}

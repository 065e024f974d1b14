// Debugger::create_watchpoint on machines whose debug registers trap and on those whose do
// not (some hypervisors accept them and never trap): a watchpoint that fires, or a clear
// error instead of one that never would. Runs (never skips) on both kinds of machine.
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <string>

#include "session/debugger.hpp"

using namespace goscope::session;

namespace {

void require_ptrace() {
  pid_t child = ::fork();
  if (child == 0) {
    ::pause();
    ::_exit(0);
  }
  const bool ok = ::ptrace(PTRACE_SEIZE, child, nullptr, nullptr) == 0;
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, __WALL);
  if (!ok) {
    std::cerr << "skipped: ptrace is not permitted here\n";
    std::exit(77);
  }
}

api::DebuggerState run(Debugger& dbg) {
  api::DebuggerCommand c;
  c.name = "continue";
  return dbg.command(c);
}

}  // namespace

TEST_CASE("create_watchpoint fires where hardware watchpoints fire and fails clearly elsewhere",
          "[session][watch]") {
  require_ptrace();
  std::string why;
  const bool available = Debugger::hardware_watchpoints_available(&why);
  INFO("hardware watchpoints " << (available ? "fire" : "do not fire: " + why));
  CHECK(why.empty() == available);

  DebuggerConfig cfg;
  cfg.executable = std::string(GOSCOPE_FIXTURE_DIR) + "/watchx";
  Debugger dbg(cfg);
  api::Breakpoint req;
  req.function_name = "main.bump";
  req.line = -1;
  const auto bp = dbg.create_breakpoint(req, "", false);
  auto st = run(dbg);
  REQUIRE(st.current_thread);
  REQUIRE(st.current_thread->breakpoint);
  CHECK(st.current_thread->breakpoint->id == bp.id);

  if (!available) {
    // Refused, not accepted and silently never hit; its id is taken, as for Delve's refusals.
    try {
      dbg.create_watchpoint(api::EvalScope{}, "main.Total", 2);
      FAIL("a watchpoint was accepted where hardware watchpoints do not fire");
    } catch (const DebuggerError& e) {
      CHECK(std::string(e.what()) == "hardware watchpoints do not fire on this machine");
    }
    for (const auto& b : dbg.breakpoints(true)) CHECK(b.watch_expr.empty());
    // Arguments are still checked first, with Delve's messages.
    CHECK_THROWS_WITH(dbg.create_watchpoint(api::EvalScope{}, "main.Name", 2),
                      "can not watch variable of type string");
    return;
  }
  const auto wp = dbg.create_watchpoint(api::EvalScope{}, "main.Total", 2);
  CHECK(wp.watch_expr == "main.Total");
  CHECK(wp.id == bp.id + 1);
  // bump(1) is at its entry: the next stop is its write of Total.
  st = run(dbg);
  REQUIRE(st.current_thread);
  REQUIRE(st.current_thread->breakpoint);
  CHECK(st.current_thread->breakpoint->id == wp.id);
  REQUIRE(st.current_thread->function);
  CHECK(st.current_thread->function->name == "main.bump");
  CHECK(dbg.eval(api::EvalScope{}, "main.Total", api::LoadConfig{}).value == "1");
}

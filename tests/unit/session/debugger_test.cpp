// The Debugger without a protocol: a Go fixture driven through the session API and its
// events (what both front ends stand on).
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "session/debugger.hpp"
#include "session/launch.hpp"

using namespace goscope::session;
using namespace std::chrono_literals;

namespace {

void require_ptrace() {
  const pid_t child = ::fork();
  if (child == 0) {
    ::pause();
    ::_exit(0);
  }
  const bool ok = ::ptrace(PTRACE_SEIZE, child, nullptr, nullptr) == 0;
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  if (!ok) {
    WARN("ptrace is not allowed here");
    std::exit(77);
  }
}

// Every event, in arrival order, for the test thread to wait on.
struct Recorder {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<Event> events;
  std::string out, err;

  void operator()(const Event& e) {
    std::lock_guard lock(mu);
    if (const auto* o = std::get_if<OutputEvent>(&e))
      (o->stream == OutputEvent::Stream::out ? out : err) += o->data;
    events.push_back(e);
    cv.notify_all();
  }

  // Waits (at most 30 s) until an event `pred` accepts arrived after index `from`;
  // returns its index.
  std::size_t wait_for(std::size_t from, const std::function<bool(const Event&)>& pred) {
    std::unique_lock lock(mu);
    std::size_t found = SIZE_MAX;
    cv.wait_for(lock, 30s, [&] {
      for (std::size_t i = from; i < events.size(); ++i) {
        if (pred(events[i])) {
          found = i;
          return true;
        }
      }
      return false;
    });
    REQUIRE(found != SIZE_MAX);
    return found;
  }
  Event at(std::size_t i) {
    std::lock_guard lock(mu);
    return events.at(i);
  }
  std::size_t size() {
    std::lock_guard lock(mu);
    return events.size();
  }
};

template <class T>
std::function<bool(const Event&)> is() {
  return [](const Event& e) { return std::holds_alternative<T>(e); };
}

}  // namespace

TEST_CASE("command names map to kinds and back", "[session]") {
  for (const char* n : {"continue", "next", "step", "stepOut", "stepInstruction", "nextInstruction",
                        "halt", "switchThread", "switchGoroutine", "call", "rewind"}) {
    const auto k = command_kind(n);
    REQUIRE(k);
    CHECK(command_name(*k) == n);
  }
  CHECK_FALSE(command_kind("jump"));
  CHECK(command_resumes(CommandKind::step_out));
  CHECK_FALSE(command_resumes(CommandKind::halt));
  CHECK(to_api(Command{CommandKind::step_out}).name == "stepOut");
}

TEST_CASE("errors carry a kind", "[session]") {
  CHECK(DebuggerError("Process 12 has exited with status 0").kind() == ErrorKind::exited);
  CHECK(DebuggerError("could not find function main.nope\n").kind() == ErrorKind::not_found);
  CHECK(DebuggerError("no breakpoint with id 7").kind() == ErrorKind::not_found);
  CHECK(DebuggerError("Ancestors is not supported yet").kind() == ErrorKind::unsupported);
  CHECK(DebuggerError("next while nexting").kind() == ErrorKind::invalid);
  CHECK(DebuggerError(ErrorKind::not_stopped, "x").kind() == ErrorKind::not_stopped);
  CHECK(error_kind(std::make_exception_ptr(std::runtime_error("boom"))) == ErrorKind::internal);
}

TEST_CASE("a launched program is driven through the API and reports events", "[session]") {
  require_ptrace();
  LaunchSpec spec;
  spec.mode = LaunchMode::exec;
  spec.program = GOSCOPE_FIXTURE_DIR "/basic";
  spec.capture_output = true;
  PreparedLaunch launch(spec);
  Debugger dbg(launch.debugger_config());
  Recorder rec;
  auto sub = dbg.subscribe([&rec](const Event& e) { rec(e); });

  // Stopped at entry: nothing ran, nothing printed.
  const auto entry = dbg.state(false);
  CHECK_FALSE(entry.running);
  CHECK_FALSE(entry.exited);

  api::Breakpoint req;
  req.function_name = "main.square";
  const auto bp = dbg.create_breakpoint(req, "main.square", false);
  CHECK(bp.id > 0);
  auto i = rec.wait_for(0, [&](const Event& e) {
    const auto* b = std::get_if<BreakpointEvent>(&e);
    return b && b->change == BreakpointEvent::Change::created && b->breakpoint.id == bp.id;
  });

  // continue: running, then stopped at the breakpoint with its reason.
  auto st = dbg.command(Command{CommandKind::continue_});
  REQUIRE(st.current_thread);
  REQUIRE(st.current_thread->breakpoint);
  CHECK(st.current_thread->breakpoint->id == bp.id);
  const auto running = rec.wait_for(i, is<RunningEvent>());
  const auto stopped_at = rec.wait_for(running, is<StoppedEvent>());
  {
    const auto ev = std::get<StoppedEvent>(rec.at(stopped_at));
    CHECK(ev.reason == StopReason::breakpoint);
    CHECK(ev.command == CommandKind::continue_);
    REQUIRE_FALSE(ev.threads.empty());
    CHECK(ev.threads.front().thread_id == st.current_thread->id);
    CHECK(ev.threads.front().breakpoint_id == bp.id);
    CHECK(ev.threads.front().reason == StopReason::breakpoint);
    REQUIRE(ev.state.current_thread);
    CHECK(ev.state.current_thread->function->name == "main.square");
  }
  // What main printed before calling square came through the stdout pipe.
  rec.wait_for(0, [&](const Event&) { return rec.out.find("5\n") != std::string::npos; });
  CHECK(rec.out.rfind("5\n", 0) == 0);

  // next: a step stop, one line on, same function.
  const int line = st.current_thread->line;
  const auto before_next = rec.size();
  st = dbg.command(Command{CommandKind::next});
  REQUIRE(st.current_thread);
  CHECK(st.current_thread->line != line);
  {
    const auto k = rec.wait_for(before_next, is<StoppedEvent>());
    const auto ev = std::get<StoppedEvent>(rec.at(k));
    CHECK(ev.reason == StopReason::step);
    CHECK(ev.command == CommandKind::next);
  }

  // Errors with kinds, no protocol involved.
  try {
    dbg.get_breakpoint(987654, "");
    FAIL("no error");
  } catch (const DebuggerError& e) {
    CHECK(e.kind() == ErrorKind::not_found);
  }

  dbg.clear_breakpoint(bp.id, "");
  i = rec.wait_for(0, [&](const Event& e) {
    const auto* b = std::get_if<BreakpointEvent>(&e);
    return b && b->change == BreakpointEvent::Change::removed && b->breakpoint.id == bp.id;
  });

  // To the end: an exited event with the status, after everything the program wrote.
  st = dbg.command(Command{CommandKind::continue_});
  CHECK(st.exited);
  CHECK(st.exit_status == 0);
  const auto exited_at = rec.wait_for(i, is<ExitedEvent>());
  {
    const auto ev = std::get<ExitedEvent>(rec.at(exited_at));
    CHECK(ev.status == 0);
    CHECK(ev.pid == dbg.pid());
    std::lock_guard lock(rec.mu);
    CHECK(rec.out.find("9801\n") != std::string::npos);  // square(99)
    CHECK(rec.err == "done\n");
  }
  try {
    dbg.state(false);
    FAIL("no error");
  } catch (const DebuggerError& e) {
    CHECK(e.kind() == ErrorKind::exited);
  }
}

TEST_CASE("stop reasons come from the run loop: a halt that ends a next is a pause", "[session]") {
  require_ptrace();
  // ticker ticks for 1,000 s with this argument: only a halt ends the runs below.
  LaunchSpec spec;
  spec.mode = LaunchMode::exec;
  spec.program = GOSCOPE_FIXTURE_DIR "/ticker";
  spec.args = {"100000"};
  spec.capture_output = true;
  PreparedLaunch launch(spec);
  Debugger dbg(launch.debugger_config());
  Recorder rec;
  auto sub = dbg.subscribe([&rec](const Event& e) { rec(e); });

  api::Breakpoint req;
  req.function_name = "main.tick";
  const auto bp = dbg.create_breakpoint(req, "main.tick", false);
  auto st = dbg.command(Command{CommandKind::continue_});
  REQUIRE(st.current_thread);
  REQUIRE(st.current_thread->breakpoint);
  dbg.clear_breakpoint(bp.id, "");

  // A stepInstruction is a step.
  auto before = rec.size();
  dbg.command(Command{CommandKind::step_instruction});
  {
    const auto ev = std::get<StoppedEvent>(rec.at(rec.wait_for(before, is<StoppedEvent>())));
    CHECK(ev.reason == StopReason::step);
  }

  // `next` on the runtime's forcegc helper, parked until a forced GC (every 2 minutes):
  // its traps wait for it, the program runs on, and only the halt stops it. Delve reports
  // that stop as StopManual ("pause"), not as a finished step.
  std::int64_t forcegc = 0;
  int next_index = 0;
  for (const auto& g : dbg.goroutines(0, 0, &next_index)) {
    if (g.start_loc.function && g.start_loc.function->name == "runtime.forcegchelper")
      forcegc = g.id;
  }
  REQUIRE(forcegc != 0);
  Command sw{CommandKind::switch_goroutine};
  sw.goroutine_id = forcegc;
  dbg.command(sw);
  before = rec.size();
  std::thread halter([&] {
    rec.wait_for(before, is<RunningEvent>());
    std::this_thread::sleep_for(100ms);
    dbg.request_halt();
  });
  st = dbg.command(Command{CommandKind::next});
  halter.join();
  CHECK_FALSE(st.exited);
  {
    const auto ev = std::get<StoppedEvent>(rec.at(rec.wait_for(before, is<StoppedEvent>())));
    CHECK(ev.command == CommandKind::next);
    CHECK(ev.reason == StopReason::pause);
    REQUIRE_FALSE(ev.threads.empty());
    CHECK(ev.threads.front().reason == StopReason::pause);
  }
  dbg.detach(true);
}

TEST_CASE("without capture the target writes to our own streams", "[session]") {
  require_ptrace();
  LaunchSpec spec;
  spec.mode = LaunchMode::exec;
  spec.program = GOSCOPE_FIXTURE_DIR "/basic";
  PreparedLaunch launch(spec);
  Debugger dbg(launch.debugger_config());
  Recorder rec;
  auto sub = dbg.subscribe([&rec](const Event& e) { rec(e); });
  const auto st = dbg.command(Command{CommandKind::continue_});
  CHECK(st.exited);
  rec.wait_for(0, is<ExitedEvent>());
  std::lock_guard lock(rec.mu);
  for (const auto& e : rec.events) CHECK_FALSE(std::holds_alternative<OutputEvent>(e));
}

TEST_CASE("goroutines report since when they wait, as dlv's WaitSince", "[session]") {
  require_ptrace();
  // stress runs runtime.GC() before its first main.protect call; a GC cycle stamps every
  // goroutine it finds blocked with g.waitsince (the runtime's forcegc helper has been
  // parked since start-up), which dlv reports as WaitSince.
  LaunchSpec spec;
  spec.mode = LaunchMode::exec;
  spec.program = GOSCOPE_FIXTURE_DIR "/stress";
  spec.capture_output = true;
  PreparedLaunch launch(spec);
  Debugger dbg(launch.debugger_config());
  api::Breakpoint req;
  req.function_name = "main.protect";
  dbg.create_breakpoint(req, "main.protect", false);
  const auto st = dbg.command(Command{CommandKind::continue_});
  REQUIRE(st.current_thread);
  REQUIRE(st.current_thread->function);
  REQUIRE(st.current_thread->function->name == "main.protect");
  int next = 0;
  const auto all = dbg.goroutines(0, 0, &next);
  REQUIRE_FALSE(all.empty());
  bool stamped = false;
  for (const auto& g : all) {
    CHECK(g.wait_since >= 0);
    if (g.wait_since > 0)
      stamped = true;
  }
  CHECK(stamped);
  dbg.detach(true);
}

TEST_CASE("a test binary is named debug.test, as dlv test names it", "[session]") {
  LaunchSpec spec;
  spec.mode = LaunchMode::test;
  spec.build_dir = GOSCOPE_SOURCE_DIR "/tests/fixtures/go/testpkg";
  std::string built;
  {
    PreparedLaunch launch(spec);
    built = launch.debugger_config().executable;
    CHECK(built == std::filesystem::absolute("debug.test").string());
    CHECK(std::filesystem::exists(built));
  }
  CHECK_FALSE(std::filesystem::exists(built));  // removed with the launch, as dlv removes it
}

TEST_CASE("next in optimized code does not stop inside an inlined call, as dlv", "[session]") {
  require_ptrace();
  // basic_opt's main.main inlines fmt.Println and main.sum into itself: from line 82
  // (`fmt.Println(greet("gopher"))`) dlv's next stops at 83, not in print.go or in sum's
  // lines 34-35 (Delve's removeInlinedCalls).
  LaunchSpec spec;
  spec.mode = LaunchMode::exec;
  spec.program = GOSCOPE_FIXTURE_DIR "/basic_opt";
  spec.capture_output = true;
  PreparedLaunch launch(spec);
  Debugger dbg(launch.debugger_config());
  const std::string main_go = GOSCOPE_SOURCE_DIR "/tests/fixtures/go/basic/main.go";
  api::Breakpoint req;
  req.file = main_go;
  req.line = 82;
  dbg.create_breakpoint(req, main_go + ":82", false);
  auto st = dbg.command(Command{CommandKind::continue_});
  REQUIRE(st.current_thread);
  REQUIRE(st.current_thread->line == 82);
  std::vector<int> lines;
  for (int i = 0; i < 3; ++i) {
    st = dbg.command(Command{CommandKind::next});
    REQUIRE(st.current_thread);
    CHECK(st.current_thread->file == main_go);
    REQUIRE(st.current_thread->function);
    CHECK(st.current_thread->function->name == "main.main");
    lines.push_back(st.current_thread->line);
  }
  CHECK(lines == std::vector<int>{83, 86, 87});  // dlv 1.20.2's stops
  dbg.detach(true);
}

TEST_CASE("a frame of an inlined call is named by the inlined function, as dlv", "[session]") {
  require_ptrace();
  // basic_opt inlines main.sum into main.main: at sum's line 35 dlv's stack is main.sum
  // (with main.main's entry), main.main at the call (line 83), runtime.main.
  LaunchSpec spec;
  spec.mode = LaunchMode::exec;
  spec.program = GOSCOPE_FIXTURE_DIR "/basic_opt";
  spec.capture_output = true;
  PreparedLaunch launch(spec);
  Debugger dbg(launch.debugger_config());
  const std::string main_go = GOSCOPE_SOURCE_DIR "/tests/fixtures/go/basic/main.go";
  api::Breakpoint req;
  req.file = main_go;
  req.line = 35;
  dbg.create_breakpoint(req, main_go + ":35", false);
  const auto st = dbg.command(Command{CommandKind::continue_});
  REQUIRE(st.current_thread);
  const auto frames = dbg.stacktrace(st.current_thread->goroutine_id, 2, false, std::nullopt, 0);
  REQUIRE(frames.size() == 3);
  REQUIRE(frames[0].location.function);
  REQUIRE(frames[1].location.function);
  CHECK(frames[0].location.function->name == "main.sum");
  CHECK(frames[0].location.line == 35);
  CHECK(frames[1].location.function->name == "main.main");
  CHECK(frames[1].location.line == 83);
  CHECK(frames[0].location.function->value == frames[1].location.function->value);
  dbg.detach(true);
}

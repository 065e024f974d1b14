// Pairing, filters and outputs of trace events, fed synthetic events (no process).
#include <catch2/catch.hpp>

#include <malloc.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "session/trace_command.hpp"
#include "target/binary_info.hpp"
#include "target/condition.hpp"
#include "trace_output.hpp"

using namespace goscope;
using session::TraceOutput;
using session::TraceOutputOptions;
using target::TraceEvent;

namespace {

struct Capture {
  std::FILE* f = std::tmpfile();
  ~Capture() { std::fclose(f); }
  std::string text() {
    std::fflush(f);
    std::rewind(f);
    std::string out;
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
    return out;
  }
};

target::Variable int_var(std::string name, int v, bool result = false) {
  target::Variable x;
  x.name = std::move(name);
  x.kind = 2;
  x.type = "int";
  x.value = std::to_string(v);
  x.addr = 0xc000001000;
  x.flags = result ? target::kFlagReturnArgument : target::kFlagArgument;
  return x;
}

struct Events {
  dwarf::Function fact;
  std::uint64_t t = 1000;
  Events() {
    fact.name = "main.fact";
    dwarf::Variable n;
    n.name = "n";
    n.is_parameter = true;
    dwarf::Variable r;
    r.name = "~r0";
    r.is_parameter = true;
    r.is_result = true;
    fact.params = {n, r};
  }
  TraceEvent call(std::int64_t goid, int n) {
    TraceEvent ev;
    ev.kind = TraceEvent::Kind::call;
    ev.goid = goid;
    ev.function = &fact;
    ev.values = {int_var("n", n)};
    ev.time_ns = t += 1000;
    return ev;
  }
  TraceEvent ret(std::int64_t goid, int v) {
    TraceEvent ev;
    ev.kind = TraceEvent::Kind::ret;
    ev.goid = goid;
    ev.function = &fact;
    ev.values = {int_var("~r0", v, true)};
    ev.time_ns = t += 1000;
    return ev;
  }
  // fact(3) on goroutine g, fully nested.
  void fact3(TraceOutput& out, std::int64_t g) {
    out.on_event(call(g, 3));
    out.on_event(call(g, 2));
    out.on_event(call(g, 1));
    out.on_event(ret(g, 1));
    out.on_event(ret(g, 2));
    out.on_event(ret(g, 6));
  }
};

// The fixture's line table, as TraceSession::source_line reads it.
TraceOutput::LineLookup basic() {
  static auto bi = target::BinaryInfo::load(GOSCOPE_FIXTURE_DIR "/basic");
  return [b = bi.get()](std::uint64_t pc) -> std::optional<target::SourceLine> {
    auto l = b->debug().lines().find(b->to_file(proc::VirtAddr(pc)));
    if (!l)
      return std::nullopt;
    return target::SourceLine{l->file, l->line};
  };
}

}  // namespace

TEST_CASE("dlv lines for nested calls", "[session][trace]") {
  Capture cap;
  Events e;
  {
    TraceOutput out(TraceOutputOptions{}, basic(), cap.f);
    e.fact3(out, 1);
    out.finish(e.t, 10000);
  }
  CHECK(cap.text() ==
        "> goroutine(1): main.fact(3)\n"
        "> goroutine(1): main.fact(2)\n"
        "> goroutine(1): main.fact(1)\n"
        ">> goroutine(1): => (1)\n"
        ">> goroutine(1): => (2)\n"
        ">> goroutine(1): => (6)\n");
}

TEST_CASE("graph nests calls per goroutine, printing each tree when its root ends",
          "[session][trace]") {
  Capture cap;
  Events e;
  TraceOutputOptions opts;
  opts.dlv_lines = false;
  opts.graph = true;
  {
    TraceOutput out(opts, basic(), cap.f);
    // Interleave two goroutines: each tree still comes out whole.
    out.on_event(e.call(1, 2));
    out.on_event(e.call(7, 1));
    out.on_event(e.call(1, 1));
    out.on_event(e.ret(7, 1));
    out.on_event(e.ret(1, 1));
    out.on_event(e.ret(1, 2));
    out.finish(e.t, 10000);
  }
  const auto text = cap.text();
  CHECK(text.find("goroutine(7) +0.000001s:\nmain.fact(1) => (1)  2µs\n") != std::string::npos);
  CHECK(text.find("goroutine(1) +0.000000s:\n"
                  "main.fact(2) {\n"
                  "  main.fact(1) => (1)  2µs\n"
                  "} => (2)  5µs\n") != std::string::npos);
}

TEST_CASE("returns close abandoned frames and stats count every call", "[session][trace]") {
  Capture cap;
  Events e;
  TraceOutputOptions opts;
  opts.stats = true;
  {
    TraceOutput out(opts, basic(), cap.f);
    out.on_event(e.call(1, 3));
    out.on_event(e.call(1, 2));
    out.on_event(e.call(1, 1));
    // A panic unwinds fact(1) and fact(2); fact(3) recovers and returns.
    out.on_event(e.ret(1, 0));
    out.on_event(e.ret(5, 9));  // a return with no entry: tracing began mid-call
    out.finish(e.t, 5'000'000);
    CHECK(out.unmatched_returns() == 1);
  }
  const auto text = cap.text();
  CHECK(text.find("Functions called: 3\n") != std::string::npos);
  CHECK(text.find("Unique functions: 1\n") != std::string::npos);
  CHECK(text.find("Total execution time: 5ms\n") != std::string::npos);
  CHECK(text.find("(0 lost, 1 unmatched returns)") != std::string::npos);
}

TEST_CASE("an event older than its goroutine's previous one is counted out of order",
          "[session][trace]") {
  Capture cap;
  Events e;
  TraceOutputOptions opts;
  opts.stats = true;
  {
    TraceOutput out(opts, basic(), cap.f);
    // Goroutine 1 in order; goroutine 2's call hit after its return: an engine bug.
    auto c1 = e.call(1, 2);
    auto r2 = e.ret(2, 1);
    auto c2 = e.call(2, 1);
    c2.hit_ns = r2.time_ns - 500;
    auto r1 = e.ret(1, 2);
    out.on_event(c1);
    out.on_event(r2);
    out.on_event(c2);
    out.on_event(r1);
    // Times across goroutines do not matter: goroutine 3 hit before goroutine 1's last.
    auto c3 = e.call(3, 5);
    c3.hit_ns = c1.time_ns;
    out.on_event(c3);
    out.finish(e.t, 1'000'000);
    CHECK(out.out_of_order() == 1);
  }
  CHECK(cap.text().find("(0 lost, 1 unmatched returns, 1 out of order)") != std::string::npos);
}

TEST_CASE("filters: depth, sample, goroutine, cond", "[session][trace]") {
  Events e;
  SECTION("depth 0 keeps roots") {
    Capture cap;
    TraceOutputOptions opts;
    opts.max_depth = 0;
    {
      TraceOutput out(opts, basic(), cap.f);
      e.fact3(out, 1);
    }
    CHECK(cap.text() == "> goroutine(1): main.fact(3)\n>> goroutine(1): => (6)\n");
  }
  SECTION("sample 2 keeps every other root with its subtree") {
    Capture cap;
    TraceOutputOptions opts;
    opts.sample = 2;
    {
      TraceOutput out(opts, basic(), cap.f);
      e.fact3(out, 1);
      e.fact3(out, 1);
      e.fact3(out, 1);
    }
    const auto text = cap.text();
    CHECK(std::count(text.begin(), text.end(), '\n') == 12);
  }
  SECTION("goroutine") {
    Capture cap;
    TraceOutputOptions opts;
    opts.goroutine = 2;
    {
      TraceOutput out(opts, basic(), cap.f);
      e.fact3(out, 1);
      e.fact3(out, 2);
    }
    const auto text = cap.text();
    CHECK(text.find("goroutine(1)") == std::string::npos);
    CHECK(text.find("> goroutine(2): main.fact(3)") != std::string::npos);
  }
  SECTION("cond hides only the calls that fail it") {
    Capture cap;
    TraceOutputOptions opts;
    auto cond = std::make_shared<target::TraceCondition>(target::TraceCondition::parse("n != 2"));
    opts.cond = [cond](const TraceEvent& ev) { return cond->matches(ev.values); };
    {
      TraceOutput out(opts, basic(), cap.f);
      e.fact3(out, 1);
    }
    CHECK(cap.text() ==
          "> goroutine(1): main.fact(3)\n"
          "> goroutine(1): main.fact(1)\n"
          ">> goroutine(1): => (1)\n"
          ">> goroutine(1): => (6)\n");
  }
}

TEST_CASE("durations", "[session][trace]") {
  CHECK(session::format_duration(850) == "850ns");
  CHECK(session::format_duration(12'300) == "12.3µs");
  CHECK(session::format_duration(4'560'000) == "4.56ms");
  CHECK(session::format_duration(1'234'000'000) == "1.234s");
  CHECK(session::parse_duration("250us") == 250'000u);
  CHECK(session::parse_duration("1.5ms") == 1'500'000u);
  CHECK(session::parse_duration("2s") == 2'000'000'000u);
  CHECK_FALSE(session::parse_duration("fast"));
  CHECK_FALSE(session::parse_duration("-1ms"));
}

namespace {

// Bytes the allocator has handed out and not taken back (glibc's count; sanitizers replace
// the allocator, and then there is nothing to measure).
std::size_t heap_in_use() {
#if defined(__SANITIZE_ADDRESS__)
  return 0;
#else
  return mallinfo2().uordblks;
#endif
}

}  // namespace

TEST_CASE("deep recursion holds memory linear in its depth", "[session][trace]") {
  // encoding/json's tests nest 10,000 arrays: each traced call used to copy its callers'
  // path, 10,000 x 10,000 names, and the server went from 300 MB to past 3 GB in seconds.
  Capture cap;
  Events e;
  e.fact.name = "encoding/json.(*decodeState).value";  // longer than a short string's buffer
  const int depth = 5000;
  const auto dir = std::filesystem::temp_directory_path() / "goscope_trace_deep";
  std::filesystem::create_directories(dir);
  TraceOutputOptions opts;
  opts.stats = true;
  opts.graph = true;
  opts.json_path = (dir / "t.json").string();
  const auto before = heap_in_use();
  std::size_t held = 0;
  {
    TraceOutput out(opts, basic(), cap.f);
    for (int i = 0; i < depth; ++i) out.on_event(e.call(1, i));
    held = heap_in_use() - std::min(before, heap_in_use());
    for (int i = depth - 1; i >= 0; --i) out.on_event(e.ret(1, i));
    out.finish(e.t, 10000);
  }
  // Linear: a few hundred bytes per open call plus the held graph lines (indented by depth,
  // at most TraceOutput's kGraphLinesHeld of them). Quadratic was 5,000 x 5,000 x 64 bytes.
  if (before == 0 && held == 0)
    WARN("the allocator's use cannot be measured in this build");
  CHECK(held < 64u * 1024 * 1024);
  const auto text = cap.text();
  CHECK(std::count(text.begin(), text.end(), '\n') >= 2 * depth);
  std::filesystem::remove_all(dir);
}

TEST_CASE("a long-running root's graph is printed in parts, the same lines in the end",
          "[session][trace]") {
  Capture cap;
  Events e;
  TraceOutputOptions opts;
  opts.dlv_lines = false;
  opts.graph = true;
  const int children = 5000;
  std::string before_root_ends;
  {
    TraceOutput out(opts, basic(), cap.f);
    out.on_event(e.call(1, 100));
    for (int i = 0; i < children; ++i) {
      out.on_event(e.call(1, i));
      out.on_event(e.ret(1, i));
    }
    out.flush();
    before_root_ends = cap.text();
    out.on_event(e.ret(1, 100));
    out.finish(e.t, 10000);
  }
  // Printed before the root ended: its header and its first children, nothing twice.
  CHECK(before_root_ends.rfind(
            "goroutine(1) +0.000000s:\nmain.fact(100) {\n  main.fact(0) => (0)  1µs\n", 0) == 0);
  const auto text = cap.text();
  std::istringstream lines(text);
  std::string line;
  int headers = 0, leaves = 0, closes = 0, goroutine_lines = 0;
  while (std::getline(lines, line)) {
    if (line == "main.fact(100) {")
      ++headers;
    else if (line.rfind("  main.fact(", 0) == 0)
      ++leaves;
    else if (line.rfind("} => (100)", 0) == 0)
      ++closes;
    else if (line.rfind("goroutine(1) ", 0) == 0)
      ++goroutine_lines;
  }
  CHECK(headers == 1);
  CHECK(leaves == children);
  CHECK(closes == 1);
  CHECK(goroutine_lines == 1);
}

TEST_CASE("folded stacks: one line per traced path, self times summing to the root's",
          "[session][trace]") {
  Capture cap;
  Events e;
  const auto dir = std::filesystem::temp_directory_path() / "goscope_trace_folded";
  std::filesystem::create_directories(dir);
  TraceOutputOptions opts;
  opts.dlv_lines = false;
  opts.folded_path = (dir / "t.folded").string();
  {
    TraceOutput out(opts, basic(), cap.f);
    for (int i = 0; i < 50; ++i) out.on_event(e.call(1, i));
    for (int i = 49; i >= 0; --i) out.on_event(e.ret(1, i));
    e.fact3(out, 2);  // the paths of 1, 2 and 3 deep again, from another goroutine
    out.finish(e.t, 10000);
  }
  std::ifstream in(opts.folded_path);
  std::string line;
  std::vector<std::string> stacks;
  std::uint64_t total = 0;
  while (std::getline(in, line)) {
    const auto sp = line.rfind(' ');
    stacks.push_back(line.substr(0, sp));
    total += std::stoull(line.substr(sp + 1));
  }
  REQUIRE(stacks.size() == 50);  // one per depth: goroutine 2's paths are the same paths
  CHECK(stacks.front() == "main.fact");
  std::string deepest = "main.fact";
  for (int i = 1; i < 50; ++i) deepest += ";main.fact";
  CHECK(stacks.back() == deepest);
  // Goroutine 1's root spans 99 events of 1µs each, goroutine 2's fact(3) 5.
  CHECK(total == 99'000u + 5'000u);
  std::filesystem::remove_all(dir);
}

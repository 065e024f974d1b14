// The uprobe engine's capture plans (what a BPF program copies at a tracepoint) and
// trampolines (where code moves so that probes are cheap), on the fixtures' DWARF and code.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>

#include "capture_plan.hpp"
#include "ordered_events.hpp"
#include "proc/bpf.hpp"
#include "target/binary_info.hpp"
#include "target/tracer.hpp"
#include "trampolines.hpp"

using namespace goscope;
using target::capture::Plan;

namespace {

const target::BinaryInfo& basic() {
  static auto bi = target::BinaryInfo::load(GOSCOPE_FIXTURE_DIR "/basic");
  return *bi;
}

const dwarf::Function& fn(const target::BinaryInfo& bi, const char* name) {
  const auto* f = bi.debug().find_function(name);
  REQUIRE(f != nullptr);
  return *f;
}

// The plan for fn's entry (results = false) or its first RET (true).
Plan plan_for(const target::BinaryInfo& bi, const dwarf::Function& f, bool results,
              const target::LoadConfig& cfg = target::kShortLoadConfig) {
  target::capture::SiteSpec spec;
  for (const auto& p : f.params)
    if (p.is_result == results)
      spec.vars.push_back(&p);
  spec.pc = f.low_pc;
  if (results) {
    auto rets = bi.return_sites(f);
    REQUIRE(!rets.empty());
    spec.pc = bi.to_file(rets.front().addr);
    if (f.optimized)
      spec.abi_function = &f;
  }
  spec.cfa_offset = 8;
  return target::capture::make_plan(bi, spec, cfg);
}

}  // namespace

TEST_CASE("a plan for scalars in registers reads nothing but the frame", "[target][capture]") {
  auto plan = plan_for(basic(), fn(basic(), "main.add"), false);
  CHECK_FALSE(plan.always_complete);
  CHECK(plan.blocks.empty());
  CHECK(plan.ifaces.empty());
  // The return address is always there (the caller's pc).
  CHECK(plan.stack_lo <= 0);
  CHECK(plan.stack_hi >= 8);
}

TEST_CASE("a string argument is one bounded read of its bytes", "[target][capture]") {
  auto plan = plan_for(basic(), fn(basic(), "main.greet"), false);
  CHECK_FALSE(plan.always_complete);
  REQUIRE(plan.blocks.size() == 1);
  const auto& b = plan.blocks[0];
  REQUIRE(b.count.has_value());
  CHECK(b.elem_size == 1);
  CHECK(b.max_count == 64);  // dlv trace's MaxStringLen
}

TEST_CASE("a -N -l result at a RET is read from the dead frame below rsp", "[target][capture]") {
  auto plan = plan_for(basic(), fn(basic(), "main.add"), true);
  CHECK_FALSE(plan.always_complete);
  CHECK(plan.stack_lo < 0);
}

TEST_CASE("interfaces get a type header read and a run-time completion check",
          "[target][capture]") {
  // describe(s Shape): iface {tab, data}: the itab, then the dynamic type's header.
  auto plan = plan_for(basic(), fn(basic(), "main.describe"), false);
  CHECK_FALSE(plan.always_complete);
  REQUIRE(plan.ifaces.size() == 1);
  const auto& c = plan.ifaces[0];
  REQUIRE(c.type_block < plan.blocks.size());
  CHECK(plan.blocks[c.type_block].addr.kind == target::capture::Word::Kind::block);
  CHECK(plan.blocks[c.type_block].len == 48);
  REQUIRE(c.data_block.has_value());
  CHECK(plan.blocks[*c.data_block].optional);
}

TEST_CASE("map entries are left to a completion; --stack reads the frame chain",
          "[target][capture]") {
  auto cfg = target::kShortLoadConfig;
  CHECK_FALSE(plan_for(basic(), fn(basic(), "main.lookup"), false, cfg).always_complete);
  cfg.max_array_values = 64;
  cfg.max_variable_recurse = 1;
  auto plan = plan_for(basic(), fn(basic(), "main.lookup"), false, cfg);
  CHECK(plan.always_complete);
  CHECK(plan.why_complete == "map entries");

  target::capture::SiteSpec spec;
  spec.pc = fn(basic(), "main.add").low_pc;
  spec.cfa_offset = 8;
  spec.stack_depth = 2;
  auto frames = target::capture::make_plan(basic(), spec, target::kShortLoadConfig);
  CHECK_FALSE(frames.always_complete);
  REQUIRE(frames.blocks.size() == 3);  // the traced frame's caller chain, depth + 1
  CHECK(frames.blocks[0].addr.kind == target::capture::Word::Kind::reg);
  CHECK(frames.blocks[2].addr.kind == target::capture::Word::Kind::block);
  CHECK(frames.blocks[2].addr.block == 1);
  CHECK(frames.blocks[2].optional);
}

TEST_CASE("slices with elements to load read them, bounded", "[target][capture]") {
  auto cfg = target::kShortLoadConfig;
  cfg.max_array_values = 8;
  cfg.max_variable_recurse = 1;
  auto plan = plan_for(basic(), fn(basic(), "main.sum"), false, cfg);
  CHECK_FALSE(plan.always_complete);
  REQUIRE(plan.blocks.size() == 1);
  CHECK(plan.blocks[0].elem_size == 8);
  CHECK(plan.blocks[0].max_count == 8);
}

TEST_CASE("float arguments come from the xmm registers an entry trampoline stored",
          "[target][capture]") {
  // mixed(b bool, u uint, f float64, f32 float32, ...): f and f32 arrive in X0 and X1.
  const auto& mixed = fn(basic(), "main.mixed");
  CHECK(target::Trampolines::has_float_arguments(mixed));
  CHECK_FALSE(target::Trampolines::has_float_arguments(fn(basic(), "main.add")));
  target::capture::SiteSpec spec;
  for (const auto& p : mixed.params)
    if (!p.is_result)
      spec.vars.push_back(&p);
  spec.pc = mixed.low_pc;
  spec.cfa_offset = 8;
  CHECK(target::capture::make_plan(basic(), spec, target::kShortLoadConfig).always_complete);
  spec.xmm_spilled = true;
  auto plan = target::capture::make_plan(basic(), spec, target::kShortLoadConfig);
  CHECK_FALSE(plan.always_complete);
  CHECK(plan.stack_lo <= -16);  // xmm1's slot is rsp-16
}

TEST_CASE("record layout keeps blocks after the stack window, 8-aligned", "[target][capture]") {
  auto plan = plan_for(basic(), fn(basic(), "main.inspect"), false);
  target::capture::layout(plan, 160);
  CHECK(plan.stack_offset == target::capture::kGOffset + 160);
  std::uint32_t prev = plan.stack_offset;
  for (const auto& b : plan.blocks) {
    CHECK(b.record_offset >= prev);
    CHECK(b.record_offset % 8 == 0);
    prev = b.record_offset + 24;
  }
  CHECK(plan.size >= prev);
}

TEST_CASE("every plan of every function of the fixtures passes the kernel's verifier",
          "[target][capture][bpf]") {
  std::string why;
  if (!proc::bpf::available(&why)) {
    WARN("uprobe engine unavailable here: " << why);
    return;
  }
  for (const char* name : {"/basic", "/basic_opt", "/values", "/values_opt", "/tricky"}) {
    auto bi = target::BinaryInfo::load(std::string(GOSCOPE_FIXTURE_DIR) + name);
    std::vector<Plan> plans;
    for (const auto& f : bi->debug().functions()) {
      if (!f.name.starts_with("main."))
        continue;
      plans.push_back(plan_for(*bi, f, false));
      if (!bi->return_sites(f).empty())
        plans.push_back(plan_for(*bi, f, true));
    }
    REQUIRE(!plans.empty());
    std::uint32_t value_size = 8;
    std::vector<const Plan*> ptrs;
    for (auto& p : plans) {
      target::capture::layout(p, 160);
      value_size = std::max(value_size, p.size);
      ptrs.push_back(&p);
    }
    auto scratch = proc::bpf::Map::create(proc::bpf::Map::Type::percpu_array, 4, value_size, 1,
                                          "test_scratch");
    auto stats = proc::bpf::Map::create(proc::bpf::Map::Type::percpu_array, 4, 8, 1, "test_stats");
    proc::bpf::RingBuffer ring(1 << 20);
    const target::capture::ProgramMaps maps{scratch.fd(), ring.map().fd(), stats.fd(), 1 << 20};
    const target::capture::GOffsets g{160, 152};
    INFO(name << ": " << plans.size() << " plans");
    auto insns = target::capture::generate(ptrs, maps, g);
    CHECK_NOTHROW(proc::bpf::Program::load(insns, "test_plans", proc::bpf::kUprobeMultiAttach));
  }
}

TEST_CASE("trampolines move whole relocatable instructions, never into a branch target",
          "[target][trampolines]") {
  auto bi = target::BinaryInfo::load(GOSCOPE_FIXTURE_DIR "/basic_opt");
  target::Trampolines t(*bi);
  // main.Rect.Area is `imul rax, rbx; ret`: four bytes before the RET, too few for a jmp
  // at the entry, enough with the RET at the return.
  const auto& area = fn(*bi, "main.Rect.Area");
  CHECK_FALSE(t.add_entry(area).has_value());
  auto rets = bi->return_sites(area);
  REQUIRE(rets.size() == 1);
  auto id = t.add_return(area, rets[0].addr);
  REQUIRE(id.has_value());
  // Its range covers the entry, where an entry probe on the original code would sit.
  CHECK(t.covering(bi->to_virt(area.low_pc)) == id);
  t.drop(*id);
  CHECK_FALSE(t.covering(bi->to_virt(area.low_pc)).has_value());
  CHECK(t.empty());
  // The runtime is never moved.
  const auto& goexit = fn(*bi, "runtime.goexit1");
  CHECK_FALSE(t.add_entry(goexit).has_value());
}

TEST_CASE("an attached process keeps the slow probe where a pc is inside the moved code",
          "[target][trampolines]") {
  auto bi = target::BinaryInfo::load(GOSCOPE_FIXTURE_DIR "/basic_opt");
  target::Trampolines t(*bi);
  const auto& area = fn(*bi, "main.Rect.Area");
  const auto rets = bi->return_sites(area);
  REQUIRE(rets.size() == 1);
  const auto id = t.add_return(area, rets[0].addr);
  REQUIRE(id.has_value());
  const auto start = t.patch_address(*id).value();
  const auto ret = rets[0].addr.value();  // the last byte of the range
  const std::vector<std::uint64_t> none{start - 1, ret + 1};
  const std::vector<std::uint64_t> at_start{start};  // runs our jmp: safe
  const std::vector<std::uint64_t> inside{start + 1};
  const std::vector<std::uint64_t> at_ret{0x10, ret, ret + 0x1000};
  CHECK(t.holding(none).empty());
  CHECK(t.holding(at_start).empty());
  CHECK(t.holding(inside) == std::vector<std::size_t>{*id});
  CHECK(t.holding(at_ret) == std::vector<std::size_t>{*id});
  t.drop(*id);
  CHECK(t.holding(inside).empty());
}

TEST_CASE("a -N -l leaf function's prologue and epilogue both move", "[target][trampolines]") {
  target::Trampolines t(basic());
  const auto& add = fn(basic(), "main.add");
  CHECK(t.add_entry(add).has_value());
  for (const auto& r : basic().return_sites(add)) CHECK(t.add_return(add, r.addr).has_value());
  // The same range twice is refused.
  CHECK_FALSE(t.add_entry(add).has_value());
}

TEST_CASE("entry tracepoints follow the stack-split check, where Delve's prologue ends",
          "[target][tracer]") {
  for (const char* binary : {"/stress", "/stress_opt"}) {
    auto bi = target::BinaryInfo::load(std::string(GOSCOPE_FIXTURE_DIR) + binary);
    // cmp rsp, [r14+16]; jbe / lea r12, [rsp-N]; cmp r12, [r14+16]; jbe (1 KiB frame) /
    // mov r12, rsp; sub r12, N; jb; cmp r12, [r14+16]; jbe (a frame over StackBig).
    for (const char* name : {"main.hit", "main.grow", "main.huge", "main.boom", "main.main"}) {
      const auto& f = fn(*bi, name);
      INFO(binary << " " << name);
      const auto at = target::entry_tracepoint(*bi, f);
      CHECK(at != bi->to_virt(f.low_pc));
      // The check's jbe ends right there (76 rel8 or 0f 86 rel32).
      const auto check = target::stack_check(*bi, f);
      REQUIRE(check.has_value());
      CHECK(check->fallthrough == at);
      auto jbe = bi->elf().code_at(bi->to_file(check->jbe), 1);
      REQUIRE(jbe.has_value());
      const auto op = std::to_integer<int>((*jbe)[0]);
      CHECK(((op == 0x76 && at.value() - check->jbe.value() == 2) ||
             (op == 0x0f && at.value() - check->jbe.value() == 6)));
      const auto end = bi->debug().lines().prologue_end(f.low_pc, f.high_pc);
      REQUIRE(end.has_value());
      CHECK(at == bi->to_virt(*end));
      // The instruction there is the frame's allocation: `sub rsp, N` (48 83 ec / 48 81 ec).
      auto code = bi->elf().code_at(bi->to_file(at), 3);
      REQUIRE(code.has_value());
      CHECK(std::to_integer<int>((*code)[0]) == 0x48);
      CHECK(std::to_integer<int>((*code)[2]) == 0xec);
    }
    // A small leaf has no check: its entry is its first instruction.
    const auto& noop = fn(*bi, "main.noop");
    CHECK(target::entry_tracepoint(*bi, noop) == bi->to_virt(noop.low_pc));
    CHECK_FALSE(target::stack_check(*bi, noop).has_value());
  }
}

TEST_CASE("an entry trampoline moves the frame setup after the stack check",
          "[target][trampolines]") {
  auto bi = target::BinaryInfo::load(GOSCOPE_FIXTURE_DIR "/stress");
  target::Trampolines t(*bi);
  for (const char* name : {"main.hit", "main.grow", "main.huge"}) {
    INFO(name);
    const auto& f = fn(*bi, name);
    const auto at = target::entry_tracepoint(*bi, f);
    auto id = t.add_entry(f, true, at);
    REQUIRE(id.has_value());
    // Its range starts at the tracepoint: the check itself (and its jbe) stay in place.
    CHECK(t.covering(at) == id);
    CHECK_FALSE(t.covering(bi->to_virt(f.low_pc)).has_value());
    CHECK_FALSE(t.covering(proc::VirtAddr(at.value() - 1)).has_value());
  }
}

TEST_CASE("an event waiting for its completion holds back its goroutine's later events",
          "[target][tracer]") {
  std::vector<std::pair<std::int64_t, std::uint64_t>> out;  // goid, hit_ns
  target::OrderedEvents ordered(
      [&](target::TraceEvent&& ev) { out.emplace_back(ev.goid, ev.hit_ns); });
  auto ev = [](std::int64_t goid, std::uint64_t hit) {
    target::TraceEvent e;
    e.goid = goid;
    e.hit_ns = hit;
    return e;
  };
  ordered.add(1, ev(1, 10));
  ordered.expect(1, 100);  // goroutine 1's call at 11 needs thread 100 to stop
  ordered.add(1, ev(1, 12));
  ordered.add(2, ev(2, 13));     // other goroutines go on
  ordered.add(0, ev(0, 14));     // no goroutine: never held
  ordered.add(1, std::nullopt);  // a record that reports nothing keeps its place
  ordered.expect(1, 101);
  ordered.add(1, ev(1, 16));
  CHECK(ordered.waiting() == 1);
  CHECK(out == std::vector<std::pair<std::int64_t, std::uint64_t>>{{1, 10}, {2, 13}, {0, 14}});
  out.clear();
  // The second completion comes first: still nothing of goroutine 1 before 11.
  ordered.fulfil(1, 101, ev(1, 15));
  CHECK(out.empty());
  ordered.fulfil(1, 100, ev(1, 11));
  CHECK(out ==
        std::vector<std::pair<std::int64_t, std::uint64_t>>{{1, 11}, {1, 12}, {1, 15}, {1, 16}});
  CHECK(ordered.waiting() == 0);
  out.clear();
  // A completion that never comes (the process ended): flush passes the rest on in order.
  ordered.expect(3, 200);
  ordered.add(3, ev(3, 21));
  ordered.flush();
  CHECK(out == std::vector<std::pair<std::int64_t, std::uint64_t>>{{3, 21}});
  // A fulfilment nobody expected (goroutine 0) goes straight out.
  out.clear();
  ordered.fulfil(0, 300, ev(0, 30));
  CHECK(out == std::vector<std::pair<std::int64_t, std::uint64_t>>{{0, 30}});
}

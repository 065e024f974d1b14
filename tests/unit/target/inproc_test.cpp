// The in-process engine's capture code, run in this process: the record it writes into the
// ring (registers, goroutine header, stack window, blocks with clamped counts, a block that
// depends on a failed one), and a read of a bad pointer recovered the way goscope recovers it
// (a SIGSEGV handler here plays goscope's ptrace fix-up: the faulting pc to its recovery).
#include <signal.h>
#include <sys/mman.h>
#include <ucontext.h>

#include <catch2/catch.hpp>

#include <array>
#include <cstring>
#include <unordered_map>
#include <vector>

#include "capture_plan.hpp"
#include "inproc_codegen.hpp"
#include "inproc_ring.hpp"
#include "proc/bpf.hpp"
#include "proc/disassembler.hpp"

using namespace goscope;
using namespace goscope::target;
namespace pr = proc::bpf::pt_regs;

namespace {

std::unordered_map<std::uint64_t, std::uint64_t>* g_fixups = nullptr;
int g_faults = 0;

void on_segv(int, siginfo_t*, void* ctx) {
  auto* uc = static_cast<ucontext_t*>(ctx);
  auto& rip = uc->uc_mcontext.gregs[REG_RIP];
  auto it = g_fixups->find(static_cast<std::uint64_t>(rip));
  if (it == g_fixups->end()) {
    signal(SIGSEGV, SIG_DFL);
    return;  // not ours: the default action follows
  }
  ++g_faults;
  rip = static_cast<greg_t>(it->second);
}

capture::Block block_at_reg(std::int16_t reg, std::uint64_t len, bool optional = false) {
  capture::Block b;
  b.addr.kind = capture::Word::Kind::reg;
  b.addr.reg = reg;
  b.len = len;
  b.optional = optional;
  return b;
}

}  // namespace

TEST_CASE(
    "inproc capture code records registers, g, stack and blocks, and survives a bad "
    "pointer",
    "[inproc]") {
  inproc::SharedRing ring(1 << 16);
  ring.use_local_address();

  capture::Plan plan;
  plan.stack_lo = -16;
  plan.stack_hi = 16;
  plan.blocks.push_back(block_at_reg(pr::rbx, 32));                    // 0: good memory
  plan.blocks.push_back(block_at_reg(pr::rcx, 8, /*optional=*/true));  // 1: bad pointer
  capture::Block dep;  // 2: its address is in block 1, which fails: not read
  dep.addr.kind = capture::Word::Kind::block;
  dep.addr.block = 1;
  dep.len = 8;
  dep.optional = true;
  plan.blocks.push_back(dep);
  capture::Block counted = block_at_reg(pr::rbx, 0);  // 3: r8 elements of 2 bytes, at most 4
  counted.count = capture::Word{capture::Word::Kind::reg, pr::r8, 0, 0};
  counted.elem_size = 2;
  counted.max_count = 4;
  plan.blocks.push_back(counted);
  capture::layout(plan, 16);

  inproc::CodegenParams params;
  params.ring = ring.remote_base();
  params.capacity = ring.capacity();
  params.g = capture::GOffsets{16, 8};
  const auto site = inproc::compile(plan, 7, params);

  // Every byte decodes; the fix-ups are `rep movsb`, the traps int3.
  const auto insns = proc::disassemble(site.bytes, proc::VirtAddr(0x1000));
  std::size_t decoded = 0;
  for (const auto& i : insns) decoded += i.length;
  CHECK(decoded == site.bytes.size());
  for (const auto& [at, rec] : site.fixups) {
    CHECK(std::to_integer<int>(site.bytes[at]) == 0xf3);
    CHECK(std::to_integer<int>(site.bytes[at + 1]) == 0xa4);
    CHECK(rec < site.bytes.size());
  }
  CHECK(std::to_integer<int>(site.bytes[site.throttle_trap]) == 0xcc);
  CHECK(std::to_integer<int>(site.bytes[site.complete_trap]) == 0xcc);

  // A SysV function around it, f(g, buf, count, bad): g in r14, rbx the buffer, r8 the
  // count, rcx (already) the bad pointer.
  // push rbx, rbp, r12-r15; mov r14, rdi; mov rbx, rsi; mov r8, rdx
  const std::vector<std::uint8_t> prologue{0x53, 0x55, 0x41, 0x54, 0x41, 0x55, 0x41,
                                           0x56, 0x41, 0x57, 0x49, 0x89, 0xfe, 0x48,
                                           0x89, 0xf3, 0x49, 0x89, 0xd0};
  // pop r15-r12, rbp, rbx; ret
  const std::vector<std::uint8_t> epilogue{0x41, 0x5f, 0x41, 0x5e, 0x41, 0x5d,
                                           0x41, 0x5c, 0x5d, 0x5b, 0xc3};
  const std::size_t size = prologue.size() + site.bytes.size() + epilogue.size();
  void* mem =
      mmap(nullptr, size, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  REQUIRE(mem != MAP_FAILED);
  auto* code = static_cast<std::uint8_t*>(mem);
  std::memcpy(code, prologue.data(), prologue.size());
  std::memcpy(code + prologue.size(), site.bytes.data(), site.bytes.size());
  std::memcpy(code + prologue.size() + site.bytes.size(), epilogue.data(), epilogue.size());
  const auto base = reinterpret_cast<std::uint64_t>(code + prologue.size());
  std::unordered_map<std::uint64_t, std::uint64_t> fixups;
  for (const auto& [at, rec] : site.fixups) fixups[base + at] = base + rec;
  g_fixups = &fixups;
  g_faults = 0;

  // A page that is mapped, then no longer: its address faults.
  void* gone = mmap(nullptr, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  REQUIRE(gone != MAP_FAILED);
  munmap(gone, 4096);

  struct sigaction sa {
  }, old{};
  sa.sa_sigaction = on_segv;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGSEGV, &sa, &old);
  std::array<std::uint64_t, 2> g{0x1111, 42};  // goid (offset 8) = 42
  std::array<std::uint8_t, 32> buf{};
  for (std::size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<std::uint8_t>(i + 1);
  using Fn = void (*)(void*, void*, std::uint64_t, void*);
  reinterpret_cast<Fn>(code)(g.data(), buf.data(), 100, gone);
  sigaction(SIGSEGV, &old, nullptr);
  munmap(mem, size);

  CHECK(g_faults == 1);
  std::vector<std::vector<std::byte>> records;
  ring.consume([&](std::uint64_t, std::span<const std::byte> rec) {
    records.emplace_back(rec.begin(), rec.end());
  });
  REQUIRE(records.size() == 1);
  const auto& rec = records[0];
  auto u64 = [&](std::uint64_t off) {
    std::uint64_t v = 0;
    std::memcpy(&v, rec.data() + off, 8);
    return v;
  };
  capture::RecordHeader h;
  std::memcpy(&h, rec.data(), sizeof h);
  CHECK(h.cookie == 7);
  CHECK(h.flags == 0);  // nothing to complete: the failed blocks are optional
  CHECK(h.regs[pr::rbx / 8] == reinterpret_cast<std::uint64_t>(buf.data()));
  CHECK(h.regs[pr::rcx / 8] == reinterpret_cast<std::uint64_t>(gone));
  CHECK(h.regs[pr::r14 / 8] == reinterpret_cast<std::uint64_t>(g.data()));
  CHECK(h.regs[pr::r8 / 8] == 100);
  CHECK(u64(capture::kGOffset + 8) == 42);
  const auto& b = plan.blocks;
  CHECK(u64(b[0].record_offset + 16) == 0);  // read
  CHECK(u64(b[0].record_offset + 8) == 32);
  CHECK(std::memcmp(rec.data() + b[0].record_offset + 24, buf.data(), 32) == 0);
  CHECK(static_cast<std::int64_t>(u64(b[1].record_offset + 16)) == -14);  // faulted
  CHECK(static_cast<std::int64_t>(u64(b[2].record_offset + 16)) == -1);   // not read
  CHECK(u64(b[3].record_offset + 8) == 8);  // 100 clamped to 4 elements of 2 bytes
  CHECK(std::memcmp(rec.data() + b[3].record_offset + 24, buf.data(), 8) == 0);
  // The stack window: rsp at the capture held the saved r15 (pushed last) = r15 as called.
  CHECK(u64(plan.stack_offset + 16) == h.regs[pr::r15 / 8]);
}

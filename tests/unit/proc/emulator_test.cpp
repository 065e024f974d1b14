// The emulator in isolation: decoding decisions, memory plumbing and flags against the CPU.
#include <catch2/catch.hpp>

#include <cstring>
#include <random>
#include <vector>

#include "proc/emulator.hpp"

using namespace goscope::proc;

namespace {

std::vector<std::byte> code(std::initializer_list<int> raw) {
  std::vector<std::byte> out;
  for (int b : raw) out.push_back(static_cast<std::byte>(b));
  return out;
}

// A small flat memory window; anything outside it faults.
class FlatMemory : public EmulatorMemory {
 public:
  FlatMemory(std::uint64_t base, std::size_t size) : base_(base), data_(size) {}
  bool read(std::uint64_t addr, std::span<std::byte> out) override {
    if (addr < base_ || addr + out.size() > base_ + data_.size())
      return false;
    std::memcpy(out.data(), data_.data() + (addr - base_), out.size());
    return true;
  }
  bool write(std::uint64_t addr, std::span<const std::byte> in) override {
    if (addr < base_ || addr + in.size() > base_ + data_.size())
      return false;
    std::memcpy(data_.data() + (addr - base_), in.data(), in.size());
    return true;
  }
  std::uint64_t u64(std::uint64_t addr) {
    std::uint64_t v = 0;
    REQUIRE(read(addr, std::as_writable_bytes(std::span(&v, 1))));
    return v;
  }
  void set_u64(std::uint64_t addr, std::uint64_t v) {
    REQUIRE(write(addr, std::as_bytes(std::span(&v, 1))));
  }

 private:
  std::uint64_t base_;
  std::vector<std::byte> data_;
};

constexpr std::uint64_t kStack = 0x7000;

user_regs_struct regs_at(std::uint64_t rip) {
  user_regs_struct r{};
  r.rip = rip;
  r.rsp = kStack + 0x800;
  r.eflags = 0x202;
  return r;
}

// The CPU's flags for `op a, b` at 64 bits, taken with pushf (stepping over the red zone).
std::uint64_t native_flags_sub(std::uint64_t a, std::uint64_t b) {
  std::uint64_t fl;
  asm volatile(
      "lea -128(%%rsp), %%rsp\n\t"
      "sub %[b], %[a]\n\t"
      "pushfq\n\t"
      "pop %[fl]\n\t"
      "lea 128(%%rsp), %%rsp"
      : [a] "+r"(a), [fl] "=r"(fl)
      : [b] "r"(b)
      : "cc");
  return fl;
}

std::uint64_t native_flags_add32(std::uint64_t a, std::uint64_t b) {
  std::uint64_t fl;
  asm volatile(
      "lea -128(%%rsp), %%rsp\n\t"
      "add %k[b], %k[a]\n\t"
      "pushfq\n\t"
      "pop %[fl]\n\t"
      "lea 128(%%rsp), %%rsp"
      : [a] "+r"(a), [fl] "=r"(fl)
      : [b] "r"(b)
      : "cc");
  return fl;
}

}  // namespace

TEST_CASE("decode rejects what cannot be emulated safely", "[proc][emulator]") {
  VirtAddr at(0x1000);
  CHECK_FALSE(EmulatedInstruction::decode(code({0x0f, 0x05}), at));              // syscall
  CHECK_FALSE(EmulatedInstruction::decode(code({0xf0, 0x48, 0x01, 0x03}), at));  // lock add
  CHECK_FALSE(EmulatedInstruction::decode(code({0x0f, 0x57, 0xc9}), at));        // xorps
  CHECK_FALSE(EmulatedInstruction::decode(code({0x48, 0xf7, 0xeb}), at));        // imul rbx
  CHECK_FALSE(EmulatedInstruction::decode(code({0x66, 0x55}), at));              // push bp
  CHECK_FALSE(EmulatedInstruction::decode(code({0xf3, 0xa4}), at));              // rep movsb
  CHECK_FALSE(EmulatedInstruction::decode(code({0x48, 0x83}), at));              // truncated
  CHECK(EmulatedInstruction::decode(code({0x55}), at));
  CHECK(EmulatedInstruction::decode(code({0x49, 0x3b, 0x66, 0x10}), at));
  CHECK(EmulatedInstruction::decode(code({0x4c, 0x8d, 0xa4, 0x24, 0x00, 0xf0, 0xff, 0xff}), at));
}

TEST_CASE("push call and ret go through memory and a fault changes nothing", "[proc][emulator]") {
  FlatMemory mem(kStack, 0x1000);
  auto r = regs_at(0x1000);
  r.rbp = 0x1122334455667788;

  auto push = EmulatedInstruction::decode(code({0x55}), VirtAddr(0x1000));
  REQUIRE(push);
  REQUIRE(push->execute(r, mem));
  CHECK(r.rsp == kStack + 0x7f8);
  CHECK(r.rip == 0x1001);
  CHECK(mem.u64(r.rsp) == 0x1122334455667788);

  // call 0x2000 from 0x1001 (e8 rel32 = 0x2000 - 0x1006)
  auto call = EmulatedInstruction::decode(code({0xe8, 0xfa, 0x0f, 0x00, 0x00}), VirtAddr(0x1001));
  REQUIRE(call);
  REQUIRE(call->execute(r, mem));
  CHECK(r.rip == 0x2000);
  CHECK(mem.u64(r.rsp) == 0x1006);

  auto ret = EmulatedInstruction::decode(code({0xc3}), VirtAddr(0x2000));
  REQUIRE(ret);
  REQUIRE(ret->execute(r, mem));
  CHECK(r.rip == 0x1006);
  CHECK(r.rsp == kStack + 0x7f8);

  // A ret whose stack is unreadable leaves everything as it was.
  auto bad = regs_at(0x2000);
  bad.rsp = 0x10;
  auto copy = bad;
  CHECK_FALSE(ret->execute(bad, mem));
  CHECK(std::memcmp(&bad, &copy, sizeof bad) == 0);
}

TEST_CASE("Go prologue cmp rsp to the stack guard and lea r12 below rsp", "[proc][emulator]") {
  FlatMemory mem(kStack, 0x1000);
  auto r = regs_at(0x1000);
  r.r14 = kStack + 0x100;                       // g
  mem.set_u64(kStack + 0x110, kStack + 0x900);  // stackguard0 above rsp: morestack needed

  auto cmp = EmulatedInstruction::decode(code({0x49, 0x3b, 0x66, 0x10}), VirtAddr(0x1000));
  REQUIRE(cmp);
  REQUIRE(cmp->execute(r, mem));
  CHECK((r.eflags & 0x8d5) == (native_flags_sub(r.rsp, kStack + 0x900) & 0x8d5));
  CHECK((r.eflags & 1) == 1);  // CF: rsp below the guard, so jbe is taken

  auto jbe = EmulatedInstruction::decode(code({0x76, 0x10}), VirtAddr(0x1004));
  REQUIRE(jbe);
  REQUIRE(jbe->execute(r, mem));
  CHECK(r.rip == 0x1016);

  auto lea = EmulatedInstruction::decode(code({0x4c, 0x8d, 0x64, 0x24, 0xc0}), VirtAddr(0x1000));
  REQUIRE(lea);
  REQUIRE(lea->execute(r, mem));
  CHECK(r.r12 == r.rsp - 0x40);
}

TEST_CASE("arithmetic flags match the CPU on random and edge operands", "[proc][emulator]") {
  std::mt19937_64 rng(12345);
  std::vector<std::uint64_t> values{
      0,          1,    ~0ull, 0x7fffffffffffffff, 0x8000000000000000, 0x7fffffff, 0x80000000,
      0xffffffff, 0xff, 0x80};
  for (int i = 0; i < 200; ++i) values.push_back(rng());
  auto sub =
      EmulatedInstruction::decode(code({0x48, 0x29, 0xd8}), VirtAddr(0x1000));     // sub rax, rbx
  auto add32 = EmulatedInstruction::decode(code({0x01, 0xd8}), VirtAddr(0x1000));  // add eax, ebx
  REQUIRE(sub);
  REQUIRE(add32);
  FlatMemory mem(kStack, 16);
  for (std::uint64_t a : values) {
    for (std::uint64_t b :
         {values[0], values[2], values[4], values[7], values[a % values.size()]}) {
      auto r = regs_at(0x1000);
      r.rax = a;
      r.rbx = b;
      REQUIRE(sub->execute(r, mem));
      CHECK(r.rax == a - b);
      CHECK((r.eflags & 0x8d5) == (native_flags_sub(a, b) & 0x8d5));
      CHECK((r.eflags & 0x200) == 0x200);  // IF untouched

      r = regs_at(0x1000);
      r.rax = a;
      r.rbx = b;
      REQUIRE(add32->execute(r, mem));
      CHECK(r.rax == ((a + b) & 0xffffffff));  // 32-bit results zero-extend
      CHECK((r.eflags & 0x8d5) == (native_flags_add32(a, b) & 0x8d5));
    }
  }
}

TEST_CASE("partial-register writes follow the x86-64 rules", "[proc][emulator]") {
  FlatMemory mem(kStack, 16);
  auto r = regs_at(0x1000);
  r.rax = 0x1111111111111111;
  r.rbx = 0x22;
  auto add_ah = EmulatedInstruction::decode(code({0x00, 0xdc}), VirtAddr(0x1000));  // add ah, bl
  REQUIRE(add_ah);
  REQUIRE(add_ah->execute(r, mem));
  CHECK(r.rax == 0x1111111111113311);
  auto mov16 =
      EmulatedInstruction::decode(code({0x66, 0x89, 0xd8}), VirtAddr(0x1000));  // mov ax, bx
  REQUIRE(mov16);
  REQUIRE(mov16->execute(r, mem));
  CHECK(r.rax == 0x1111111111110022);
  auto mov32 = EmulatedInstruction::decode(code({0x89, 0xd8}), VirtAddr(0x1000));  // mov eax, ebx
  REQUIRE(mov32);
  REQUIRE(mov32->execute(r, mem));
  CHECK(r.rax == 0x22);
}

// Injected function calls (target/fncall.hpp): arguments scattered over the locations Go's
// DWARF gives parameters at a function's entry under the register ABI, on byte inputs.
#include <sys/user.h>

#include <array>
#include <catch2/catch.hpp>
#include <cstring>

#include "dwarf/expr.hpp"
#include "target/fncall.hpp"

using goscope::dwarf::Piece;
using goscope::target::debug_call_frame_size;
using goscope::target::MemoryWrite;
using goscope::target::scatter_value;

namespace {
Piece reg(unsigned n, std::uint64_t size) {
  Piece p;
  p.kind = Piece::Kind::reg;
  p.regno = n;
  p.size = size;
  return p;
}
std::vector<std::byte> bytes_of(std::initializer_list<std::uint64_t> words) {
  std::vector<std::byte> out(words.size() * 8);
  std::size_t i = 0;
  for (auto w : words) std::memcpy(out.data() + 8 * i++, &w, 8);
  return out;
}
}  // namespace

TEST_CASE("fncall: an int in RAX (whole-value location, no pieces)", "[fncall]") {
  user_regs_struct gp{};
  user_fpregs_struct fp{};
  std::vector<MemoryWrite> mem;
  gp.rax = ~0ull;
  scatter_value(bytes_of({7}), {reg(0, 0)}, gp, fp, mem);
  CHECK(gp.rax == 7);
  CHECK(mem.empty());
}

TEST_CASE("fncall: a string over RBX and RCX, a float in X0", "[fncall]") {
  user_regs_struct gp{};
  user_fpregs_struct fp{};
  std::memset(&fp, 0xff, sizeof fp);
  std::vector<MemoryWrite> mem;
  scatter_value(bytes_of({0xc000010000, 3}), {reg(3, 8), reg(2, 8)}, gp, fp, mem);
  CHECK(gp.rbx == 0xc000010000);
  CHECK(gp.rcx == 3);
  const double f = 2.5;
  std::vector<std::byte> fb(8);
  std::memcpy(fb.data(), &f, 8);
  scatter_value(fb, {reg(17, 0)}, gp, fp, mem);
  double back = 0;
  std::memcpy(&back, &fp.xmm_space[0], 8);
  CHECK(back == 2.5);
  CHECK(fp.xmm_space[2] == 0);  // upper half of X0 cleared
  CHECK(fp.xmm_space[3] == 0);
  CHECK(fp.xmm_space[4] == 0xffffffffu);  // X1 untouched
}

TEST_CASE("fncall: a struct split over registers and memory; a bool byte", "[fncall]") {
  user_regs_struct gp{};
  user_fpregs_struct fp{};
  std::vector<MemoryWrite> mem;
  Piece m;
  m.kind = Piece::Kind::memory;
  m.address = 0x1000;
  m.size = 8;
  scatter_value(bytes_of({1, 2}), {reg(5, 8), m}, gp, fp, mem);
  CHECK(gp.rdi == 1);
  REQUIRE(mem.size() == 1);
  CHECK(mem[0].addr == 0x1000);
  CHECK(mem[0].bytes == bytes_of({2}));
  gp.rsi = ~0ull;
  const std::array<std::byte, 1> b{std::byte{1}};
  scatter_value(b, {reg(4, 1)}, gp, fp, mem);
  CHECK(gp.rsi == 1);  // the rest of the register zeroed
}

TEST_CASE("fncall: unwritable locations are refused", "[fncall]") {
  user_regs_struct gp{};
  user_fpregs_struct fp{};
  std::vector<MemoryWrite> mem;
  Piece imp;
  imp.kind = Piece::Kind::implicit;
  CHECK_THROWS(scatter_value(bytes_of({1}), {imp}, gp, fp, mem));
  CHECK_THROWS(scatter_value(bytes_of({1}), {reg(40, 8)}, gp, fp, mem));
  CHECK_THROWS(scatter_value(bytes_of({1}), {reg(0, 8), reg(3, 8)}, gp, fp, mem));
}

TEST_CASE("fncall: debugCallV2 frame size (Delve's regabi bound)", "[fncall]") {
  // divide(a, b int) (q int, err error): 8+8+8+16 = 40, plus 24 argument registers.
  const std::vector<std::pair<std::uint64_t, std::uint64_t>> divide{
      {8, 8}, {8, 8}, {8, 8}, {16, 8}};
  CHECK(debug_call_frame_size(divide) == 40 + 192);
  // (b bool, n int): the int is aligned after the bool.
  const std::vector<std::pair<std::uint64_t, std::uint64_t>> mixed{{1, 1}, {8, 8}};
  CHECK(debug_call_frame_size(mixed) == 16 + 192);
  CHECK(debug_call_frame_size({}) == 192);
}

#include <catch2/catch.hpp>

#include "proc/registers.hpp"

using goscope::proc::Registers;

TEST_CASE("registers by DWARF number follow the x86-64 psABI order", "[proc]") {
  Registers r;
  r.gp.rax = 0;
  r.gp.rdx = 1;
  r.gp.rcx = 2;
  r.gp.rbx = 3;
  r.gp.rsi = 4;
  r.gp.rdi = 5;
  r.gp.rbp = 6;
  r.gp.rsp = 7;
  r.gp.r8 = 8;
  r.gp.r9 = 9;
  r.gp.r10 = 10;
  r.gp.r11 = 11;
  r.gp.r12 = 12;
  r.gp.r13 = 13;
  r.gp.r14 = 14;
  r.gp.r15 = 15;
  r.gp.rip = 16;
  for (unsigned i = 0; i <= 16; ++i) {
    INFO(i);
    REQUIRE(r.by_dwarf_number(i));
    CHECK(*r.by_dwarf_number(i) == i);
  }
  CHECK_FALSE(r.by_dwarf_number(17));  // xmm0
  CHECK_FALSE(r.by_dwarf_number(49));  // rflags: not exposed
  CHECK(r.pc().value() == 16);
  CHECK(r.sp().value() == 7);
}

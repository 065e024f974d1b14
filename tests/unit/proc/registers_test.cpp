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

TEST_CASE("the register table maps DWARF numbers, names and user_regs_struct fields", "[proc]") {
  using goscope::proc::gp_register_by_dwarf;
  using goscope::proc::gp_register_by_name;
  using goscope::proc::kGpRegisters;
  static_assert(gp_register_by_dwarf(7)->name == "rsp");
  static_assert(gp_register_by_name("rbx")->dwarf == 3);
  CHECK(gp_register_by_dwarf(17) == nullptr);
  CHECK(gp_register_by_name("eflags") == nullptr);
  CHECK(gp_register_by_name("") == nullptr);
  Registers r;
  for (const auto& reg : kGpRegisters) {
    INFO(reg.name);
    CHECK(gp_register_by_name(reg.name) == &reg);
    CHECK(gp_register_by_dwarf(reg.dwarf) == &reg);
    r.gp.*(reg.field) = 100 + reg.dwarf;
  }
  // Every field is distinct: each register kept the value written through its own row.
  for (const auto& reg : kGpRegisters) CHECK(*r.by_dwarf_number(reg.dwarf) == 100 + reg.dwarf);
  CHECK(r.gp.rbx == 103);
  CHECK(r.gp.rip == 116);
}

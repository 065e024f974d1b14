#pragma once
#include <sys/user.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "proc/addr.hpp"

namespace goscope::proc {

/// One general-purpose register: its System V x86-64 psABI DWARF number, its Intel-syntax
/// name (as Delve spells registers) and where PTRACE_GETREGS puts it in user_regs_struct.
struct GpRegister {
  unsigned dwarf;
  std::string_view name;
  unsigned long long user_regs_struct::*field;
};

/// The one table of the general-purpose registers that have DWARF numbers, indexed by that
/// number (0 rax, 1 rdx, 2 rcx, 3 rbx, 4 rsi, 5 rdi, 6 rbp, 7 rsp, 8-15 r8-r15, 16 rip).
/// Every register-number lookup (DWARF expressions, call injection, the evaluator's
/// register names, disassembly operands) reads this table.
inline constexpr std::array<GpRegister, 17> kGpRegisters{{
    {0, "rax", &user_regs_struct::rax},
    {1, "rdx", &user_regs_struct::rdx},
    {2, "rcx", &user_regs_struct::rcx},
    {3, "rbx", &user_regs_struct::rbx},
    {4, "rsi", &user_regs_struct::rsi},
    {5, "rdi", &user_regs_struct::rdi},
    {6, "rbp", &user_regs_struct::rbp},
    {7, "rsp", &user_regs_struct::rsp},
    {8, "r8", &user_regs_struct::r8},
    {9, "r9", &user_regs_struct::r9},
    {10, "r10", &user_regs_struct::r10},
    {11, "r11", &user_regs_struct::r11},
    {12, "r12", &user_regs_struct::r12},
    {13, "r13", &user_regs_struct::r13},
    {14, "r14", &user_regs_struct::r14},
    {15, "r15", &user_regs_struct::r15},
    {16, "rip", &user_regs_struct::rip},
}};

/// The register with DWARF number `regno`, or nullptr (vector registers, rflags and the
/// segment registers are not in the table).
constexpr const GpRegister* gp_register_by_dwarf(unsigned regno) {
  return regno < kGpRegisters.size() ? &kGpRegisters[regno] : nullptr;
}

/// The register named `name` ("rax" ... "r15", "rip"), or nullptr.
constexpr const GpRegister* gp_register_by_name(std::string_view name) {
  for (const GpRegister& r : kGpRegisters) {
    if (r.name == name)
      return &r;
  }
  return nullptr;
}

/// The general-purpose registers of one thread (x86-64), as PTRACE_GETREGS returns them.
struct Registers {
  user_regs_struct gp{};

  VirtAddr pc() const { return VirtAddr(gp.rip); }
  void set_pc(VirtAddr a) { gp.rip = a.value(); }
  VirtAddr sp() const { return VirtAddr(gp.rsp); }

  /// Register by its psABI DWARF number (kGpRegisters). nullopt for numbers outside that
  /// set (vector registers are not part of this struct).
  std::optional<std::uint64_t> by_dwarf_number(unsigned regno) const;
};

}  // namespace goscope::proc

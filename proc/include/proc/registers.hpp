#pragma once
#include <sys/user.h>

#include <cstdint>
#include <optional>

#include "proc/addr.hpp"

namespace goscope::proc {

/// The general-purpose registers of one thread (x86-64), as PTRACE_GETREGS returns them.
struct Registers {
  user_regs_struct gp{};

  VirtAddr pc() const { return VirtAddr(gp.rip); }
  void set_pc(VirtAddr a) { gp.rip = a.value(); }
  VirtAddr sp() const { return VirtAddr(gp.rsp); }

  /// Register by its System V x86-64 psABI DWARF number (0 rax, 1 rdx, 2 rcx, 3 rbx, 4 rsi,
  /// 5 rdi, 6 rbp, 7 rsp, 8-15 r8-r15, 16 rip). nullopt for numbers outside that set
  /// (vector registers are not part of this struct).
  std::optional<std::uint64_t> by_dwarf_number(unsigned regno) const;
};

}  // namespace goscope::proc

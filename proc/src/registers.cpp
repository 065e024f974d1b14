#include "proc/registers.hpp"

namespace goscope::proc {

std::optional<std::uint64_t> Registers::by_dwarf_number(unsigned regno) const {
  switch (regno) {
    case 0:
      return gp.rax;
    case 1:
      return gp.rdx;
    case 2:
      return gp.rcx;
    case 3:
      return gp.rbx;
    case 4:
      return gp.rsi;
    case 5:
      return gp.rdi;
    case 6:
      return gp.rbp;
    case 7:
      return gp.rsp;
    case 8:
      return gp.r8;
    case 9:
      return gp.r9;
    case 10:
      return gp.r10;
    case 11:
      return gp.r11;
    case 12:
      return gp.r12;
    case 13:
      return gp.r13;
    case 14:
      return gp.r14;
    case 15:
      return gp.r15;
    case 16:
      return gp.rip;
    default:
      return std::nullopt;
  }
}

}  // namespace goscope::proc

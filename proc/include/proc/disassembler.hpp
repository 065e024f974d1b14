#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "proc/addr.hpp"

namespace goscope::proc {

/// One decoded instruction.
struct Instruction {
  VirtAddr address;
  std::uint8_t length = 0;
  bool is_ret = false;
  bool is_call = false;
  /// Absolute target of a direct (rel32/rel8) call or jump; 0 when indirect or not a branch.
  std::uint64_t branch_target = 0;
  /// Any jump, conditional jump or call (direct or not).
  bool is_branch = false;
  /// Runs the same at any address and only falls through: no branch, call, return,
  /// rip-relative operand, system call or interrupt. Such instructions can be copied into a
  /// trampoline as they are.
  bool relocatable = false;
  std::string text;  ///< Intel syntax, for diagnostics and the disassemble command.
};

/// Decodes a function's code without touching a process, so it is unit-testable on byte
/// arrays. Bytes must be the original code (no int3 patched in).
std::vector<Instruction> disassemble(std::span<const std::byte> code, VirtAddr base);

/// Addresses of every RET instruction in `code`.
std::vector<VirtAddr> find_returns(std::span<const std::byte> code, VirtAddr base);

/// Addresses of every direct CALL whose target is `callee`.
std::vector<VirtAddr> find_calls_to(std::span<const std::byte> code, VirtAddr base,
                                    VirtAddr callee);

}  // namespace goscope::proc

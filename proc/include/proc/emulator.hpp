#pragma once
#include <sys/user.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "proc/addr.hpp"

namespace goscope::proc {

/// The memory an emulated instruction reads and writes: the tracee's, or a test double.
class EmulatorMemory {
 public:
  virtual ~EmulatorMemory() = default;
  /// Returns false when the range cannot be read (the real instruction would fault).
  virtual bool read(std::uint64_t addr, std::span<std::byte> out) = 0;
  /// Returns false when the range cannot be written.
  virtual bool write(std::uint64_t addr, std::span<const std::byte> data) = 0;
};

/// One x86-64 instruction decoded for execution in software.
///
/// This is how a thread steps over one of our breakpoints without the trap being removed
/// (which would let other, running threads through it): the instruction the int3 displaced
/// is executed here against the thread's registers and memory, and the thread continues at
/// the next instruction. The supported set covers what Go puts at function entries and
/// return sites, plus the common integer forms: mov/movzx/movsx/movsxd/lea, add/sub/cmp/
/// and/or/xor/test/inc/dec, 2- and 3-operand imul (flags computed by running the same
/// operation natively), push/
/// pop, call/ret/jmp (direct and indirect), jcc, nop/endbr64. Anything else (lock prefixes,
/// SSE, string ops, syscalls, ...) is rejected by decode() and must be single-stepped.
class EmulatedInstruction {
 public:
  /// Decodes the instruction at the start of `code` (the original bytes, no int3), located
  /// at `address`. nullopt when it does not decode or is not in the supported set.
  static std::optional<EmulatedInstruction> decode(std::span<const std::byte> code,
                                                   VirtAddr address);

  VirtAddr address() const { return VirtAddr(address_); }
  std::uint8_t length() const { return length_; }

  /// Executes the instruction: updates `regs` (rip included) and memory through `mem`.
  /// All-or-nothing: returns false with `regs` untouched and nothing written when a memory
  /// access fails, so the caller can fall back to real execution (which then faults).
  bool execute(user_regs_struct& regs, EmulatorMemory& mem) const;

 private:
  enum class Op : std::uint8_t {
    nop,
    mov,
    movzx,
    movsx,
    lea,
    add,
    sub,
    cmp,
    and_,
    or_,
    xor_,
    test,
    inc,
    dec,
    imul,
    push,
    pop,
    call,
    ret,
    jmp,
    jcc,
  };
  struct Operand {
    enum class Kind : std::uint8_t { none, reg, mem, imm };
    Kind kind = Kind::none;
    std::uint8_t size = 0;  // bytes: 1, 2, 4 or 8
    // reg: general-purpose register in encoding order (0 rax, 1 rcx, ... 15 r15).
    std::uint8_t reg = 0;
    bool high8 = false;  // ah, ch, dh, bh
    // mem: base/index in encoding order, 16 = rip, 0xff = none; segment 0 none, 1 fs, 2 gs.
    std::uint8_t base = 0xff;
    std::uint8_t index = 0xff;
    std::uint8_t scale = 0;
    std::uint8_t segment = 0;
    std::int64_t disp = 0;
    // imm (sign-extended); also the absolute target of a relative branch.
    std::uint64_t imm = 0;
  };

  EmulatedInstruction() = default;
  static std::optional<Operand> convert_operand(const void* zydis_operand);
  std::uint64_t effective_address(const Operand& op, const user_regs_struct& regs) const;

  std::uint64_t address_ = 0;
  std::uint8_t length_ = 0;
  Op op_ = Op::nop;
  std::uint8_t cond_ = 0;  // jcc condition in encoding order (0 o, 1 no, 2 b, ... 15 g)
  std::uint8_t operand_count_ = 0;
  Operand ops_[3];
};

}  // namespace goscope::proc

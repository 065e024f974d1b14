#pragma once
// What the two halves of the disassembler share (proc/src only): the instruction as the
// printers see it (asm_format.cpp prints it in Delve's three syntaxes) and as
// asm_decode.cpp builds it from Zydis, following x86asm's decoding rules.
#include <Zydis/Zydis.h>

#include <cstdint>
#include <string>
#include <vector>

#include "proc/asm_format.hpp"

namespace goscope::proc::asm_detail {

// ---------------------------------------------------------------------------------------
// Our view of an instruction: the mnemonic and the operands Delve shows, in Intel order.

enum class ArgKind { reg, mem, imm, target };

struct Arg {
  ArgKind kind = ArgKind::imm;
  ZydisRegister reg = ZYDIS_REGISTER_NONE;
  // memory
  ZydisRegister seg = ZYDIS_REGISTER_NONE, base = ZYDIS_REGISTER_NONE, index = ZYDIS_REGISTER_NONE;
  int scale = 0;
  std::int64_t disp = 0;
  bool agen = false;  ///< lea: an address, no access
  bool explicit_seg = false;
  bool disp32 = false;        ///< displacement encoded on 32 bits (printed unsigned, as Delve)
  bool sib_no_index = false;  ///< a SIB byte without index (GNU prints %riz)
  bool hidden = false;        ///< an x87 st0 only Intel syntax prints
  bool implicit = false;      ///< not encoded in ModRM/immediate (accumulator, shift count 1...)
  // immediate / target
  std::uint64_t imm = 0;
  bool imm_signed = false;
  int size = 0;  ///< operand size in bits
};

struct Insn {
  const ZydisDecodedInstruction* z = nullptr;
  ZydisMnemonic mn = ZYDIS_MNEMONIC_INVALID;
  std::vector<Arg> args;  ///< Intel order
  std::uint64_t pc = 0;
  std::uint64_t next = 0;  ///< pc + length
  bool lock = false, rep = false, repne = false;
  bool cs = false;  ///< a CS override on a memory operand
  bool hint_taken = false, hint_not_taken = false;
  bool far_ret = false;
  int opsize = 0;     ///< operand size in bits (Zydis' operand_width)
  int mem_bytes = 0;  ///< size of the memory operand, if any
  /// Decoded after a VEX prefix Delve does not know (x86asm reads the rest as a legacy
  /// instruction): its GNU and Go printers leave out the legacy prefixes that follow.
  bool after_vex = false;
  bool bnd = false;  ///< an F2 (BND) before a branch: Intel syntax prints "bnd"
  bool ignored_rep = false, ignored_repne = false;  ///< F3/F2 without effect on it
  std::uint8_t rex = 0;                             ///< the REX byte, 0 when there is none
  bool rex_used = true;  ///< every bit of the REX extends something (x86asm's rexUsed)
};

const ZydisDecoder& zydis();
std::string upper(std::string s);
/// Our view of a Zydis decoding; false when Delve would not print it.
bool build(const ZydisDecodedInstruction& z, const ZydisDecodedOperand* ops, std::uint64_t pc,
           Insn& out);
std::string intel_text(const Insn& in, const AsmSymbolLookup& lookup);
std::string gnu_text(const Insn& in, const AsmSymbolLookup& lookup);
std::string go_text(const Insn& in, const AsmSymbolLookup& lookup);
std::string intel_reg(ZydisRegister r);

}  // namespace goscope::proc::asm_detail

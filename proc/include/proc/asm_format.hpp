#pragma once
// Disassembly as Delve prints it in the three syntaxes of its RPCServer.Disassemble (GNU/AT&T,
// Intel, Go/Plan 9). Instructions are decoded with Zydis; the text is our own formatting,
// modelled on the output of dlv 1.20.2 (observed behaviour, compared instruction by
// instruction against dlv on Go binaries), including its quirks: 32-bit displacements
// printed unsigned, relative branch targets printed as absolute addresses or names, "?" for
// an undecodable byte. Knows nothing of DWARF: names come from a callback.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace goscope::proc {

/// The values are Delve's api.AssemblyFlavour / proc.AssemblyFlavour on the wire.
enum class AsmSyntax { gnu = 0, intel = 1, go = 2 };

/// What a symbol lookup returns for an address: the name of the symbol that contains it
/// ("" when none) and the symbol's start (printed as name+offset when they differ).
struct AsmSymbol {
  std::string name;
  std::uint64_t base = 0;
};
using AsmSymbolLookup = std::function<AsmSymbol(std::uint64_t addr)>;

/// Delve's proc.AsmInstructionKind.
enum class AsmKind { other, call, ret, jmp, hard_break };

/// An operand a CALL/JMP reads its target from (Delve resolves it at the current pc only).
struct AsmIndirectTarget {
  /// Register names as the Intel syntax prints them ("rax", "r11d"); empty if absent.
  std::string reg;         ///< `call rax`: the target is this register's value
  bool is_memory = false;  ///< `call qword ptr [base+index*scale+disp]`
  std::string base, index;
  std::uint8_t scale = 0;
  std::int64_t disp = 0;
  int size = 0;              ///< bytes read at the address
  bool has_segment = false;  ///< Delve gives up on segment-relative operands
};

struct AsmDecoded {
  std::uint64_t pc = 0;
  /// Bytes consumed: the instruction's length, 1 for an undecodable byte.
  std::size_t length = 1;
  /// False when nothing decodes at pc (Delve prints "?" and steps one byte).
  bool valid = false;
  AsmKind kind = AsmKind::other;
  std::string text;
  /// Absolute target of a direct CALL/JMP (not Jcc: Delve's DestLoc is only for those).
  std::optional<std::uint64_t> direct_target;
  std::optional<AsmIndirectTarget> indirect_target;
};

/// Decodes the instruction at the start of `code` (at address `pc`) as Delve does
/// (pc-relative branch operands made absolute) and prints it in `syntax`.
/// `lookup` may be empty (no names).
AsmDecoded decode_instruction(std::span<const std::byte> code, std::uint64_t pc, AsmSyntax syntax,
                              const AsmSymbolLookup& lookup);

/// Decodes `code` (loaded at `pc`) instruction by instruction, as Delve's disassemble loop.
std::vector<AsmDecoded> decode_instructions(std::span<const std::byte> code, std::uint64_t pc,
                                            AsmSyntax syntax, const AsmSymbolLookup& lookup);

}  // namespace goscope::proc

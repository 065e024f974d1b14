#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace goscope::dwarf {

/// Where (part of) a value lives, the result of evaluating a DWARF location description.
struct Piece {
  enum class Kind { memory, reg, value, implicit, empty };
  Kind kind = Kind::empty;
  std::uint64_t address = 0;     ///< memory
  unsigned regno = 0;            ///< reg (DWARF register number)
  std::uint64_t value = 0;       ///< value (DW_OP_stack_value)
  std::vector<std::byte> bytes;  ///< implicit (DW_OP_implicit_value)
  std::uint64_t size = 0;        ///< DW_OP_piece size in bytes; 0 = whole value (no pieces)
};

/// The process state the evaluator may look at, supplied by the caller so this code never
/// touches a process (unit-testable on byte arrays).
struct ExprContext {
  std::function<std::optional<std::uint64_t>(unsigned regno)> read_register;
  std::function<bool(std::uint64_t addr, std::span<std::byte> out)> read_memory;
  std::optional<std::uint64_t> frame_base;  ///< DW_AT_frame_base value (for DW_OP_fbreg)
  std::optional<std::uint64_t> cfa;         ///< for DW_OP_call_frame_cfa
  /// Added to DW_OP_addr operands: the load bias of a PIE (0 for a fixed-address binary).
  std::uint64_t static_base = 0;
};

/// Evaluates a DWARF location expression. An empty expression yields no pieces. Throws
/// dwarf::Error on malformed or unsupported ops, with the op named ("empty OP stack", ...).
std::vector<Piece> evaluate_location(std::span<const std::byte> expr, const ExprContext& ctx);

/// Delve's op.PrettyPrint with amd64 register names (regnum.AMD64ToName): each op's name
/// (register ops followed by "(Rax)" and so on) and its operands in Go's %#x, each followed
/// by a space: "DW_OP_fbreg -0x18 ", "DW_OP_reg0(Rax) DW_OP_piece 0x8 ". Unknown opcodes
/// print as "0xNN "; truncated operands read as 0, as Delve reads them.
std::string pretty_print_location(std::span<const std::byte> expr);

/// Delve's amd64 name of DWARF register `regno` ("Rax", "XMM0", "unknown99").
std::string amd64_register_name(std::uint64_t regno);

}  // namespace goscope::dwarf

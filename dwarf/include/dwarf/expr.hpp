#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
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

}  // namespace goscope::dwarf

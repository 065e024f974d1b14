#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "dwarf/file_addr.hpp"

namespace goscope::dwarf {

/// How to recover one register of the caller (DWARF call frame information).
struct RegisterRule {
  enum class Kind {
    undefined,   ///< not recoverable
    same_value,  ///< unchanged in this frame
    offset,      ///< saved at CFA + offset
    val_offset,  ///< the value is CFA + offset
    reg,         ///< held in register `regno`
  };
  Kind kind = Kind::undefined;
  std::int64_t offset = 0;
  unsigned regno = 0;
};

/// The unwind rules in force at one pc: CFA = register(cfa_register) + cfa_offset.
struct FrameRow {
  FileAddr fde_low, fde_high;  ///< the FDE (function) these rules came from
  unsigned cfa_register = 7;   ///< DWARF register number (x86-64: 7 = rsp, 6 = rbp)
  std::int64_t cfa_offset = 0;
  unsigned return_address_column = 16;  ///< x86-64: 16 = rip
  /// Rules for registers that have one; the others are `same_value` for callee-saved
  /// registers by convention (Go saves none but rbp).
  std::vector<std::pair<unsigned, RegisterRule>> registers;

  /// The rule for `regno`; `undefined` when none was given.
  RegisterRule rule(unsigned regno) const;
  /// Where the return address is: normally saved at CFA-8.
  RegisterRule return_address() const { return rule(return_address_column); }
};

/// The CIEs/FDEs of .debug_frame (what Go emits), indexed by address when built; the rules
/// for a pc are computed on demand by running the FDE's instructions.
class FrameTable {
 public:
  FrameTable() = default;
  /// Parses the FDE index of a .debug_frame section. Throws dwarf::Error on malformed data.
  /// The bytes must outlive the table.
  static FrameTable parse(std::span<const std::byte> debug_frame);

  /// The unwind rules at `pc`; nullopt if no FDE covers it.
  std::optional<FrameRow> row_at(FileAddr pc) const;
  bool empty() const { return fdes_.empty(); }

 private:
  struct Cie {
    std::uint64_t code_align = 1;
    std::int64_t data_align = 1;
    unsigned ra_column = 16;
    std::span<const std::byte> instructions;
  };
  struct Fde {
    FileAddr low, high;
    std::size_t cie;
    std::span<const std::byte> instructions;
  };
  std::vector<Cie> cies_;
  std::vector<Fde> fdes_;  // sorted by low
};

}  // namespace goscope::dwarf

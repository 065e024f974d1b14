#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "dwarf/debug_info.hpp"
#include "target/variable.hpp"

namespace goscope::target {

class BinaryInfo;

/// Reads tracee memory for the loader; returns false when the range is unreadable.
using MemoryFn = std::function<bool(std::uint64_t addr, std::span<std::byte> out)>;
/// Reads a register by DWARF number (0-16 general purpose, 17-32 xmm0-15 low 8 bytes).
using RegisterFn = std::function<std::optional<std::uint64_t>(unsigned regno)>;

/// Builds Delve-shaped Variables from DWARF types and tracee memory, following Delve's
/// loading rules (LoadConfig limits, recursion levels, interface dynamic types).
class ValueLoader {
 public:
  ValueLoader(const BinaryInfo& bi, MemoryFn mem) : bi_(bi), mem_(std::move(mem)) {}

  /// A value of type `type` stored at `addr`.
  Variable load(std::string name, const dwarf::Type* type, std::uint64_t addr,
                const LoadConfig& cfg);

  /// A function parameter/result/local at `pc`, its location evaluated with `regs` and
  /// `cfa` (the canonical frame address, which is also Go's frame base).
  Variable load_variable(const dwarf::Variable& var, std::uint64_t pc, std::uint64_t cfa,
                         const RegisterFn& regs, const LoadConfig& cfg);

 private:
  bool read(std::uint64_t addr, std::span<std::byte> out);
  template <class T>
  std::optional<T> read_as(std::uint64_t addr);
  void load_value(Variable& v, const dwarf::Type* type, int recurse, const LoadConfig& cfg);
  void load_interface(Variable& v, const dwarf::Type* real, int recurse, const LoadConfig& cfg);
  std::string function_name_at(std::uint64_t pc) const;

  const BinaryInfo& bi_;
  MemoryFn mem_;
  /// Values assembled from registers/pieces live at a fake address (Delve does the same,
  /// flag FakeAddress) so that nested loads read them like memory.
  std::uint64_t overlay_base_ = 0;
  std::vector<std::byte> overlay_;
};

/// Go's strconv.FormatFloat(f, 'f', -1, bits): shortest round-trip digits, no exponent.
std::string format_go_float(double f, int bits);

}  // namespace goscope::target

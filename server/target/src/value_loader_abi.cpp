// Go's internal register ABI on amd64 (abi-internal.md): which registers a function's
// results occupy after it returns, and loading a result from them.
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <vector>

#include "target/value_loader.hpp"

namespace goscope::target {

using dwarf::GoKind;

namespace {

// Go's register ABI on amd64 (abi-internal.md): integer registers in assignment order,
// as DWARF numbers: RAX, RBX, RCX, RDI, RSI, R8, R9, R10, R11.
constexpr std::array<unsigned, 9> kAbiIntRegs{0, 3, 2, 5, 4, 8, 9, 10, 11};
constexpr unsigned kAbiFloatRegs = 15;  // X0-X14
constexpr unsigned kDwarfXmm0 = 17;

// Register assignment of one value (abi-internal.md "Function call argument and result
// passing"): appends to `words` (int) or `floats` the register slots it takes; false if it
// cannot be register-assigned (then the whole value goes to the stack).
struct AbiSlot {
  bool is_float = false;
  unsigned size = 0;         // bytes of this slot (1-8)
  std::uint64_t offset = 0;  // offset in the value
};

bool abi_assign(const dwarf::Type* t, std::uint64_t offset, std::vector<AbiSlot>& out) {
  if (!t)
    return false;
  const dwarf::Type* r = t->resolved();
  switch (r->kind) {
    case GoKind::bool_:
    case GoKind::int_:
    case GoKind::int8:
    case GoKind::int16:
    case GoKind::int32:
    case GoKind::int64:
    case GoKind::uint:
    case GoKind::uint8:
    case GoKind::uint16:
    case GoKind::uint32:
    case GoKind::uint64:
    case GoKind::uintptr:
    case GoKind::ptr:
    case GoKind::unsafe_pointer:
    case GoKind::map:
    case GoKind::chan:
    case GoKind::func:
      out.push_back({false, static_cast<unsigned>(r->size ? r->size : 8), offset});
      return true;
    case GoKind::float32:
    case GoKind::float64:
      out.push_back({true, static_cast<unsigned>(r->size), offset});
      return true;
    case GoKind::complex64:
    case GoKind::complex128: {
      const unsigned half = static_cast<unsigned>(r->size / 2);
      out.push_back({true, half, offset});
      out.push_back({true, half, offset + half});
      return true;
    }
    case GoKind::string:
      out.push_back({false, 8, offset});
      out.push_back({false, 8, offset + 8});
      return true;
    case GoKind::slice:
      for (int i = 0; i < 3; ++i) out.push_back({false, 8, offset + 8 * i});
      return true;
    case GoKind::interface:
      out.push_back({false, 8, offset});
      out.push_back({false, 8, offset + 8});
      return true;
    case GoKind::array:
      if (r->count == 0)
        return true;
      if (r->count == 1)
        return abi_assign(r->elem, offset, out);
      return false;  // arrays of length > 1 are never register-assigned
    case GoKind::struct_:
      for (const auto& f : r->fields) {
        if (!abi_assign(f.type, offset + f.offset, out))
          return false;
      }
      return true;
    default:
      return false;
  }
}

}  // namespace

std::optional<std::vector<AbiPiece>> abi_result_registers(const dwarf::Function& fn,
                                                          const dwarf::Variable& result) {
  // Results are assigned registers afresh, from RAX and X0, in declaration order; a result
  // that does not fit takes no registers and goes to the stack.
  std::size_t next_int = 0, next_float = 0;
  for (const auto& p : fn.params) {
    if (!p.is_result)
      continue;
    std::vector<AbiSlot> slots;
    const bool ok = abi_assign(p.type, 0, slots);
    std::size_t ints = 0, floats = 0;
    for (const auto& s : slots) (s.is_float ? floats : ints)++;
    const bool fits =
        ok && next_int + ints <= kAbiIntRegs.size() && next_float + floats <= kAbiFloatRegs;
    if (&p != &result) {
      if (fits) {
        next_int += ints;
        next_float += floats;
      }
      continue;
    }
    if (!fits || !p.type)
      return std::nullopt;
    std::vector<AbiPiece> pieces;
    for (const auto& s : slots) {
      const unsigned regno =
          s.is_float ? kDwarfXmm0 + static_cast<unsigned>(next_float++) : kAbiIntRegs[next_int++];
      pieces.push_back({regno, s.offset, s.size});
    }
    return pieces;
  }
  return std::nullopt;
}

std::optional<Variable> ValueLoader::load_result_from_abi_registers(const dwarf::Function& fn,
                                                                    const dwarf::Variable& result,
                                                                    const RegisterFn& regs,
                                                                    const LoadConfig& cfg) {
  auto pieces = abi_result_registers(fn, result);
  if (!pieces || !result.type)
    return std::nullopt;
  std::vector<std::byte> bytes(std::max<std::uint64_t>(result.type->resolved()->size, 8));
  for (const auto& s : *pieces) {
    auto val = regs(s.regno);
    if (!val)
      return std::nullopt;
    std::memcpy(bytes.data() + s.offset, &*val, std::min<unsigned>(s.size, 8));
  }
  Variable v;
  v.name = result.name;
  v.flags = kFlagReturnArgument | kFlagFakeAddress;
  v.decl_line = result.decl_line;
  v.addr = add_fake(std::move(bytes));
  load_value(v, result.type, 0, cfg);
  return v;
}

}  // namespace goscope::target

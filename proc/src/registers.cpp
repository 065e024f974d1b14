#include "proc/registers.hpp"

namespace goscope::proc {

// The table's order is its index: a wrong row would silently read the wrong register.
static_assert([] {
  for (unsigned i = 0; i < kGpRegisters.size(); ++i) {
    if (kGpRegisters[i].dwarf != i)
      return false;
  }
  return true;
}());

std::optional<std::uint64_t> Registers::by_dwarf_number(unsigned regno) const {
  if (const GpRegister* r = gp_register_by_dwarf(regno))
    return gp.*(r->field);
  return std::nullopt;
}

}  // namespace goscope::proc

#include "target/variable_visibility.hpp"

#include "target/binary_info.hpp"

namespace goscope::target {

bool visible_at_line(const dwarf::Variable& v, std::uint32_t line) {
  if (v.decl_line == 0)
    return true;
  const std::uint32_t from = v.is_parameter ? v.decl_line : v.decl_line + 1;
  return line >= from;
}

std::vector<const dwarf::Variable*> traced_variables(const BinaryInfo& bi,
                                                     const dwarf::Function& fn,
                                                     const dwarf::InlinedCall* inlined,
                                                     bool is_return, std::uint64_t pc) {
  const auto& lines = bi.debug().lines();
  dwarf::FileAddr at = bi.to_file(proc::VirtAddr(pc));
  if (!inlined && !is_return)
    at = lines.prologue_end(fn.low_pc, fn.high_pc).value_or(fn.low_pc);
  // No line (Delve's PCToLine answers 0): only variables without a declaration line show.
  const auto loc = lines.find(at);
  const std::uint32_t line = loc ? loc->line : 0;
  std::vector<const dwarf::Variable*> out;
  for (const auto& p : inlined ? inlined->params : fn.params) {
    if (p.is_result == is_return && visible_at_line(p, line))
      out.push_back(&p);
  }
  return out;
}

}  // namespace goscope::target

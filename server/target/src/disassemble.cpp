#include "target/disassemble.hpp"

#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include "proc/process.hpp"

namespace goscope::target {

namespace {

std::string hex(std::uint64_t v, bool prefix) {
  char buf[32];
  std::snprintf(buf, sizeof buf, prefix ? "%#llx" : "%llx", static_cast<unsigned long long>(v));
  if (prefix && v == 0)
    return "0x0";
  return buf;
}

}  // namespace

AsmSymbols::AsmSymbols(const BinaryInfo& bi) : bi_(&bi) {
  const std::uint64_t bias = bi.load_bias();
  for (const auto& cu : bi.debug().compile_units()) units_.emplace_back(cu.offset, cu.is_go);
  std::sort(units_.begin(), units_.end());
  for (const auto& s : bi.elf().symbols())
    if (s.is_function)
      funcs_.emplace_back(s.addr.value() + bias, s.name);
  // Delve keeps the last symbol of an address (a map assignment in symbol-table order).
  std::stable_sort(funcs_.begin(), funcs_.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& name : bi.debug().global_names()) {
    const dwarf::Variable* v = bi.debug().find_global(name);
    if (!v)
      continue;
    std::uint64_t addr = 0;
    const auto& e = v->location.expr;
    if (!v->location.is_list && e.size() == 9 && static_cast<std::uint8_t>(e[0]) == 0x03) {
      for (int i = 8; i >= 1; i--)
        addr = addr << 8 | static_cast<std::uint8_t>(e[static_cast<std::size_t>(i)]);
    }
    // Delve names the variables of C compile units C.<name>; Go's are package-qualified.
    vars_.emplace_back(addr + bias, name);
  }
  std::stable_sort(vars_.begin(), vars_.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
}

bool AsmSymbols::from_go_unit(std::uint64_t die_offset) const {
  auto it = std::upper_bound(units_.begin(), units_.end(), die_offset,
                             [](std::uint64_t off, const auto& u) { return off < u.first; });
  return it == units_.begin() || std::prev(it)->second;
}

proc::AsmSymbol AsmSymbols::lookup(std::uint64_t addr) const {
  if (const dwarf::Function* fn = bi_->function_at(proc::VirtAddr(addr))) {
    std::uint64_t entry = bi_->to_virt(fn->low_pc).value();
    if (entry == addr)
      return {from_go_unit(fn->die_offset) ? fn->name : "C." + fn->name, entry};
    return {};
  }
  auto f = std::upper_bound(funcs_.begin(), funcs_.end(), addr,
                            [](std::uint64_t a, const auto& p) { return a < p.first; });
  if (f != funcs_.begin() && std::prev(f)->first == addr)
    return {std::prev(f)->second, addr};
  // sort.Search: the first variable at or above addr.
  auto it = std::lower_bound(vars_.begin(), vars_.end(), addr,
                             [](const auto& p, std::uint64_t a) { return p.first < a; });
  if (it == vars_.end())
    return {};
  if (it->first > addr) {
    if (it == vars_.begin())
      return {};
    --it;
  }
  if (it->first != 0)
    return {it->second, it->first};
  return {};
}

std::vector<AsmInstruction> disassemble_bytes(const AsmSymbols& symbols,
                                              std::span<const std::byte> code, std::uint64_t start,
                                              AsmFlavour flavour) {
  proc::AsmSymbolLookup lookup = [&symbols](std::uint64_t a) { return symbols.lookup(a); };
  std::vector<AsmInstruction> out;
  std::size_t off = 0;
  while (off < code.size()) {
    proc::AsmDecoded d = proc::decode_instruction(code.subspan(off), start + off,
                                                  static_cast<proc::AsmSyntax>(flavour), lookup);
    std::size_t n = std::min(d.length, code.size() - off);
    AsmInstruction insn;
    insn.pc = start + off;
    insn.bytes.assign(code.begin() + static_cast<std::ptrdiff_t>(off),
                      code.begin() + static_cast<std::ptrdiff_t>(off + n));
    insn.text = std::move(d.text);
    insn.dest = d.direct_target;
    insn.kind = d.kind;
    insn.indirect = std::move(d.indirect_target);
    out.push_back(std::move(insn));
    off += n;
  }
  return out;
}

std::vector<AsmInstruction> disassemble(const BinaryInfo& bi, const AsmSymbols& symbols,
                                        proc::Process& process, std::uint64_t start,
                                        std::uint64_t end, AsmFlavour flavour) {
  if (end == 0) {
    const dwarf::Function* fn = bi.function_at(proc::VirtAddr(start));
    if (!fn)
      throw std::runtime_error("address " + hex(start, true) + " does not belong to any function");
    start = bi.to_virt(fn->low_pc).value();
    end = bi.to_virt(fn->high_pc).value();
  }
  if (start > end)
    throw std::runtime_error("start address(" + hex(start, false) +
                             ") should be less than end address(" + hex(end, false) + ")");
  // A client names the range: bound it before allocating (a function's code is far
  // smaller; the listing of this much is already tens of megabytes of JSON).
  if (end - start > kMaxDisassembleBytes)
    throw std::runtime_error("disassemble range too large: " + std::to_string(end - start) +
                             " bytes (at most " + std::to_string(kMaxDisassembleBytes) + ")");
  std::vector<std::byte> code(end - start);
  if (!code.empty())
    process.read_memory(proc::VirtAddr(start), code);
  return disassemble_bytes(symbols, code, start, flavour);
}

std::vector<AsmInstruction> disassemble(const BinaryInfo& bi, proc::Process& process,
                                        std::uint64_t start, std::uint64_t end,
                                        AsmFlavour flavour) {
  AsmSymbols symbols(bi);
  return disassemble(bi, symbols, process, start, end, flavour);
}

}  // namespace goscope::target

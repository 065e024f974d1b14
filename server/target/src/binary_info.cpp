#include "target/binary_info.hpp"

#include <elf.h>

#include <fstream>

#include "dwarf/error.hpp"
#include "proc/disassembler.hpp"

namespace goscope::target {

std::unique_ptr<BinaryInfo> BinaryInfo::load(const std::string& path) {
  std::unique_ptr<BinaryInfo> bi(new BinaryInfo());
  bi->path_ = path;
  try {
    bi->elf_ = dwarf::ElfFile::open(path);
    if (!bi->elf_->is_go())
      throw BinaryError(path + ": not a Go executable");
    bi->debug_ = dwarf::DebugInfo::load(*bi->elf_);
  } catch (const dwarf::Error& e) {
    throw BinaryError(e.what());
  }
  const dwarf::Type* g = bi->debug_->find_type("runtime.g");
  const dwarf::Field* goid = g ? g->resolved()->field("goid") : nullptr;
  if (!goid)
    throw BinaryError(path + ": DWARF has no runtime.g.goid (unsupported Go version?)");
  bi->goid_offset_ = goid->offset;
  if (const auto* sg = g->resolved()->field("stackguard0"))
    bi->stackguard0_offset_ = sg->offset;
  const dwarf::Type* m = bi->debug_->find_type("runtime.m");
  const dwarf::Field* g_m = g->resolved()->field("m");
  const dwarf::Field* curg = m ? m->resolved()->field("curg") : nullptr;
  if (!g_m || !curg)
    throw BinaryError(path + ": DWARF has no runtime.g.m / runtime.m.curg");
  bi->g_m_offset_ = g_m->offset;
  if (const auto* stack = g->resolved()->field("stack"); stack && stack->type) {
    if (const auto* hi = stack->type->resolved()->field("hi")) {
      bi->stack_hi_offset_ = stack->offset + hi->offset;
    }
  }
  bi->m_curg_offset_ = curg->offset;
  if (const auto* fn = bi->debug_->find_function("runtime.deferreturn")) {
    bi->deferreturn_ = bi->to_virt(fn->low_pc);
  }
  return bi;
}

void BinaryInfo::relocate_for(pid_t pid) {
  if (!elf_->is_pie()) {
    bias_ = 0;
    return;
  }
  const std::string path = "/proc/" + std::to_string(pid) + "/auxv";
  std::ifstream auxv(path, std::ios::binary);
  std::uint64_t entry[2];
  while (auxv.read(reinterpret_cast<char*>(entry), sizeof entry)) {
    if (entry[0] == AT_ENTRY) {
      bias_ = entry[1] - elf_->entry().value();
      return;
    }
    if (entry[0] == AT_NULL)
      break;
  }
  throw BinaryError(path + ": no AT_ENTRY (cannot locate the position-independent executable)");
}

std::vector<const dwarf::Function*> BinaryInfo::functions_matching(const GoRegexp& re) const {
  std::vector<const dwarf::Function*> out;
  for (const auto& fn : debug_->functions()) {
    if (re.match(fn.name))
      out.push_back(&fn);
  }
  return out;
}

std::vector<ReturnSite> BinaryInfo::return_sites(const dwarf::Function& fn) const {
  std::vector<ReturnSite> out;
  const auto size = fn.high_pc.value() - fn.low_pc.value();
  auto code = elf_->code_at(fn.low_pc, size);
  if (!code)
    return out;
  const auto base = to_virt(fn.low_pc);
  for (auto a : proc::find_returns(*code, base)) out.push_back({a, false});
  if (deferreturn_) {
    for (auto a : proc::find_calls_to(*code, base, *deferreturn_)) out.push_back({a, true});
  }
  std::sort(out.begin(), out.end(),
            [](const ReturnSite& x, const ReturnSite& y) { return x.addr < y.addr; });
  return out;
}

}  // namespace goscope::target

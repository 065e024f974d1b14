#include "target/disassemble.hpp"

#include <elf.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
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

// The GNU build id of an ELF64 file, as lowercase hex ("" if none or unreadable): the
// NT_GNU_BUILD_ID note of its PT_NOTE segments.
std::string build_id_of(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f)
    return {};
  Elf64_Ehdr eh{};
  if (!f.read(reinterpret_cast<char*>(&eh), sizeof eh) ||
      std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
      eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum > 256)
    return {};
  for (unsigned i = 0; i < eh.e_phnum; ++i) {
    Elf64_Phdr ph{};
    f.seekg(static_cast<std::streamoff>(eh.e_phoff + i * sizeof ph));
    if (!f.read(reinterpret_cast<char*>(&ph), sizeof ph))
      return {};
    if (ph.p_type != PT_NOTE || ph.p_filesz > (1u << 16))
      continue;
    std::string notes(ph.p_filesz, '\0');
    f.seekg(static_cast<std::streamoff>(ph.p_offset));
    if (!f.read(notes.data(), static_cast<std::streamsize>(notes.size())))
      return {};
    std::size_t off = 0;
    while (off + sizeof(Elf64_Nhdr) <= notes.size()) {
      Elf64_Nhdr nh{};
      std::memcpy(&nh, notes.data() + off, sizeof nh);
      const std::size_t name_at = off + sizeof nh;
      const std::size_t desc_at = name_at + ((nh.n_namesz + 3) & ~3u);
      const std::size_t next = desc_at + ((nh.n_descsz + 3) & ~3u);
      if (next > notes.size() || next <= off)
        break;
      if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
          std::memcmp(notes.data() + name_at, "GNU", 4) == 0) {
        std::string hexid;
        for (std::size_t k = 0; k < nh.n_descsz; ++k) {
          char b[3];
          std::snprintf(b, sizeof b, "%02x", static_cast<unsigned char>(notes[desc_at + k]));
          hexid += b;
        }
        return hexid;
      }
      off = next;
    }
  }
  return {};
}

// Whether Delve finds the separate debug information of library `path`
// (/usr/lib/debug/.build-id/NN/REST.debug, where Debian's -dbg packages put it).
bool has_separate_debug_info(const std::string& path) {
  const std::string id = build_id_of(path);
  if (id.size() < 3)
    return false;
  std::error_code ec;
  return std::filesystem::exists(
      "/usr/lib/debug/.build-id/" + id.substr(0, 2) + "/" + id.substr(2) + ".debug", ec);
}

}  // namespace

void AsmSymbols::follow_shared_libraries(pid_t pid) {
  shared_floor_ = 0;
  if (pid <= 0)
    return;
  std::ifstream maps("/proc/" + std::to_string(pid) + "/maps");
  if (!maps)
    return;
  std::string exe;
  {
    char buf[4096];
    const auto n = ::readlink(("/proc/" + std::to_string(pid) + "/exe").c_str(), buf, sizeof buf);
    if (n > 0)
      exe.assign(buf, static_cast<std::size_t>(n));
  }
  std::map<std::string, std::uint64_t> lowest;  // library path -> lowest mapped address
  std::string line;
  while (std::getline(maps, line)) {
    const auto slash = line.find('/');
    if (slash == std::string::npos)
      continue;
    const std::string path = line.substr(slash);
    if (path == exe || path.find(".so") == std::string::npos)
      continue;
    const std::uint64_t start = std::strtoull(line.c_str(), nullptr, 16);
    auto [it, fresh] = lowest.emplace(path, start);
    if (!fresh)
      it->second = std::min(it->second, start);
  }
  // Before the loader has run only the interpreter (ld-linux...) is mapped: Delve's list of
  // loaded libraries is empty then.
  const auto is_interp = [](const std::string& p) {
    return p.compare(p.rfind('/') + 1, 3, "ld-") == 0;
  };
  if (std::all_of(lowest.begin(), lowest.end(), [&](const auto& e) { return is_interp(e.first); }))
    return;
  for (const auto& [path, start] : lowest) {
    // A library's debug file does not come and go while it is mapped: looked up once.
    auto [known, fresh] = separate_debug_.try_emplace(path, false);
    if (fresh)
      known->second = has_separate_debug_info(path);
    if (known->second && (shared_floor_ == 0 || start < shared_floor_))
      shared_floor_ = start;
  }
}

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
  if (it == vars_.end()) {
    // Beyond the Go binary's last variable: Delve's sorted list goes on with the shared
    // libraries' variables, so below the first of them the last Go variable is named.
    if (shared_floor_ != 0 && addr < shared_floor_ && !vars_.empty() && vars_.back().first != 0)
      return {vars_.back().second, vars_.back().first};
    return {};
  }
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

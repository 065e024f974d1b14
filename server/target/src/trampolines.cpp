#include "trampolines.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string_view>

#include "proc/disassembler.hpp"
#include "proc/error.hpp"
#include "proc/inject.hpp"
#include "proc/process.hpp"
#include "target/binary_info.hpp"

namespace goscope::target {
namespace {

constexpr std::size_t kJmpLen = 5;
constexpr std::array<std::byte, 5> kNop5{std::byte{0x0f}, std::byte{0x1f}, std::byte{0x44},
                                         std::byte{0x00}, std::byte{0x00}};
constexpr std::uint64_t k2M = 2u << 20;

// movq [rsp - 8*(k+1)], xmmK for k = 0..14: 66 [44] 0f d6 /r with a disp8 SIB on rsp.
constexpr std::size_t kSpillXmm = 15;
std::vector<std::byte> xmm_spill_code() {
  std::vector<std::byte> out;
  for (unsigned k = 0; k < kSpillXmm; ++k) {
    out.push_back(std::byte{0x66});
    if (k >= 8)
      out.push_back(std::byte{0x44});  // REX.R
    out.push_back(std::byte{0x0f});
    out.push_back(std::byte{0xd6});
    out.push_back(static_cast<std::byte>(0x44 | ((k & 7) << 3)));  // mod 01, reg, rm=SIB
    out.push_back(std::byte{0x24});                                // base rsp, no index
    out.push_back(static_cast<std::byte>(static_cast<std::uint8_t>(-8 * static_cast<int>(k + 1))));
  }
  return out;
}
const std::size_t kSpillBytes = xmm_spill_code().size() + 1;  // + the one-byte nop
// lea rsp, [rsp-8]; mov dword [rsp], imm32; mov dword [rsp+4], imm32; jmp rel32
constexpr std::size_t kCallEmulationLen = 5 + 7 + 8 + kJmpLen;

void put_jmp(std::vector<std::byte>& out, std::uint64_t from, std::uint64_t to) {
  // `from` is the address of the jmp itself.
  const auto rel = static_cast<std::int64_t>(to) - static_cast<std::int64_t>(from + kJmpLen);
  if (rel < INT32_MIN || rel > INT32_MAX)
    throw proc::Error("trampoline out of rel32 reach");
  const auto r = static_cast<std::int32_t>(rel);
  out.push_back(std::byte{0xe9});
  for (int i = 0; i < 4; ++i)
    out.push_back(static_cast<std::byte>((static_cast<std::uint32_t>(r) >> (8 * i)) & 0xff));
}

void put_rel32(std::vector<std::byte>& out, std::uint64_t next, std::uint64_t to) {
  const auto rel = static_cast<std::int64_t>(to) - static_cast<std::int64_t>(next);
  if (rel < INT32_MIN || rel > INT32_MAX)
    throw proc::Error("trampoline out of rel32 reach");
  for (int i = 0; i < 4; ++i)
    out.push_back(static_cast<std::byte>((static_cast<std::uint32_t>(rel) >> (8 * i)) & 0xff));
}

}  // namespace

std::optional<Trampolines::MovedBranch> Trampolines::direct_jump(std::span<const std::byte> at,
                                                                 const proc::Instruction& insn) {
  if (!insn.is_branch || insn.is_call || insn.branch_target == 0 || at.size() < insn.length)
    return std::nullopt;
  const auto b0 = std::to_integer<unsigned>(at[0]);
  MovedBranch b;
  b.length = insn.length;
  b.target = insn.branch_target;
  if (b0 >= 0x70 && b0 <= 0x7f && insn.length == 2) {
    b.cc = static_cast<int>(b0 & 0xf);  // jcc rel8
  } else if (b0 == 0x0f && insn.length == 6 && std::to_integer<unsigned>(at[1]) >= 0x80 &&
             std::to_integer<unsigned>(at[1]) <= 0x8f) {
    b.cc = static_cast<int>(std::to_integer<unsigned>(at[1]) & 0xf);  // jcc rel32
  } else if ((b0 == 0xeb && insn.length == 2) || (b0 == 0xe9 && insn.length == 5)) {
    b.cc = -1;  // jmp
  } else {
    return std::nullopt;  // prefixed, jrcxz, loop: left in place
  }
  return b;
}

std::vector<std::byte> Trampolines::relocated(const Tramp& t, std::uint64_t at) const {
  std::vector<std::byte> out;
  std::size_t from = 0;
  for (const auto& b : t.branches) {
    for (; from < b.offset; ++from) out.push_back(t.moved[from]);
    std::uint64_t target = b.target;
    for (const auto& st : t.stubs)
      if (st.ret == b.target)
        target = base_ + st.offset;
    if (b.cc < 0) {
      out.push_back(std::byte{0xe9});
    } else {
      out.push_back(std::byte{0x0f});
      out.push_back(static_cast<std::byte>(0x80 | b.cc));
    }
    put_rel32(out, at + out.size() + 4, target);
    from += b.length;
  }
  for (; from < t.moved.size(); ++from) out.push_back(t.moved[from]);
  return out;
}

bool Trampolines::shares_entry_state(std::size_t id, proc::VirtAddr addr) const {
  const auto& t = tramps_[id];
  if (t.dropped || t.is_return || t.call_target != 0 || addr.value() <= t.patch_at.value() ||
      addr.value() >= t.patch_at.value() + t.moved.size())
    return false;
  for (const auto& insn : proc::disassemble(t.moved, t.patch_at)) {
    if (insn.address == addr)
      return true;
    if (insn.address.value() > addr.value() ||
        !(insn.text.starts_with("cmp ") || insn.text.starts_with("test ")))
      return false;
  }
  return false;
}

std::size_t Trampolines::add_shared_probe_code(std::size_t id, std::vector<std::byte> code) {
  tramps_[id].shared.push_back(ExtraCode{std::move(code), 0, 0});
  return tramps_[id].shared.size() - 1;
}

std::vector<std::uint64_t> Trampolines::moved_branch_targets(std::size_t id) const {
  std::vector<std::uint64_t> out;
  for (const auto& b : tramps_[id].branches) out.push_back(b.target);
  return out;
}

std::optional<std::size_t> Trampolines::add_ret_stub(std::size_t id, proc::VirtAddr ret,
                                                     std::vector<std::byte> code) {
  auto& t = tramps_[id];
  if (std::none_of(t.branches.begin(), t.branches.end(),
                   [&](const MovedBranch& b) { return b.target == ret.value(); }))
    return std::nullopt;
  auto byte = bi_.elf().code_at(bi_.to_file(ret), 1);
  if (!byte || byte->empty() || (*byte)[0] != std::byte{0xc3})
    return std::nullopt;
  for (std::size_t k = 0; k < t.stubs.size(); ++k) {
    if (t.stubs[k].ret == ret.value()) {
      t.stubs[k].code = std::move(code);
      return k;
    }
  }
  t.stubs.push_back(ExtraCode{std::move(code), 0, ret.value()});
  return t.stubs.size() - 1;
}

const Trampolines::FunctionCode& Trampolines::code_of(const dwarf::Function& fn) {
  if (auto it = code_cache_.find(&fn); it != code_cache_.end())
    return it->second;
  FunctionCode fc;
  const auto size = fn.high_pc.value() - fn.low_pc.value();
  if (auto code = bi_.elf().code_at(fn.low_pc, size)) {
    fc.readable = true;
    fc.bytes.assign(code->begin(), code->end());
    fc.insns = proc::disassemble(*code, bi_.to_virt(fn.low_pc));
    for (const auto& insn : fc.insns) {
      if (insn.branch_target != 0)
        fc.targets.push_back(insn.branch_target);
      else if (insn.is_branch && !insn.is_call)
        fc.indirect_jumps = true;
    }
  } else {
    fc.indirect_jumps = true;  // unknown code: move nothing
  }
  return code_cache_.emplace(&fn, std::move(fc)).first->second;
}

namespace {

// The runtime's own code is left alone: some of it runs in states where an unknown pc is
// fatal (signal handling, stack switches) or is compared with known pcs.
bool movable(const dwarf::Function& fn) {
  return !fn.name.starts_with("runtime.") && !fn.name.starts_with("runtime/") &&
         !fn.name.starts_with("internal/") && !fn.name.starts_with("syscall.");
}

}  // namespace

bool Trampolines::has_float_arguments(const dwarf::Function& fn) {
  auto floaty = [](auto&& self, const dwarf::Type* t, int depth) -> bool {
    if (!t || depth > 8)
      return false;
    const auto* r = t->resolved();
    switch (r->kind) {
      case dwarf::GoKind::float32:
      case dwarf::GoKind::float64:
      case dwarf::GoKind::complex64:
      case dwarf::GoKind::complex128:
        return true;
      case dwarf::GoKind::array:
        return self(self, r->elem, depth + 1);
      case dwarf::GoKind::struct_:
        for (const auto& f : r->fields)
          if (self(self, f.type, depth + 1))
            return true;
        return false;
      default:
        return false;
    }
  };
  for (const auto& p : fn.params)
    if (!p.is_result && floaty(floaty, p.type, 0))
      return true;
  return false;
}

std::optional<std::size_t> Trampolines::add_entry(const dwarf::Function& fn, bool spill_xmm) {
  return add_entry(fn, spill_xmm, bi_.to_virt(fn.low_pc));
}

std::optional<std::size_t> Trampolines::add_entry(const dwarf::Function& fn, bool spill_xmm,
                                                  proc::VirtAddr at) {
  if (!movable(fn))
    return std::nullopt;
  const auto low = bi_.to_virt(fn.low_pc).value();
  const auto high = bi_.to_virt(fn.high_pc).value();
  if (at.value() < low || at.value() >= high)
    return std::nullopt;
  const auto offset = at.value() - low;
  auto code = bi_.elf().code_at(dwarf::FileAddr(fn.low_pc.value() + offset),
                                std::min<std::uint64_t>(high - at.value(), 32));
  if (!code)
    return std::nullopt;
  std::size_t len = 0;
  std::optional<proc::VirtAddr> ret;  // a leaf's RET inside the range (combined trampoline)
  const auto insns = proc::disassemble(*code, at);
  std::vector<MovedBranch> branches;
  // Whole instructions that run the same anywhere, and direct jumps (re-encoded).
  auto movable_insn = [&](const proc::Instruction& insn) {
    if (insn.relocatable)
      return true;
    const auto off = static_cast<std::size_t>(insn.address.value() - at.value());
    auto b = direct_jump(code->subspan(off), insn);
    if (!b)
      return false;
    b->offset = off;
    branches.push_back(*b);
    return true;
  };
  std::size_t i = 0;
  for (; i < insns.size() && len < kJmpLen; ++i) {
    const auto& insn = insns[i];
    if (!movable_insn(insn)) {
      if (!combine_leaf_returns_ || !insn.is_ret || insn.length != 1 || len + 1 < kJmpLen)
        return std::nullopt;
      ret = insn.address;
      break;
    }
    len += insn.length;
  }
  if (combine_leaf_returns_ && !ret) {
    // A RET a few straight-line instructions further on could get no trampoline of its own
    // (its range would meet this one): take it in.
    std::size_t more = len;
    const auto kept = branches.size();
    for (; i < insns.size(); ++i) {
      if (insns[i].is_ret && insns[i].length == 1) {
        ret = insns[i].address;
        len = more;
        break;
      }
      if (insns[i].is_branch || !movable_insn(insns[i]))
        break;
      more += insns[i].length;
    }
    if (!ret)
      branches.resize(kept);
  }
  const std::size_t range = len + (ret ? 1 : 0);
  if (range < kJmpLen)
    return std::nullopt;
  if (!can_move(code_of(fn), at.value(), at.value() + range))
    return std::nullopt;
  Tramp t;
  t.patch_at = at;
  t.spill_xmm = spill_xmm;
  if (ret) {
    t.has_return = true;
    t.ret_addr = *ret;
  }
  t.moved.assign(code->begin(), code->begin() + static_cast<std::ptrdiff_t>(len));
  t.branches = std::move(branches);
  tramps_.push_back(std::move(t));
  return tramps_.size() - 1;
}

std::optional<std::size_t> Trampolines::add_return(const dwarf::Function& fn, proc::VirtAddr ret) {
  for (std::size_t i = 0; i < tramps_.size(); ++i)
    if (tramps_[i].has_return && !tramps_[i].dropped && tramps_[i].ret_addr == ret)
      return i;
  if (!movable(fn))
    return std::nullopt;
  const auto& fc = code_of(fn);
  if (fc.indirect_jumps || !fc.readable)
    return std::nullopt;
  const auto* code = &fc.bytes;
  const auto& insns = fc.insns;
  const auto it = std::lower_bound(
      insns.begin(), insns.end(), ret,
      [](const proc::Instruction& a, proc::VirtAddr b) { return a.address.value() < b.value(); });
  const auto i = static_cast<std::size_t>(it - insns.begin());
  if (i == insns.size() || insns[i].address != ret)
    return std::nullopt;
  if (!insns[i].is_ret || insns[i].length != 1)
    return std::nullopt;
  // Move whole instructions before the RET until the range holds a jmp.
  std::size_t first = i;
  std::uint64_t len = 1;
  const auto low = bi_.to_virt(fn.low_pc).value();
  auto jump_at = [&](std::size_t k) {
    return direct_jump(std::span<const std::byte>(*code).subspan(insns[k].address.value() - low),
                       insns[k]);
  };
  while (len < kJmpLen) {
    if (first == 0 || !(insns[first - 1].relocatable || jump_at(first - 1)))
      return std::nullopt;
    --first;
    len += insns[first].length;
  }
  const auto start = insns[first].address.value();
  std::vector<MovedBranch> branches;
  for (auto k = first; k < i; ++k) {
    if (insns[k].relocatable)
      continue;
    auto b = jump_at(k);
    b->offset = insns[k].address.value() - start;
    branches.push_back(*b);
  }
  for (auto t : fc.targets)
    if (t > start && t <= ret.value())
      return std::nullopt;
  if (overlaps(start, start + len))
    return std::nullopt;
  Tramp t;
  t.patch_at = insns[first].address;
  t.is_return = true;
  const auto off = start - low;
  t.moved.assign(code->begin() + static_cast<std::ptrdiff_t>(off),
                 code->begin() + static_cast<std::ptrdiff_t>(off + len - 1));
  t.branches = std::move(branches);
  tramps_.push_back(std::move(t));
  return tramps_.size() - 1;
}

namespace {

std::string_view mnemonic_of(const proc::Instruction& insn) {
  return std::string_view(insn.text).substr(0, insn.text.find(' '));
}

/// Whether an instruction reads the status flags (jcc, loope/loopne, cmov, fcmov, set,
/// adc/adcx, sbb, rcl, rcr, cmc, pushf, lahf).
bool reads_flags_mnemonic(std::string_view m) {
  return (m.starts_with('j') && m != "jmp" && !m.ends_with("cxz")) || m.starts_with("loop") ||
         m.starts_with("cmov") || m.starts_with("fcmov") || m.starts_with("set") ||
         m.starts_with("adc") || m.starts_with("sbb") || m == "rcl" || m == "rcr" || m == "cmc" ||
         m.starts_with("pushf") || m == "lahf";
}

/// Whether `insn` writes all of `reg` (the 64-bit register or its 32-bit half, which
/// zero-extends) without reading it: mov/lea/movzx/movsx with it as destination.
bool writes_whole(const proc::Instruction& insn, std::string_view reg) {
  const auto m = mnemonic_of(insn);
  if (m != "mov" && m != "lea" && m != "movzx" && m != "movsx" && m != "movsxd")
    return false;
  const std::string_view ops = std::string_view(insn.text).substr(m.size() + 1);
  const auto comma = ops.find(',');
  if (comma == std::string_view::npos)
    return false;
  const auto dst = ops.substr(0, comma);
  const std::string r32 = std::string(reg) + "d";
  return (dst == reg || dst == r32) && ops.substr(comma).find(reg) == std::string_view::npos;
}

}  // namespace

bool Trampolines::scratch_dead_at(const dwarf::Function& fn, proc::VirtAddr at) {
  const auto& fc = code_of(fn);
  if (!fc.readable)
    return false;
  auto index_of = [&](std::uint64_t addr) -> std::optional<std::size_t> {
    auto it = std::lower_bound(
        fc.insns.begin(), fc.insns.end(), addr,
        [](const proc::Instruction& a, std::uint64_t b) { return a.address.value() < b; });
    if (it == fc.insns.end() || it->address.value() != addr)
      return std::nullopt;
    return static_cast<std::size_t>(it - fc.insns.begin());
  };
  // Every path from `at`, with what is settled on it (bit 0: R12, 1: R13, 2: the flags
  // written before any read); each (instruction, state) visited once, so loops end.
  constexpr unsigned kAll = 7;
  std::vector<std::pair<std::size_t, unsigned>> work;
  std::vector<std::uint8_t> seen(fc.insns.size(), 0);  // bit per state
  if (auto i = index_of(at.value()))
    work.emplace_back(*i, 0);
  else
    return false;
  for (int steps = 0; !work.empty(); ++steps) {
    if (steps > 4096)
      return false;  // too far to tell
    auto [i, state] = work.back();
    work.pop_back();
    if (i >= fc.insns.size())
      return false;
    if (seen[i] & (1u << state))
      continue;
    seen[i] |= static_cast<std::uint8_t>(1u << state);
    const auto& insn = fc.insns[i];
    if (insn.is_call || insn.is_ret)
      continue;  // nothing lives in them across a call or past a RET
    const auto m = mnemonic_of(insn);
    const bool reads_flags = reads_flags_mnemonic(m);
    if (reads_flags && !(state & 4))
      return false;
    unsigned bit = 1;
    for (std::string_view reg : {"r12", "r13"}) {
      if (!(state & bit)) {
        if (writes_whole(insn, reg))
          state |= bit;
        else if (insn.text.find(reg) != std::string::npos)
          return false;  // read (or partly written: the rest is read)
      }
      bit <<= 1;
    }
    if (m == "cmp" || m == "test" || m == "add" || m == "sub" || m == "and" || m == "or" ||
        m == "xor")
      state |= 4;
    if (state == kAll)
      continue;
    if (m == "int3" || m == "ud2" || m == "syscall")
      return false;
    if (insn.is_branch) {
      if (insn.branch_target == 0)
        return false;  // indirect: unknown targets
      auto t = index_of(insn.branch_target);
      if (!t)
        return false;  // out of the function
      work.emplace_back(*t, state);
      if (m == "jmp")
        continue;
    }
    work.emplace_back(i + 1, state);
  }
  return true;
}

std::optional<std::size_t> Trampolines::add_inline(const dwarf::Function& fn, proc::VirtAddr at) {
  if (!movable(fn) || !scratch_dead_at(fn, at))
    return std::nullopt;
  const auto& fc = code_of(fn);
  const auto low = bi_.to_virt(fn.low_pc).value();
  auto it = std::lower_bound(
      fc.insns.begin(), fc.insns.end(), at,
      [](const proc::Instruction& a, proc::VirtAddr b) { return a.address.value() < b.value(); });
  std::size_t len = 0;
  std::vector<MovedBranch> branches;
  for (; it != fc.insns.end() && len < kJmpLen; ++it) {
    const auto off = it->address.value() - low;
    if (!it->relocatable) {
      auto b = direct_jump(std::span<const std::byte>(fc.bytes).subspan(off), *it);
      if (!b)
        return std::nullopt;
      b->offset = len;
      branches.push_back(*b);
    }
    len += it->length;
  }
  if (len < kJmpLen)
    return std::nullopt;
  if (!can_move(fc, at.value(), at.value() + len))
    return std::nullopt;
  Tramp t;
  t.patch_at = at;
  const auto off = at.value() - low;
  t.moved.assign(fc.bytes.begin() + static_cast<std::ptrdiff_t>(off),
                 fc.bytes.begin() + static_cast<std::ptrdiff_t>(off + len));
  t.branches = std::move(branches);
  tramps_.push_back(std::move(t));
  return tramps_.size() - 1;
}

std::optional<std::size_t> Trampolines::add_call(const dwarf::Function& fn, proc::VirtAddr at) {
  if (!movable(fn))
    return std::nullopt;
  const auto low = bi_.to_virt(fn.low_pc).value();
  auto code = bi_.elf().code_at(dwarf::FileAddr(fn.low_pc.value() + (at.value() - low)), kJmpLen);
  if (!code || code->size() < kJmpLen)
    return std::nullopt;
  const auto insns = proc::disassemble(*code, at);
  if (insns.empty() || !insns[0].is_call || insns[0].length != kJmpLen ||
      insns[0].branch_target == 0)
    return std::nullopt;
  if (overlaps(at.value(), at.value() + kJmpLen))
    return std::nullopt;
  Tramp t;
  t.patch_at = at;
  t.call_target = insns[0].branch_target;
  t.moved.assign(code->begin(), code->begin() + static_cast<std::ptrdiff_t>(kJmpLen));
  tramps_.push_back(std::move(t));
  return tramps_.size() - 1;
}

bool Trampolines::can_move(const FunctionCode& fc, std::uint64_t lo, std::uint64_t hi) const {
  // A jump to lo itself is fine: it lands on our jmp, which goes to the moved copy.
  for (auto t : fc.targets)
    if (t > lo && t < hi)
      return false;
  return !overlaps(lo, hi);
}

bool Trampolines::overlaps(std::uint64_t lo, std::uint64_t hi) const {
  return std::any_of(tramps_.begin(), tramps_.end(),
                     [&](const Tramp& t) { return t.patch_at.value() < hi && lo < t.end(); });
}

std::vector<std::size_t> Trampolines::holding(std::span<const std::uint64_t> sorted_pcs) const {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < tramps_.size(); ++i) {
    const auto& t = tramps_[i];
    if (t.dropped)
      continue;
    const auto it = std::upper_bound(sorted_pcs.begin(), sorted_pcs.end(), t.patch_at.value());
    if (it != sorted_pcs.end() && *it < t.end())
      out.push_back(i);
  }
  return out;
}

std::optional<std::size_t> Trampolines::covering(proc::VirtAddr addr) const {
  for (std::size_t i = 0; i < tramps_.size(); ++i) {
    const auto& t = tramps_[i];
    if (!t.dropped && addr.value() >= t.patch_at.value() && addr.value() < t.end())
      return i;
  }
  return std::nullopt;
}

bool Trampolines::empty() const {
  return std::all_of(tramps_.begin(), tramps_.end(), [](const Tramp& t) { return t.dropped; });
}

std::optional<proc::VirtAddr> find_syscall_instruction(const BinaryInfo& bi) {
  // Any 0f 05 in the text decodes as one when jumped to.
  if (auto text = bi.elf().section_data(".text"); text) {
    const auto addr = bi.elf().section_addr(".text");
    for (std::size_t i = 0; addr && i + 1 < text->size(); ++i) {
      if (text->data()[i] == std::byte{0x0f} && text->data()[i + 1] == std::byte{0x05})
        return bi.to_virt(dwarf::FileAddr(addr->value() + i));
    }
  }
  return std::nullopt;
}

std::string Trampolines::path() const {
  return "/proc/" + std::to_string(::getpid()) + "/fd/" + std::to_string(memfd_.get());
}

void Trampolines::install(proc::Process& process, pid_t tid) {
  if (tramps_.empty() || installed_)
    return;
  // Layout: each trampoline 16-byte aligned.
  std::uint64_t size = 0;
  for (auto& t : tramps_) {
    if (t.dropped)
      continue;
    t.offset = size;
    const std::uint64_t spill = t.spill_xmm ? kSpillBytes : 0;
    // The probe: a nop (5 bytes at entries, 1 at RETs, 1 after an xmm spill), or the in-process
    // engine's code.
    const std::uint64_t probe = !t.probe_code.empty() ? t.probe_code.size()
                                : t.is_return         ? 1
                                                      : kNop5.size();
    const std::uint64_t ret_probe = t.ret_probe_code.size();
    std::uint64_t shared = 0;
    for (auto& e : t.shared) {
      e.offset = t.offset + spill + probe + shared;
      shared += e.code.size();
    }
    const std::uint64_t moved = t.relocated_size();
    const std::uint64_t n = t.is_return     ? moved + probe + 1
                            : t.has_return  ? spill + probe + shared + moved + ret_probe + 1
                            : t.call_target ? probe + kCallEmulationLen
                                            : spill + probe + shared + moved + kJmpLen;
    t.probe_offset = t.is_return ? t.offset + moved : t.offset + spill;
    t.ret_probe_offset = t.offset + spill + probe + shared + moved;
    std::uint64_t end = t.offset + n;
    for (auto& st : t.stubs) {
      st.offset = end;
      end += st.code.size() + 1;  // + the RET
    }
    size = (end + 15) & ~15ULL;
  }
  const std::uint64_t page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  size = (size + page - 1) & ~(page - 1);

  memfd_.reset(static_cast<int>(::syscall(SYS_memfd_create, "goscope-trampolines", MFD_CLOEXEC)));
  if (!memfd_)
    proc::Error::send_errno("memfd_create");
  if (::ftruncate(memfd_.get(), static_cast<off_t>(size)) != 0)
    proc::Error::send_errno("ftruncate(trampolines)");

  // The highest end of the executable's mappings: the trampolines go just above it.
  std::uint64_t exe_end = 0;
  {
    char exe[4096];
    const auto proc_dir = "/proc/" + std::to_string(process.pid());
    const auto n = ::readlink((proc_dir + "/exe").c_str(), exe, sizeof exe - 1);
    if (n <= 0)
      proc::Error::send_errno("readlink " + proc_dir + "/exe");
    exe[n] = '\0';
    std::ifstream maps(proc_dir + "/maps");
    std::string line;
    while (std::getline(maps, line)) {
      if (line.size() < std::strlen(exe) ||
          line.compare(line.size() - std::strlen(exe), std::string::npos, exe) != 0)
        continue;
      std::uint64_t lo = 0, hi = 0;
      char dash = 0;
      std::istringstream in(line);
      in >> std::hex >> lo >> dash >> hi;
      exe_end = std::max(exe_end, hi);
    }
  }
  if (exe_end == 0)
    proc::Error::send("trampolines: the executable's mappings were not found");

  const auto syscall_insn = find_syscall_instruction(bi_);
  if (!syscall_insn)
    proc::Error::send("trampolines: no syscall instruction in .text");

  // The path of our memfd, as the process opens it, on its stack below the red zone.
  const auto regs = process.registers(tid);
  const std::string fd_path = path();
  const std::uint64_t str_at = (regs.gp.rsp - 4096) & ~15ULL;
  process.write_memory(proc::VirtAddr(str_at),
                       std::as_bytes(std::span(fd_path.c_str(), fd_path.size() + 1)));
  const auto fd = proc::inject_syscall(process, tid, *syscall_insn, SYS_open,
                                       {str_at, O_RDONLY | O_CLOEXEC, 0, 0, 0, 0});
  if (fd < 0)
    proc::Error::send("trampolines: open " + fd_path +
                      " in the process: " + std::strerror(static_cast<int>(-fd)));
  if (std::getenv("GOSCOPE_DEBUG")) {
    char buf[512] = {};
    auto l =
        ::readlink(("/proc/" + std::to_string(process.pid()) + "/fd/" + std::to_string(fd)).c_str(),
                   buf, sizeof buf - 1);
    std::fprintf(stderr, "goscope: trampolines fd %lld -> %s (%zd)\n", static_cast<long long>(fd),
                 buf, l);
  }
  std::uint64_t base = 0;
  std::int64_t last_error = 0;
  std::uint64_t candidate = ((exe_end + k2M - 1) & ~(k2M - 1)) + k2M;
  constexpr std::uint64_t kMapFixedNoreplace = 0x100000;
  for (int attempt = 0; attempt < 32 && base == 0; ++attempt, candidate += k2M) {
    const auto r =
        proc::inject_syscall(process, tid, *syscall_insn, SYS_mmap,
                             {candidate, size, PROT_READ | PROT_EXEC,
                              MAP_PRIVATE | kMapFixedNoreplace, static_cast<std::uint64_t>(fd), 0});
    if (r == static_cast<std::int64_t>(candidate))
      base = candidate;
    else if (r < 0)
      last_error = r;
    else if (r >= 0)  // an old kernel without MAP_FIXED_NOREPLACE put it elsewhere
      proc::inject_syscall(process, tid, *syscall_insn, SYS_munmap,
                           {static_cast<std::uint64_t>(r), size, 0, 0, 0, 0});
  }
  proc::inject_syscall(process, tid, *syscall_insn, SYS_close,
                       {static_cast<std::uint64_t>(fd), 0, 0, 0, 0, 0});
  if (base == 0)
    proc::Error::send("trampolines: no free address near the executable (last mmap: " +
                      std::string(std::strerror(static_cast<int>(-last_error))) + ")");
  base_ = base;

  std::vector<std::byte> image(size, std::byte{0xcc});
  for (const auto& t : tramps_) {
    if (t.dropped)
      continue;
    std::vector<std::byte> code;
    // Byte by byte: g++ 12 warns (wrongly) about a range insert into a fresh vector here.
    auto append = [&](std::span<const std::byte> bytes) {
      for (auto b : bytes) code.push_back(b);
    };
    const std::uint64_t at = base + t.offset;
    auto append_moved = [&] { append(relocated(t, at + code.size())); };
    if (t.is_return) {
      append_moved();
      // A one-byte nop: the kernel emulates it at the breakpoint. (It turns a probed 5-byte
      // nop into a call to its own trampoline, which pushes below rsp, where the dead frame
      // still holds the results.)
      if (!t.probe_code.empty())
        append(t.probe_code);
      else
        code.push_back(std::byte{0x90});
      code.push_back(std::byte{0xc3});
    } else if (t.call_target) {
      // The call, as the original makes it: push the original return address, jump.
      append(t.probe_code);
      const std::uint64_t ret = t.patch_at.value() + kJmpLen;
      append(std::array<std::byte, 5>{std::byte{0x48}, std::byte{0x8d}, std::byte{0x64},
                                      std::byte{0x24}, std::byte{0xf8}});  // lea rsp, [rsp-8]
      code.push_back(std::byte{0xc7});                                     // mov dword [rsp], lo32
      code.push_back(std::byte{0x04});
      code.push_back(std::byte{0x24});
      for (int i = 0; i < 4; ++i) code.push_back(static_cast<std::byte>((ret >> (8 * i)) & 0xff));
      code.push_back(std::byte{0xc7});  // mov dword [rsp+4], hi32
      code.push_back(std::byte{0x44});
      code.push_back(std::byte{0x24});
      code.push_back(std::byte{0x04});
      for (int i = 4; i < 8; ++i) code.push_back(static_cast<std::byte>((ret >> (8 * i)) & 0xff));
      put_jmp(code, at + code.size(), t.call_target);
    } else if (!t.probe_code.empty()) {
      if (t.spill_xmm) {
        append(xmm_spill_code());
        code.push_back(std::byte{0x90});
      }
      append(t.probe_code);
      for (const auto& e : t.shared) append(e.code);
      append_moved();
      if (t.has_return) {
        append(t.ret_probe_code);
        code.push_back(std::byte{0xc3});
      } else {
        put_jmp(code, at + code.size(), t.patch_at.value() + t.moved.size());
      }
    } else if (t.spill_xmm) {
      append(xmm_spill_code());
      code.push_back(std::byte{0x90});
      append_moved();
      put_jmp(code, at + code.size(), t.patch_at.value() + t.moved.size());
    } else {
      append(kNop5);
      append_moved();
      put_jmp(code, at + code.size(), t.patch_at.value() + t.moved.size());
    }
    // RET stubs: the probe code of a RET that a moved jump targets, and the RET.
    for (const auto& st : t.stubs) {
      code.resize(st.offset - t.offset, std::byte{0xcc});
      append(st.code);
      code.push_back(std::byte{0xc3});
    }
    std::copy(code.begin(), code.end(), image.begin() + static_cast<std::ptrdiff_t>(t.offset));
  }
  // The process's private mapping has not touched its pages yet: it sees these bytes.
  if (::pwrite(memfd_.get(), image.data(), image.size(), 0) != static_cast<ssize_t>(image.size()))
    proc::Error::send_errno("write(trampolines)");

  for (const auto& t : tramps_) {
    if (t.dropped)
      continue;
    std::vector<std::byte> patch;
    put_jmp(patch, t.patch_at.value(), base + t.offset);
    const auto len = t.moved.size() + (t.ends_with_ret() ? 1 : 0);
    patch.resize(len, std::byte{0xcc});
    process.write_memory(t.patch_at, patch);
  }
  installed_ = true;
}

void Trampolines::uninstall(proc::Process& process) {
  if (!installed_)
    return;
  installed_ = false;
  for (const auto& t : tramps_) {
    if (t.dropped)
      continue;
    std::vector<std::byte> original = t.moved;
    if (t.ends_with_ret())
      original.push_back(std::byte{0xc3});
    process.write_memory(t.patch_at, original);
  }
}

}  // namespace goscope::target

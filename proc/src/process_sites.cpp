// Breakpoint sites: the int3 written at an address, the bytes it displaced, and the
// displaced instruction decoded once for emulation.
#include <array>
#include <cerrno>
#include <cstddef>

#include "proc/emulator.hpp"
#include "proc/error.hpp"
#include "proc/unique_fd.hpp"
#include "process_impl.hpp"

namespace goscope::proc {

using namespace detail;

void Process::Impl::add_breakpoint(std::uint64_t addr) {
  ensure_alive();
  auto it = sites_.find(addr);
  if (it != sites_.end()) {
    ++it->second.refs;
    return;
  }
  std::byte orig{};
  if (::pread(mem_fd_.get(), &orig, 1, static_cast<off_t>(addr)) != 1) {
    fail("insert breakpoint at " + hex(addr), errno == 0 ? EIO : errno);
  }
  poke(addr, kInt3);
  drop_read_cache();
  Site s;
  s.orig = orig;
  s.refs = 1;
  sites_.emplace(addr, std::move(s));
  removed_sites_.erase(addr);
}

void Process::Impl::remove_breakpoint(std::uint64_t addr) {
  ensure_alive();
  auto it = sites_.find(addr);
  if (it == sites_.end())
    return;
  if (--it->second.refs > 0)
    return;
  std::byte orig = it->second.orig;
  sites_.erase(it);
  removed_sites_.insert(addr);
  drop_read_cache();
  poke(addr, orig);
  // A thread reported at this trap is no longer "at" it: a trap inserted here later is
  // executed (and reported) when the thread resumes, not stepped over (Delve clears a
  // thread's current breakpoint when that breakpoint is cleared).
  for (auto& [tid, t] : threads_) {
    if (t.bp_pc == addr)
      t.bp_pc.reset();
  }
}

void Process::Impl::remove_all_breakpoints() {
  if (life_ != Life::alive) {
    sites_.clear();
    return;
  }
  while (!sites_.empty()) {
    auto it = sites_.begin();
    std::uint64_t addr = it->first;
    std::byte orig = it->second.orig;
    sites_.erase(it);
    removed_sites_.insert(addr);
    poke(addr, orig);
  }
  drop_read_cache();
}

// The displaced instruction at `addr`, decoded once per site.
const EmulatedInstruction* Process::Impl::emulation_for(std::uint64_t addr) {
  auto it = sites_.find(addr);
  if (it == sites_.end())
    return nullptr;
  Site& s = it->second;
  if (!s.decoded) {
    s.decoded = true;
    std::array<std::byte, 15> code{};
    // The instruction may end near the end of a mapping: shrink until readable.
    std::size_t len = code.size();
    TraceeMemory mem(*this);
    while (len > 0 && !mem.read(addr, std::span(code).first(len))) --len;
    if (len > 0)
      s.emu = EmulatedInstruction::decode(std::span(code).first(len), VirtAddr(addr));
  }
  return s.emu ? &*s.emu : nullptr;
}

}  // namespace goscope::proc

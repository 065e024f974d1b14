#include "live_pcs.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include "dwarf/debug_info.hpp"
#include "dwarf/types.hpp"
#include "proc/error.hpp"
#include "proc/process.hpp"
#include "target/binary_info.hpp"
#include "target/readers.hpp"
#include "target/value_loader.hpp"

namespace goscope::target {
namespace {

constexpr std::uint64_t kThreadScan = 64 * 1024;
/// Go's largest goroutine stack is 1 GB (runtime.maxstacksize on 64-bit): a bigger range is
/// not a stack.
constexpr std::uint64_t kMaxStack = 1ull << 30;
constexpr std::uint32_t kGdead = 6;

void add_words(std::span<const std::byte> bytes, std::vector<std::uint64_t>& out) {
  for (std::size_t off = 0; off + 8 <= bytes.size(); off += 8) {
    std::uint64_t w;
    std::memcpy(&w, bytes.data() + off, 8);
    out.push_back(w);
  }
}

std::optional<std::uint64_t> field_offset(const BinaryInfo& bi, const char* type,
                                          const char* field) {
  const auto* t = bi.debug().find_type(type);
  if (t == nullptr)
    return std::nullopt;
  const auto* f = t->resolved()->field(field);
  if (f == nullptr)
    return std::nullopt;
  return f->offset;
}

}  // namespace

std::optional<std::vector<std::uint64_t>> resumable_pcs(proc::Process& process,
                                                        const BinaryInfo& bi) {
  std::vector<std::uint64_t> out;
  // Threads: the pc, and the stack above rsp page by page until a page cannot be read.
  for (const auto tid : process.threads()) {
    proc::Registers regs;
    try {
      regs = process.registers(tid);
    } catch (const proc::Error&) {
      continue;  // gone
    }
    out.push_back(regs.gp.rip);
    std::vector<std::byte> page(4096);
    std::uint64_t at = regs.gp.rsp & ~7ull;
    const std::uint64_t end = at + kThreadScan;
    while (at < end) {
      const auto n = std::min<std::uint64_t>(4096 - (at & 4095), end - at);
      std::span<std::byte> chunk(page.data(), n);
      try {
        process.read_memory(proc::VirtAddr(at), chunk);
      } catch (const proc::Error&) {
        break;
      }
      add_words(chunk, out);
      at += n;
    }
  }
  // Goroutines: runtime.allgs, each one's saved pc and whole stack.
  const auto* allgs = bi.debug().find_global("runtime.allgs");
  const auto sched = field_offset(bi, "runtime.g", "sched");
  const auto gobuf_pc = field_offset(bi, "runtime.gobuf", "pc");
  const auto status = field_offset(bi, "runtime.g", "atomicstatus");
  if (!allgs || !sched || !gobuf_pc || !status)
    return std::nullopt;
  ValueLoader loader(bi, process_memory_reader(process));
  RegisterFn none = [](unsigned) -> std::optional<std::uint64_t> { return std::nullopt; };
  bool fake = false;
  std::string err;
  const auto addr = loader.locate(*allgs, 0, 0, none, &fake, &err);
  if (!addr || fake)
    return std::nullopt;
  try {
    const auto base = process.read<std::uint64_t>(proc::VirtAddr(*addr));
    const auto len = process.read<std::uint64_t>(proc::VirtAddr(*addr + 8));
    if (len > (1u << 24))
      return std::nullopt;
    std::vector<std::uint64_t> gs(len);
    if (len)
      process.read_memory(proc::VirtAddr(base), std::as_writable_bytes(std::span(gs)));
    const auto pc_off = *sched + *gobuf_pc;
    std::vector<std::byte> stack;
    for (const auto g : gs) {
      if (g == 0)
        continue;
      if (process.read<std::uint32_t>(proc::VirtAddr(g + *status)) == kGdead)
        continue;
      out.push_back(process.read<std::uint64_t>(proc::VirtAddr(g + pc_off)));
      const auto lo = process.read<std::uint64_t>(proc::VirtAddr(g));  // g.stack.lo
      const auto hi = process.read<std::uint64_t>(proc::VirtAddr(g + bi.stack_hi_offset()));
      if (hi <= lo || hi - lo > kMaxStack)
        return std::nullopt;
      stack.resize(hi - lo);
      process.read_memory(proc::VirtAddr(lo), stack);
      add_words(stack, out);
    }
  } catch (const proc::Error&) {
    return std::nullopt;  // a stack that cannot be read cannot be vouched for
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace goscope::target

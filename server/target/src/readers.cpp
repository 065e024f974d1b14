#include "target/readers.hpp"

#include <cstring>
#include <memory>
#include <optional>

#include "proc/error.hpp"

namespace goscope::target {
namespace {
// x86-64 psABI DWARF numbers 17..32 are xmm0..xmm15.
constexpr unsigned kDwarfXmm0 = 17;
}  // namespace

RegisterFn thread_register_reader(proc::Process& process, pid_t tid, const proc::Registers& regs) {
  auto fp = std::make_shared<std::optional<user_fpregs_struct>>();
  return [&process, tid, regs, fp](unsigned regno) -> std::optional<std::uint64_t> {
    if (regno >= kDwarfXmm0 && regno < kDwarfXmm0 + 16) {
      if (!*fp) {
        try {
          *fp = process.fp_registers(tid);
        } catch (const proc::Error&) {
          return std::nullopt;
        }
      }
      std::uint64_t lo = 0;
      std::memcpy(&lo, &(*fp)->xmm_space[(regno - kDwarfXmm0) * 4], sizeof lo);
      return lo;
    }
    return regs.by_dwarf_number(regno);
  };
}

MemoryFn process_memory_reader(proc::Process& process) {
  return [&process](std::uint64_t addr, std::span<std::byte> out) {
    try {
      process.read_memory(proc::VirtAddr(addr), out);
      return true;
    } catch (const proc::Error&) {
      return false;
    }
  };
}

}  // namespace goscope::target

#pragma once
// The in-process engine's code generator: a capture plan (capture_plan.hpp, the same plan the
// uprobe engine turns into BPF) compiled to x86-64 that runs inside a trampoline and writes
// the same record into the shared ring (inproc_ring.hpp).
//
// Constraints the code keeps:
// - No stack: a goroutine's stack may be small, and at a RET the dead frame below rsp holds
//   the results. The code saves the registers into the record it reserved and restores them
//   from there; it clobbers only R12, R13 and the flags, which Go's register ABI leaves dead
//   at a function's entry and at its RET (R12/R13 are scratch, never arguments or results;
//   no flag lives across a call boundary or past the stack check's jbe).
// - No system call, no trap on the hot path. Traps only where goscope must act: a full ring
//   (back-pressure: goscope drains, the writer retries) and a completion (values the plan
//   cannot capture: goscope reads them live while the thread waits, memory as at the hit).
//   Both are skipped once the ring is disabled (detach), so an untraced process never traps.
// - Fault-safe reads: every read of the program's memory is one `rep movsb` whose address
//   goscope knows. A fault there stops the thread under ptrace (the program never sees the
//   signal); goscope moves it to the read's recovery code, which records the read as failed,
//   as bpf_probe_read_user reports one.
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "capture_plan.hpp"

namespace goscope::target::inproc {

struct CodegenParams {
  std::uint64_t ring = 0;      ///< the ring header's address in the process
  std::uint64_t capacity = 0;  ///< data bytes (power of two)
  capture::GOffsets g{};
  std::uint32_t g_m = 0;                  ///< runtime.g.m
  std::optional<std::uint32_t> m_procid;  ///< runtime.m.procid (the thread id)
};

struct SiteCode {
  std::vector<std::byte> bytes;
  /// (offset of a `rep movsb` reading the program's memory, offset of its recovery code).
  std::vector<std::pair<std::uint32_t, std::uint32_t>> fixups;
  std::uint32_t throttle_trap = 0;  ///< offset of the int3 a writer waiting for room runs
  std::uint32_t complete_trap = 0;  ///< offset of the int3 before a completion's commit
  std::uint32_t slot_size = 0;
};

/// The code for one site: reserves a slot, records, commits, falls through at its end.
SiteCode compile(const capture::Plan& plan, std::uint32_t cookie, const CodegenParams& p);

/// Bytes of ring slot a plan's record takes.
std::uint32_t slot_size(const capture::Plan& plan);

}  // namespace goscope::target::inproc

#pragma once
// Where a stopped process may resume: what decides whether code can be moved into a
// trampoline in a process that has already run (an attach).
#include <cstdint>
#include <optional>
#include <vector>

namespace goscope::proc {
class Process;
}

namespace goscope::target {

class BinaryInfo;

/// Every address a stopped process may go on at, now or later: each thread's pc and the
/// words of its stack above rsp (64 KiB: a signal frame's saved pc is there, on the signal
/// stack), and each goroutine's saved pc (g.sched.pc) and every word of its stack (return
/// addresses, the pc an async preemption interrupted, pushed for runtime.asyncPreempt to
/// return to). Conservative: a word that only looks like a pc costs a slow probe, never a
/// crash. Sorted, unique. nullopt when a goroutine's stack cannot be read (then no code may
/// move). Every thread must be stopped.
std::optional<std::vector<std::uint64_t>> resumable_pcs(proc::Process& process,
                                                        const BinaryInfo& bi);

}  // namespace goscope::target

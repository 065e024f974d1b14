#pragma once
// Making a stopped tracee run a system call of ours, for setting up what in-process code
// needs (a mapping of the tracer's trampolines) before the program runs.
#include <sys/types.h>

#include <array>
#include <cstdint>

#include "proc/addr.hpp"

namespace goscope::proc {

class Process;

/// Runs system call `nr` with `args` in thread `tid` (stopped, with no unreported event) by
/// pointing it at a `syscall` instruction of its code (`syscall_insn`) and stepping it;
/// restores every register after. Returns the call's result (a negative errno on failure).
/// Throws proc::Error if the thread does not come back from the step.
std::int64_t inject_syscall(Process& process, pid_t tid, VirtAddr syscall_insn, long nr,
                            const std::array<std::uint64_t, 6>& args);

}  // namespace goscope::proc

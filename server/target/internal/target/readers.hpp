#pragma once
#include <sys/types.h>

#include "proc/process.hpp"
#include "target/value_loader.hpp"

namespace goscope::target {

/// A stopped thread's registers by DWARF number, for location expressions and the ABI
/// result reader: the general registers from `regs` (copied), xmm0-15 (their low 8 bytes)
/// fetched from the thread on first use only, since most values never need them.
RegisterFn thread_register_reader(proc::Process& process, pid_t tid, const proc::Registers& regs);

/// Tracee memory for the value loader; false where it cannot be read.
MemoryFn process_memory_reader(proc::Process& process);

}  // namespace goscope::target

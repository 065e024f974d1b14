#pragma once
// Writes an ELF core file of a live, stopped Process (Delve's Dump): the layout the
// kernel writes, which both `goscope core` (CoreFile) and `dlv core` read.
//   notes: NT_PRPSINFO, NT_AUXV, NT_FILE, Delve's "Delve Header" note, and per thread
//          NT_PRSTATUS, NT_FPREGSET and NT_X86_XSTATE (the first thread is the one the
//          caller names: a core reader's current thread);
//   PT_LOAD: every readable mapping of /proc/PID/smaps but those the kernel would not
//          dump either (VM_DONTDUMP "dd", PFN/IO ranges "pf"/"io"); pages that cannot be
//          read are written as zeros, as Delve does.
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>

namespace goscope::proc {

class Process;

struct CoreDumpProgress {
  int threads_done = 0, threads_total = 0;
  std::uint64_t mem_done = 0, mem_total = 0;
};

struct CoreDumpOptions {
  /// The thread whose notes come first (0: the first of Process::threads()).
  pid_t first_thread = 0;
  /// Absolute path of the executable, for NT_PRPSINFO's arguments.
  std::string executable;
  /// The Delve Header note's version line ("Version: 1.20.2").
  std::string version;
  /// Called after each thread and each MiB of memory; returning false cancels the dump.
  std::function<bool(const CoreDumpProgress&)> progress;
};

/// Writes the core to `fd` (a new, empty file the caller owns). Returns false when
/// cancelled; throws Error ("error writing to output file: ...", or a register read that
/// failed) otherwise. Every thread of `p` must be stopped; `p` is only read.
bool write_core(Process& p, int fd, const CoreDumpOptions& opts);

}  // namespace goscope::proc

#pragma once
// Delve's Dump: an ELF core file of the stopped debuggee, which `goscope core` and
// `dlv core` both open (proc/core_writer.hpp has the layout).
#include <cstdint>
#include <functional>

namespace goscope::target {

class Debuggee;

struct DumpProgress {
  int threads_done = 0, threads_total = 0;
  std::uint64_t mem_done = 0, mem_total = 0;
};

/// Writes the core to `fd` (an empty file the caller created). `progress` is called after
/// each thread and each MiB; returning false cancels (then false is returned). Throws
/// CommandError in Delve's words: "core dumping not supported" for a debuggee read from a
/// core, "error writing to output file: ..." when the file cannot take it.
bool dump_core(Debuggee& d, int fd, const std::function<bool(const DumpProgress&)>& progress);

}  // namespace goscope::target

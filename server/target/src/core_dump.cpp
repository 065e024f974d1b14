// Delve's Dump of the stopped debuggee (core_dump.hpp): proc writes the file, this adds
// what only the target knows (the current thread first, the executable, the version).
#include "target/core_dump.hpp"

#include <filesystem>

#include "proc/core_writer.hpp"
#include "proc/error.hpp"
#include "proc/process.hpp"
#include "target/binary_info.hpp"
#include "target/breakpoint.hpp"
#include "target/debuggee.hpp"

namespace goscope::target {

bool dump_core(Debuggee& d, int fd, const std::function<bool(const DumpProgress&)>& progress) {
  if (d.is_core())
    throw CommandError("core dumping not supported");
  if (!d.live())
    d.throw_exited();
  proc::CoreDumpOptions opts;
  opts.first_thread = d.current_thread();
  std::error_code ec;
  const auto abs = std::filesystem::absolute(d.binary().path(), ec);
  opts.executable = ec ? d.binary().path() : abs.string();
  opts.version = "Version: 1.20.2\nBuild: goscope";
  opts.progress = [&](const proc::CoreDumpProgress& p) {
    return !progress ||
           progress(DumpProgress{p.threads_done, p.threads_total, p.mem_done, p.mem_total});
  };
  try {
    return proc::write_core(d.process(), fd, opts);
  } catch (const proc::Error& e) {
    throw CommandError(e.what());
  }
}

}  // namespace goscope::target

#pragma once
// From a captured record (what a BPF program or the in-process capture code wrote at a
// tracepoint, laid out by its capture plan) to the trace event: one reading for the uprobe
// and in-process engines.
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <span>

#include "capture_plan.hpp"
#include "proc/addr.hpp"
#include "target/trace_event.hpp"

namespace goscope::proc {
class Process;
}

namespace goscope::target {
class BinaryInfo;
}

namespace goscope::target::capture {

/// What the event of a record needs to know of its site.
struct RecordSite {
  const dwarf::Function* function = nullptr;
  const dwarf::InlinedCall* inlined = nullptr;
  bool is_return = false;
  bool deferreturn = false;
  bool goexit = false;
  proc::VirtAddr report_pc;                ///< the pc the event reports
  std::optional<std::int64_t> cfa_offset;  ///< CFA = rsp + this; nullopt: rbp + 16
  bool xmm_spilled = false;                ///< an entry whose trampoline stored xmm0-14 below rsp
  const Plan* plan = nullptr;
};

/// The RecordSite of an engine's site (the uprobe and in-process engines' sites share these
/// names). Only an entry probed in a trampoline has its xmm registers spilled.
template <class EngineSite>
RecordSite record_site_of(const EngineSite& s) {
  RecordSite rs;
  rs.function = s.function;
  rs.inlined = s.inlined;
  rs.is_return = s.is_return;
  rs.deferreturn = s.deferreturn;
  rs.goexit = s.goexit;
  rs.report_pc = s.report_pc;
  rs.cfa_offset = s.cfa_offset;
  rs.xmm_spilled = s.tramp.has_value() && !s.is_return && s.spill_xmm;
  rs.plan = &s.plan;
  return rs;
}

/// The event of record `rec` of `site`. `live_tid`: that thread is stopped at the hit, so
/// what the capture lacks is read from the process; otherwise each such read fails and is
/// counted in `late_reads`. The times are the record's stamp, on the writer's clock.
TraceEvent event_from_record(proc::Process& process, const BinaryInfo& bi, const GOffsets& g,
                             const TraceOptions& opts, std::span<const std::byte> rec,
                             const RecordSite& site, std::optional<pid_t> live_tid,
                             std::uint64_t& late_reads);

}  // namespace goscope::target::capture

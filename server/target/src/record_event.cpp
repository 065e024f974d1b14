#include "record_event.hpp"

#include <cstring>

#include "proc/error.hpp"
#include "proc/process.hpp"
#include "proc/registers.hpp"
#include "target/binary_info.hpp"
#include "target/readers.hpp"
#include "target/tracer.hpp"
#include "target/value_loader.hpp"

namespace goscope::target::capture {

TraceEvent event_from_record(proc::Process& process, const BinaryInfo& bi, const GOffsets& g,
                             const TraceOptions& opts, std::span<const std::byte> rec,
                             const RecordSite& site, std::optional<pid_t> live_tid,
                             std::uint64_t& late_reads) {
  RecordHeader h;
  std::memcpy(&h, rec.data(), sizeof h);
  const Plan& plan = *site.plan;
  const bool live = live_tid.has_value();
  proc::Registers regs;
  static_assert(sizeof(h.regs) <= sizeof(regs.gp));
  std::memcpy(&regs.gp, h.regs, sizeof h.regs);
  const auto tid = live ? *live_tid : static_cast<pid_t>(h.pid_tgid & 0xffffffffu);

  auto in_record = [&](std::uint64_t off, std::uint64_t len) { return off + len <= rec.size(); };
  auto g_word = [&](std::uint64_t field) -> std::uint64_t {
    std::uint64_t v = 0;
    if (field + 8 <= g.len && in_record(kGOffset + field, 8))
      std::memcpy(&v, rec.data() + kGOffset + field, 8);
    return v;
  };
  const std::uint64_t stack_base = regs.gp.rsp + static_cast<std::uint64_t>(plan.stack_lo);
  const std::uint64_t stack_len = static_cast<std::uint64_t>(plan.stack_hi - plan.stack_lo);
  MemoryFn live_mem = live ? process_memory_reader(process) : MemoryFn();
  // The stack window, the pointed-to blocks, the goroutine's header, read-only data; then
  // the live process, if stopped.
  MemoryFn mem = [&, live_mem](std::uint64_t a, std::span<std::byte> out) {
    const auto n = out.size();
    if (a >= stack_base && a + n <= stack_base + stack_len &&
        in_record(plan.stack_offset + (a - stack_base), n)) {
      std::memcpy(out.data(), rec.data() + plan.stack_offset + (a - stack_base), n);
      return true;
    }
    for (const auto& b : plan.blocks) {
      std::uint64_t hdr[3];  // address, length, status
      if (!in_record(b.record_offset, sizeof hdr))
        continue;
      std::memcpy(hdr, rec.data() + b.record_offset, sizeof hdr);
      if (hdr[2] != 0 || a < hdr[0] || a + n > hdr[0] + hdr[1] || hdr[1] > b.max_bytes())
        continue;
      const auto off = b.record_offset + 24 + (a - hdr[0]);
      if (!in_record(off, n))
        continue;
      std::memcpy(out.data(), rec.data() + off, n);
      return true;
    }
    if (a >= regs.gp.r14 && a + n <= regs.gp.r14 + g.len && g_word(g.goid) != 0) {
      std::memcpy(out.data(), rec.data() + kGOffset + (a - regs.gp.r14), n);
      return true;
    }
    if (auto ro = bi.elf().read_only_at(bi.to_file(proc::VirtAddr(a)), n)) {
      std::memcpy(out.data(), ro->data(), n);
      return true;
    }
    if (live_mem)
      return live_mem(a, out);
    ++late_reads;
    return false;
  };

  TraceEvent ev;
  ev.time_ns = h.time_ns;
  ev.hit_ns = h.time_ns;
  ev.tid = tid;
  ev.function = site.function;
  ev.deferreturn = site.deferreturn;
  ev.kind = site.is_return ? TraceEvent::Kind::ret : TraceEvent::Kind::call;
  auto goid = static_cast<std::int64_t>(g_word(bi.goid_offset()));
  if (goid == 0 && live && regs.gp.r14 != 0) {
    // On the system stack R14 holds g0; report the user goroutine it runs for.
    try {
      const auto m = process.read<std::uint64_t>(proc::VirtAddr(regs.gp.r14 + bi.g_m_offset()));
      const auto curg = m ? process.read<std::uint64_t>(proc::VirtAddr(m + bi.m_curg_offset())) : 0;
      if (curg)
        goid = process.read<std::int64_t>(proc::VirtAddr(curg + bi.goid_offset()));
    } catch (const proc::Error&) {
    }
  }
  ev.goid = goid;
  if (site.goexit) {
    ev.kind = TraceEvent::Kind::goroutine_exit;
    return ev;
  }
  regs.gp.rip = site.report_pc.value();
  ev.pc = regs.gp.rip;
  ev.sp = regs.gp.rsp;
  ev.inlined = site.inlined;
  if (!site.is_return) {
    std::uint64_t ret = 0;
    if (mem(regs.gp.rsp, std::as_writable_bytes(std::span(&ret, 1))))
      ev.caller_pc = ret;
  }
  const std::uint64_t cfa = site.cfa_offset
                                ? regs.gp.rsp + static_cast<std::uint64_t>(*site.cfa_offset)
                                : regs.gp.rbp + 16;
  RegisterFn read_reg;
  if (live) {
    // General registers from the record (the capture code's own are not the program's);
    // xmm registers live: the capture does not touch them.
    read_reg = thread_register_reader(process, tid, regs);
  } else if (site.xmm_spilled) {
    // The trampoline stored xmm0-14 below rsp, and the plan captured them.
    read_reg = [regs, &mem](unsigned regno) -> std::optional<std::uint64_t> {
      if (regno >= 17 && regno < 17 + kSpilledXmm) {
        std::uint64_t v = 0;
        if (mem(regs.gp.rsp - 8 * (regno - 17 + 1), std::as_writable_bytes(std::span(&v, 1))))
          return v;
        return std::nullopt;
      }
      return regs.by_dwarf_number(regno);
    };
  } else {
    read_reg = [regs](unsigned regno) { return regs.by_dwarf_number(regno); };
  }
  ValueLoader loader(bi, mem);
  loader.set_location_text(false);
  ev.values = load_trace_values(loader, *site.function, site.inlined, site.is_return,
                                site.deferreturn, ev.pc, cfa, read_reg, opts.load);
  if (opts.stack_depth > 0)
    unwind_frames(bi, mem, site.deferreturn || site.inlined != nullptr, regs, opts.stack_depth, ev);
  return ev;
}

}  // namespace goscope::target::capture

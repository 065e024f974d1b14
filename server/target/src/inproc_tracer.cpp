#include "target/inproc_tracer.hpp"

#include <time.h>
#include <x86intrin.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "capture_plan.hpp"
#include "engine_run.hpp"
#include "inproc_codegen.hpp"
#include "inproc_ring.hpp"
#include "live_pcs.hpp"
#include "proc/disassembler.hpp"
#include "proc/error.hpp"
#include "proc/process.hpp"
#include "record_event.hpp"
#include "target/binary_info.hpp"
#include "target/readers.hpp"
#include "target/value_loader.hpp"
#include "target/variable_visibility.hpp"
#include "trampolines.hpp"

namespace goscope::target {
namespace {

/// Writers wait (trap to goscope) only when this much is unconsumed: with the consumer
/// polling every kPollMs it is rare. Mapped into both processes (shared pages).
constexpr std::uint64_t kRingCapacity = 8u << 20;
constexpr int kPollMs = 2;

/// Whether the moved instructions need something the capture code clobbers (R12, R13, the
/// flags): Go never keeps a value there across a function's entry or RET, but assembly may.
/// A conditional jump, cmov or set reads flags that a moved `cmp`, `test` or arithmetic
/// instruction before it wrote (they all set CF, ZF, SF, OF and PF): the capture code ran
/// before that writer (entries) and the flags it left do not matter.
bool moved_code_conflicts(std::span<const std::byte> code, proc::VirtAddr at) {
  bool flags_written = false;
  for (const auto& insn : proc::disassemble(code, at)) {
    const auto& t = insn.text;
    const auto mnemonic = std::string_view(t).substr(0, t.find(' '));
    if (t.find("r12") != std::string::npos || t.find("r13") != std::string::npos ||
        mnemonic.starts_with("adc") || mnemonic.starts_with("sbb") ||
        mnemonic.starts_with("pushf") || mnemonic == "lahf" || mnemonic == "rcl" ||
        mnemonic == "rcr" || mnemonic == "cmc" || mnemonic.starts_with("loop") ||
        mnemonic.starts_with("fcmov"))
      return true;
    const bool jcc = mnemonic.starts_with('j') && mnemonic != "jmp" && !mnemonic.ends_with("cxz");
    if ((jcc || mnemonic.starts_with("cmov") || mnemonic.starts_with("set")) && !flags_written)
      return true;
    if (mnemonic == "cmp" || mnemonic == "test" || mnemonic == "add" || mnemonic == "sub" ||
        mnemonic == "and" || mnemonic == "or" || mnemonic == "xor")
      flags_written = true;
  }
  return false;
}

}  // namespace

struct InprocTracer::Impl {
  struct Site {
    const dwarf::Function* function = nullptr;
    const dwarf::InlinedCall* inlined = nullptr;
    bool is_return = false;
    bool deferreturn = false;
    bool goexit = false;
    proc::VirtAddr addr;       ///< where a trap goes (no trampoline)
    proc::VirtAddr report_pc;  ///< the pc the event reports
    std::optional<std::size_t> tramp;
    bool ret_part = false;  ///< the return probe of a combined (leaf) trampoline
    /// An inlined copy inside `tramp`'s moved range, past only `cmp`/`test`: its code runs
    /// after the entry's (Trampolines::shares_entry_state).
    bool shared = false;
    /// A RET without a trampoline: (trampoline, stub) where a moved jump to it runs its code
    /// (Trampolines::add_ret_stub); other paths to it still trap.
    std::vector<std::pair<std::size_t, std::size_t>> stubs;
    bool recorded() const { return tramp.has_value() || !stubs.empty(); }
    bool spill_xmm = false;
    std::optional<std::int64_t> cfa_offset;
    capture::Plan plan;
    std::uint32_t slot_size = 0;
  };

  proc::Process& process;
  const BinaryInfo& bi;
  TraceOptions opts;
  std::vector<Site> sites;
  std::unordered_set<proc::VirtAddr> addrs;
  capture::GOffsets g{};
  Trampolines tramps{bi};
  Tracer traps{process, bi, opts};
  bool process_not_started = false;
  /// The process has run: a trampoline is installed only where nothing may go on inside
  /// the code it moves (live_pcs.hpp).
  bool attached = false;
  std::optional<std::uint64_t> unsafe_sites;
  bool prepared = false;

  std::unique_ptr<inproc::SharedRing> ring;
  /// Absolute addresses in the process: a faulting read -> its recovery code; the byte after
  /// each trap of the capture code (rip at the SIGTRAP) -> the site.
  std::unordered_map<std::uint64_t, std::uint64_t> fixups;
  std::unordered_map<std::uint64_t, std::size_t> throttle_traps, complete_traps;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> code_ranges;

  /// TSC -> CLOCK_MONOTONIC: the capture code stamps records with rdtsc (no system call);
  /// every event of this engine, trapped ones included, is stamped on the same scale so that
  /// one goroutine's events keep their order.
  std::uint64_t tsc_ref = 0, ns_ref = 0;
  double ns_per_tick = 1.0;

  /// Serializes the ring, the observer and the queues below (consumer and ptrace threads).
  std::mutex mu;
  TraceObserver* observer = nullptr;
  /// Events of trapped sites, with the ring's head when they were hit: every record the
  /// goroutine wrote before is below it, every later one at or above it.
  std::deque<std::pair<std::uint64_t, TraceEvent>> deferred;
  /// Events built at a completion stop, by their record's position (committed after).
  std::unordered_map<std::uint64_t, std::optional<TraceEvent>> prebuilt;
  std::uint64_t events = 0, stops = 0, late_reads = 0, waits = 0, faults = 0, lost = 0;
  /// GOSCOPE_DEBUG: hits per trapped site, to tell which sites cost stops.
  const bool debug = std::getenv("GOSCOPE_DEBUG") != nullptr;
  std::unordered_map<std::uint64_t, std::uint64_t> trap_hits;

  void print_hot_traps() const {
    std::vector<std::pair<std::uint64_t, std::uint64_t>> hot(trap_hits.begin(), trap_hits.end());
    std::sort(hot.begin(), hot.end(),
              [](const auto& a, const auto& b) { return a.second > b.second; });
    if (hot.size() > 10)
      hot.resize(10);
    for (const auto& [pc, n] : hot) {
      const Site* site = nullptr;
      for (const auto& s : sites)
        if (s.addr.value() == pc)
          site = &s;
      const char* kind = site == nullptr     ? "?"
                         : site->inlined     ? "inlined copy"
                         : site->goexit      ? "goexit"
                         : site->deferreturn ? "deferreturn"
                         : site->is_return   ? "RET"
                                             : "entry";
      std::fprintf(stderr, "goscope: inproc: trapped %llu x %s %s at %#llx\n",
                   static_cast<unsigned long long>(n), kind,
                   site ? (site->inlined ? site->inlined->name : site->function->name).c_str() : "",
                   static_cast<unsigned long long>(pc));
    }
  }

  Impl(proc::Process& p, const BinaryInfo& b, TraceOptions o) : process(p), bi(b), opts(o) {
    const auto hi = std::max(
        {bi.goid_offset(), bi.stack_hi_offset(), bi.stackguard0_offset(), bi.g_m_offset()});
    g.len = static_cast<std::uint32_t>(hi + 8);
    g.goid = static_cast<std::uint32_t>(bi.goid_offset());
  }

  std::uint64_t now_ns() const {
    const auto d = static_cast<double>(static_cast<std::int64_t>(__rdtsc() - tsc_ref));
    return ns_ref + static_cast<std::uint64_t>(static_cast<std::int64_t>(d * ns_per_tick));
  }
  std::uint64_t tsc_to_ns(std::uint64_t tsc) const {
    const auto d = static_cast<double>(static_cast<std::int64_t>(tsc - tsc_ref));
    return ns_ref + static_cast<std::uint64_t>(static_cast<std::int64_t>(d * ns_per_tick));
  }

  std::optional<std::int64_t> body_cfa_offset(proc::VirtAddr pc) const {
    if (auto row = bi.debug().frames().row_at(bi.to_file(pc)); row && row->cfa_register == 7)
      return row->cfa_offset;
    return std::nullopt;
  }

  void add_site(Site s) {
    addrs.insert(s.addr);
    sites.push_back(std::move(s));
  }

  void plan_site(Site& s) {
    capture::SiteSpec spec;
    spec.vars = traced_variables(bi, *s.function, s.inlined, s.is_return, s.report_pc.value());
    spec.pc = bi.to_file(s.report_pc);
    spec.cfa_offset = s.cfa_offset;
    if (s.is_return && !s.deferreturn && s.function->optimized)
      spec.abi_function = s.function;
    spec.stack_depth = opts.stack_depth;
    spec.xmm_spilled = !s.is_return && s.spill_xmm;
    s.plan = capture::make_plan(bi, spec, opts.load);
    capture::layout(s.plan, g.len);
    s.slot_size = inproc::slot_size(s.plan);
  }

  static std::pair<std::uint64_t, std::uint64_t> clock_pair() {
    const auto t = __rdtsc();
    return {t, trace_clock_ns()};
  }
  /// The calibration's first (tsc, CLOCK_MONOTONIC) pair, read when the engine is made: the
  /// planning in between (tens to hundreds of milliseconds) is most of the 20 ms the
  /// calibration needs, so it rarely has to sleep.
  const std::pair<std::uint64_t, std::uint64_t> clock_start = clock_pair();

  void calibrate_clock() {
    // Two (tsc, CLOCK_MONOTONIC) pairs at least 20 ms apart; each pair read back to back.
    const auto [t0, n0] = clock_start;
    constexpr std::uint64_t kSpanNs = 20'000'000;
    if (const auto now = trace_clock_ns(); now < n0 + kSpanNs)
      std::this_thread::sleep_for(std::chrono::nanoseconds(n0 + kSpanNs - now));
    const auto [t1, n1] = clock_pair();
    if (t1 > t0 && n1 > n0)
      ns_per_tick = static_cast<double>(n1 - n0) / static_cast<double>(t1 - t0);
    tsc_ref = t1;
    ns_ref = n1;
  }

  /// Sets everything up; where the ring or the trampolines cannot be installed every site
  /// traps.
  /// Attached: the trampolines whose moved code a thread or a goroutine may go on in are
  /// given up (every one, when the goroutines' stacks cannot be read).
  void drop_unsafe_trampolines() {
    const auto pcs = resumable_pcs(process, bi);
    std::uint64_t n = 0;
    for (auto& s : sites) {
      if (s.tramp && !pcs) {
        ++n;
        drop_tramp(*s.tramp);
      }
    }
    if (pcs) {
      for (const auto t : tramps.holding(*pcs)) {
        for (const auto& s : sites) n += s.tramp == t ? 1 : 0;
        drop_tramp(t);
      }
    }
    unsafe_sites = n;
  }

  void install() {
    if (attached)
      drop_unsafe_trampolines();
    // Trampolines whose moved code needs what the capture code clobbers are given up.
    for (auto& s : sites) {
      if (s.tramp && moved_code_conflicts(tramps.moved(*s.tramp), tramps.patch_address(*s.tramp)))
        drop_tramp(*s.tramp);
    }
    // A trap left on the original code must not sit in code a trampoline moves; an inlined
    // copy where the entry's state still holds records in the entry's trampoline.
    for (bool changed = true; changed;) {
      changed = false;
      for (auto& s : sites) {
        if (s.tramp)
          continue;
        if (auto t = tramps.covering(s.addr)) {
          if (s.inlined && tramps.shares_entry_state(*t, s.addr)) {
            s.tramp = t;
            s.shared = true;
            continue;
          }
          drop_tramp(*t);
          changed = true;
        }
      }
    }
    calibrate_clock();
    if (!tramps.empty()) {
      try {
        install_trampolines();
      } catch (const proc::Error& e) {
        if (std::getenv("GOSCOPE_DEBUG"))
          std::fprintf(stderr, "goscope: inproc: no trampolines: %s\n", e.what());
        ring.reset();
        fixups.clear();
        throttle_traps.clear();
        complete_traps.clear();
        code_ranges.clear();
        for (auto& s : sites) {
          s.tramp.reset();
          s.ret_part = false;
          s.shared = false;
          s.stubs.clear();
        }
      }
    }
    if (std::getenv("GOSCOPE_DEBUG")) {
      std::size_t moved = 0, entry = 0, ret = 0, defer = 0, inl = 0, other = 0, shared = 0,
                  stubbed = 0;
      for (const auto& s : sites) {
        shared += s.shared ? 1 : 0;
        stubbed += s.stubs.empty() ? 0 : 1;
        if (s.tramp)
          ++moved;
        else if (s.inlined)
          ++inl;
        else if (s.deferreturn)
          ++defer;
        else if (s.goexit)
          ++other;
        else if (s.is_return)
          ++ret;
        else
          ++entry;
      }
      std::fprintf(stderr,
                   "goscope: inproc: %zu sites in trampolines (%zu inlined copies sharing an "
                   "entry's); traps: %zu entries, %zu RETs (%zu also reached through a moved "
                   "jump's stub), %zu deferreturn calls, %zu inlined copies, %zu other\n",
                   moved, shared, entry, ret, stubbed, defer, inl, other);
    }
    for (const auto& s : sites) {
      if (s.tramp)
        continue;
      Tracer::Site t;
      t.function = s.function;
      t.is_return = s.is_return;
      t.deferreturn = s.deferreturn;
      t.goexit = s.goexit;
      t.inlined = s.inlined;
      traps.add_trap(s.addr, t);
    }
  }

  /// Gives trampoline `t` up: its sites (two for a combined one) trap instead.
  void drop_tramp(std::size_t t) {
    tramps.drop(t);
    for (auto& s : sites) {
      if (s.tramp == t) {
        s.tramp.reset();
        s.ret_part = false;
        s.shared = false;
      }
    }
  }

  void install_trampolines() {
    const auto syscall_insn = find_syscall_instruction(bi);
    if (!syscall_insn)
      proc::Error::send("no syscall instruction in .text");
    ring = std::make_unique<inproc::SharedRing>(kRingCapacity);
    ring->map_into(process, process.pid(), *syscall_insn);
    inproc::CodegenParams params;
    params.ring = ring->remote_base();
    params.capacity = ring->capacity();
    params.g = g;
    params.g_m = static_cast<std::uint32_t>(bi.g_m_offset());
    if (const auto* m = bi.debug().find_type("runtime.m"))
      if (const auto* f = m->resolved()->field("procid"))
        params.m_procid = static_cast<std::uint32_t>(f->offset);
    for (auto& s : sites) {
      if (s.tramp) {
        plan_site(s);
        if (s.slot_size > kRingCapacity / 4)
          drop_tramp(*s.tramp);
      }
    }
    std::vector<std::optional<inproc::SiteCode>> code(sites.size());
    // Shared probes run in the order of their sites' addresses (the program's order).
    std::vector<std::size_t> order(sites.size());
    for (std::size_t i = 0; i < sites.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      return sites[a].addr.value() < sites[b].addr.value();
    });
    std::vector<std::size_t> shared_index(sites.size(), 0);
    for (const auto i : order) {
      auto& s = sites[i];
      if (!s.tramp)
        continue;
      code[i] = inproc::compile(s.plan, static_cast<std::uint32_t>(i), params);
      if (s.shared)
        shared_index[i] = tramps.add_shared_probe_code(*s.tramp, code[i]->bytes);
      else if (s.ret_part)
        tramps.set_return_probe_code(*s.tramp, code[i]->bytes);
      else
        tramps.set_probe_code(*s.tramp, code[i]->bytes);
    }
    add_ret_stubs(params, code);
    tramps.install(process, process.pid());
    auto add_code = [&](std::size_t i, std::uint64_t base) {
      const auto& c = *code[i];
      for (const auto& [at, rec] : c.fixups) fixups[base + at] = base + rec;
      throttle_traps[base + c.throttle_trap + 1] = i;
      complete_traps[base + c.complete_trap + 1] = i;
      code_ranges.emplace_back(base, base + c.bytes.size());
    };
    for (std::size_t i = 0; i < sites.size(); ++i) {
      const auto& s = sites[i];
      if (!code[i])
        continue;
      for (const auto& [t, k] : s.stubs) add_code(i, tramps.ret_stub_address(t, k).value());
      if (!s.tramp)
        continue;
      add_code(i, (s.shared     ? tramps.shared_probe_address(*s.tramp, shared_index[i])
                   : s.ret_part ? tramps.return_probe_address(*s.tramp)
                                : tramps.probe_address(*s.tramp))
                      .value());
    }
  }

  /// RETs that trap (no trampoline of their own) but are the target of a jump a trampoline
  /// moves: that jump goes to a stub running the RET's code instead, so the paths through
  /// it (often the hot ones: `ja ret` right after a leaf's entry) need no stop.
  void add_ret_stubs(const inproc::CodegenParams& params,
                     std::vector<std::optional<inproc::SiteCode>>& code) {
    std::unordered_map<std::uint64_t, std::vector<std::size_t>> by_target;
    for (std::size_t t = 0; t < tramps.size(); ++t) {
      if (tramps.dropped(t))
        continue;
      for (const auto target : tramps.moved_branch_targets(t)) by_target[target].push_back(t);
    }
    if (by_target.empty())
      return;
    for (std::size_t i = 0; i < sites.size(); ++i) {
      auto& s = sites[i];
      if (s.tramp || !s.is_return || s.deferreturn || s.goexit || s.inlined)
        continue;
      const auto it = by_target.find(s.addr.value());
      if (it == by_target.end())
        continue;
      plan_site(s);
      if (s.slot_size > kRingCapacity / 4)
        continue;
      code[i] = inproc::compile(s.plan, static_cast<std::uint32_t>(i), params);
      for (const auto t : it->second) {
        if (auto k = tramps.add_ret_stub(t, s.addr, code[i]->bytes))
          s.stubs.emplace_back(t, *k);
      }
      if (s.stubs.empty())
        code[i].reset();
    }
  }

  // --- Events -------------------------------------------------------------------------

  void emit(std::optional<TraceEvent>&& ev) {
    if (ev)
      observer->on_event(std::move(*ev));
  }

  /// Trapped sites' events whose goroutine has no record left before `pos`. Caller holds mu.
  void emit_deferred(std::uint64_t pos) {
    while (!deferred.empty() && deferred.front().first <= pos) {
      observer->on_event(std::move(deferred.front().second));
      deferred.pop_front();
    }
  }

  // Caller holds mu.
  void drain() {
    if (!ring) {
      emit_deferred(~0ULL);
      return;
    }
    ring->consume([&](std::uint64_t pos, std::span<const std::byte> rec) {
      emit_deferred(pos);
      handle_record(pos, rec);
    });
    // A trapped event waits only for records reserved before it.
    emit_deferred(ring->tail());
  }

  // Caller holds mu.
  void handle_record(std::uint64_t pos, std::span<const std::byte> rec) {
    capture::RecordHeader h;
    std::memcpy(&h, rec.data(), sizeof h);
    const auto site = h.cookie & 0xffffffffu;
    if (site >= sites.size() || !sites[site].recorded() || rec.size() < sites[site].plan.size) {
      ++lost;  // not a record of ours: the process wrote over the ring
      return;
    }
    ++events;
    if (h.flags & capture::kFlagComplete) {
      if (auto it = prebuilt.find(pos); it != prebuilt.end()) {
        emit(std::move(it->second));
        prebuilt.erase(it);
        return;
      }
      // No stop was made (the ring was disabled first): what was captured is reported.
    }
    emit(build_event(rec, std::nullopt));
  }

  /// The event of a record; `live_tid`: that thread is stopped at the hit's completion, so
  /// what the capture lacks is read from the process.
  std::optional<TraceEvent> build_event(std::span<const std::byte> rec,
                                        std::optional<pid_t> live_tid) {
    capture::RecordHeader h;
    std::memcpy(&h, rec.data(), sizeof h);
    const auto rs = capture::record_site_of(sites[h.cookie & 0xffffffffu]);
    auto ev = capture::event_from_record(process, bi, g, opts, rec, rs, live_tid, late_reads);
    // The capture code stamps with rdtsc.
    ev.time_ns = ev.hit_ns = tsc_to_ns(h.time_ns);
    return ev;
  }

  // --- Slow paths, on the ptrace thread -------------------------------------------------

  /// A thread at a trapped site (no trampoline there).
  void trapped(pid_t tid, proc::VirtAddr pc) {
    // Stamped on this engine's clock (see tsc_ref), before the thread runs on: its next
    // record is later.
    const auto hit = now_ns();
    if (debug)
      ++trap_hits[pc.value()];
    auto ev = traps.trap_event(tid, pc);
    if (ev) {
      ev->hit_ns = ev->time_ns = hit;
      std::lock_guard lk(mu);
      ++events;
      ++stops;
      // Queued before the thread runs on: its next record must not overtake this event.
      if (!ring) {
        observer->on_event(std::move(*ev));
      } else {
        // A call starts for the program when its thread runs again (about now).
        if (ev->kind == TraceEvent::Kind::call)
          ev->time_ns = now_ns();
        deferred.emplace_back(ring->head(), std::move(*ev));
      }
    }
    process.resume_thread(tid);
  }

  /// A writer stopped before committing a record that asks for a completion: its slot is in
  /// R12. The event is built now, live, and waits for the consumer to reach the record.
  void complete(pid_t tid, const proc::Registers& regs, std::size_t site) {
    std::lock_guard lk(mu);
    ++stops;
    const auto pos = ring->position_of(regs.gp.r12);
    const auto rec = ring->slot_at(pos, sites[site].slot_size).subspan(8);
    capture::RecordHeader h;
    std::memcpy(&h, rec.data(), sizeof h);
    if ((h.cookie & 0xffffffffu) != site)
      return;  // not the slot it reserved: left to the consumer, reported as captured
    auto ev = build_event(rec, tid);
    // A call starts for the program when its thread runs again: the stop is not its time.
    if (ev && ev->kind == TraceEvent::Kind::call)
      ev->time_ns = now_ns();
    prebuilt[pos] = std::move(ev);
  }

  /// A writer waiting for room: drain, and let it retry.
  void throttled() {
    std::size_t drained = 0;
    {
      std::lock_guard lk(mu);
      ++waits;
      drained = ring->consume([&](std::uint64_t pos, std::span<const std::byte> rec) {
        emit_deferred(pos);
        handle_record(pos, rec);
      });
    }
    // The slot in the way is being written by a thread that is running: give it time.
    if (drained == 0)
      std::this_thread::sleep_for(std::chrono::microseconds(50));
  }

  bool in_capture_code(std::uint64_t pc) const {
    return std::any_of(code_ranges.begin(), code_ranges.end(),
                       [&](const auto& r) { return pc >= r.first && pc < r.second; });
  }

  /// Handles a signal stop that the capture code caused; false if the signal is the
  /// program's.
  bool own_signal(const proc::StopEvent& ev) {
    if (!ring)
      return false;
    if (ev.signal == SIGSEGV || ev.signal == SIGBUS) {
      auto regs = process.registers(ev.tid);
      auto it = fixups.find(regs.gp.rip);
      if (it == fixups.end())
        return false;
      // A read of a bad pointer: the program never sees the fault; the read is failed.
      regs.gp.rip = it->second;
      process.set_registers(ev.tid, regs);
      std::lock_guard lk(mu);
      ++faults;
      return true;
    }
    if (ev.signal != SIGTRAP)
      return false;
    const auto regs = process.registers(ev.tid);
    if (throttle_traps.contains(regs.gp.rip)) {
      throttled();
      return true;
    }
    if (auto it = complete_traps.find(regs.gp.rip); it != complete_traps.end()) {
      complete(ev.tid, regs, it->second);
      return true;
    }
    return false;
  }

  /// Before a detach: threads stopped inside capture code are stepped out of it (the ring
  /// is disabled first, so no trap waits for them there), so that none is left where a
  /// fault would reach the program.
  void leave_capture_code() {
    for (const auto tid : process.threads()) {
      for (int steps = 0; steps < 1'000'000; ++steps) {
        proc::Registers regs;
        try {
          regs = process.registers(tid);
        } catch (const proc::Error&) {
          break;
        }
        if (!in_capture_code(regs.gp.rip))
          break;
        process.step_instruction(tid);
        const auto ev = process.wait_event();
        using K = proc::StopEvent::Kind;
        if (ev.kind == K::signal && (ev.signal == SIGSEGV || ev.signal == SIGBUS)) {
          auto r = process.registers(ev.tid);
          if (auto it = fixups.find(r.gp.rip); it != fixups.end()) {
            r.gp.rip = it->second;
            process.set_registers(ev.tid, r);
          }
        } else if (ev.kind != K::single_step) {
          return;  // the process ended or something else happened: leave it as it is
        }
      }
    }
  }
};

InprocTracer::InprocTracer(proc::Process& process, const BinaryInfo& bi, TraceOptions opts)
    : impl_(std::make_unique<Impl>(process, bi, opts)) {
  impl_->tramps.set_combine_leaf_returns(true);
}

InprocTracer::~InprocTracer() = default;

void InprocTracer::set_process_not_started(bool not_started) {
  impl_->process_not_started = not_started;
}

void InprocTracer::set_attached() {
  impl_->process_not_started = true;
  impl_->attached = true;
}

bool InprocTracer::trace_function(const dwarf::Function& fn) {
  Impl& im = *impl_;
  const auto entry = entry_tracepoint(im.bi, fn);
  if (im.addrs.contains(entry))
    return false;
  Impl::Site s;
  s.function = &fn;
  s.addr = entry;
  s.report_pc = entry;
  s.cfa_offset = 8;
  if (im.process_not_started) {
    s.spill_xmm = Trampolines::has_float_arguments(fn);
    s.tramp = im.tramps.add_entry(fn, s.spill_xmm, entry);
  }
  im.add_site(std::move(s));
  for (const auto& rs : im.bi.return_sites(fn)) {
    if (im.addrs.contains(rs.addr))
      continue;
    Impl::Site r;
    r.function = &fn;
    r.addr = rs.addr;
    r.report_pc = rs.addr;
    r.is_return = true;
    r.deferreturn = rs.deferreturn;
    r.cfa_offset = rs.deferreturn ? im.body_cfa_offset(rs.addr) : std::optional<std::int64_t>(8);
    if (rs.deferreturn && im.process_not_started && r.cfa_offset) {
      r.tramp = im.tramps.add_call(fn, rs.addr);
    } else if (!rs.deferreturn && im.process_not_started) {
      r.tramp = im.tramps.add_return(fn, rs.addr);
      r.ret_part = r.tramp && im.tramps.combined(*r.tramp);
    }
    im.add_site(std::move(r));
  }
  return true;
}

bool InprocTracer::trace_inlined(const dwarf::InlinedCall& call) {
  Impl& im = *impl_;
  if (call.caller == nullptr)
    return false;
  const auto entry = im.bi.to_virt(call.entry);
  if (im.addrs.contains(entry))
    return false;
  Impl::Site s;
  s.function = call.caller;
  s.inlined = &call;
  s.addr = entry;
  s.report_pc = entry;
  s.cfa_offset = im.body_cfa_offset(entry);
  // Inside a body any register may be live: a trampoline only where the capture code's
  // scratch registers and the flags are dead (Trampolines::scratch_dead_at), and with a
  // frame whose CFA is rsp-based (the plan reads the stack relative to rsp).
  if (im.process_not_started && s.cfa_offset)
    s.tramp = im.tramps.add_inline(*call.caller, entry);
  im.add_site(std::move(s));
  return true;
}

std::size_t InprocTracer::tracepoint_count() const {
  return impl_->sites.size();
}

TraceEngineStats InprocTracer::stats() const {
  const Impl& im = *impl_;
  TraceEngineStats st{"inproc", im.events, im.stops, im.lost, im.late_reads};
  st.waits = im.waits;
  st.faults = im.faults;
  st.unsafe_sites = im.unsafe_sites;
  for (const auto& s : im.sites) st.moved_sites += s.tramp ? 1 : 0;
  return st;
}

void InprocTracer::prepare() {
  Impl& im = *impl_;
  if (im.prepared)
    return;
  if (im.opts.goroutine_exits) {
    if (const auto* fn = im.bi.debug().find_function("runtime.goexit1")) {
      const auto addr = entry_tracepoint(im.bi, *fn);
      if (!im.addrs.contains(addr)) {
        Impl::Site s;
        s.function = fn;
        s.goexit = true;
        s.addr = addr;
        s.report_pc = addr;
        im.add_site(std::move(s));
      }
    }
  }
  im.install();
  im.prepared = true;
}

TraceExit InprocTracer::run(TraceObserver& observer) {
  Impl& im = *impl_;
  prepare();
  im.observer = &observer;
  EngineRunHooks h;
  h.own_event = [&im](const proc::StopEvent& ev) {
    if (ev.kind == proc::StopEvent::Kind::breakpoint) {
      if (!im.traps.has_trap(ev.pc))
        return false;
      im.trapped(ev.tid, ev.pc);  // resumes the thread
      return true;
    }
    if (!im.own_signal(ev))
      return false;
    im.process.resume_thread(ev.tid);
    return true;
  };
  h.wait = [] { std::this_thread::sleep_for(std::chrono::milliseconds(kPollMs)); };
  h.drain = [&im] { im.drain(); };
  h.on_end = [&im](const TraceExit& result) {
    if (im.ring && result.kind == TraceExit::Kind::interrupted) {
      // Detach: the capture code records nothing from now on (and never traps), no thread
      // is left inside it, and the original code is back. The mappings stay (a thread may
      // have been preempted inside a trampoline's moved instructions); they are inert.
      try {
        im.ring->set_enabled(false);
        im.leave_capture_code();
        im.tramps.uninstall(im.process);
      } catch (const proc::Error&) {
        // The process is gone: nothing to restore.
      }
    }
  };
  h.after_drain = [&im](const TraceExit&) {
    // Whatever waits for a record that was never committed (the process ended inside the
    // capture code) goes out now.
    im.emit_deferred(~0ULL);
    for (auto& [pos, ev] : im.prebuilt) im.emit(std::move(ev));
    im.prebuilt.clear();
    if (im.ring && im.ring->corrupt()) {
      // The program wrote over the ring: what was left in it is lost, and said so.
      ++im.lost;
      std::fprintf(stderr,
                   "goscope: the traced program overwrote the trace ring; events after "
                   "that point were lost\n");
    }
    if (im.debug) {
      std::fprintf(stderr, "goscope: inproc: %llu ring waits, %llu faults recovered\n",
                   static_cast<unsigned long long>(im.waits),
                   static_cast<unsigned long long>(im.faults));
      im.print_hot_traps();
    }
  };
  return run_engine(im.process, im.mu, h);
}

}  // namespace goscope::target

#include "target/uprobe_tracer.hpp"

#include <time.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "capture_plan.hpp"
#include "engine_run.hpp"
#include "live_pcs.hpp"
#include "ordered_events.hpp"
#include "proc/bpf.hpp"
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

namespace bpf = proc::bpf;

/// The consumer drains on a timer or when an eighth of it fills; a thread that finds it
/// three quarters full waits for it (kFlagThrottle): nothing is lost, so it can be small
/// (it is mapped twice: twice its size in resident memory).
constexpr std::size_t kRingSize = 4u << 20;
/// The consumer's poll period when the programs do not wake it.
constexpr int kPollMs = 4;

}  // namespace

struct UprobeTracer::Impl {
  struct Site {
    const dwarf::Function* function = nullptr;
    const dwarf::InlinedCall* inlined = nullptr;
    bool is_return = false;
    bool deferreturn = false;
    bool goexit = false;
    proc::VirtAddr addr;                     ///< where the probe is
    proc::VirtAddr report_pc;                ///< the pc the event reports (an entry's first byte)
    std::optional<std::size_t> tramp;        ///< probed in this trampoline instead of at addr
    bool spill_xmm = false;                  ///< its trampoline stores xmm0-14 below rsp
    std::optional<std::int64_t> cfa_offset;  ///< CFA = rsp + this
    /// An entry with a stack-split check: its jbe. Without a trampoline the probe goes
    /// there (the kernel emulates a jbe, not the `sub rsp, N` after it), and the program
    /// records nothing when the jbe branches (skip_if_jbe_taken).
    std::optional<proc::VirtAddr> check_jbe;
    bool skip_if_jbe_taken = false;
    capture::Plan plan;
  };

  proc::Process& process;
  const BinaryInfo& bi;
  TraceOptions opts;
  std::vector<Site> sites;
  std::unordered_set<proc::VirtAddr> addrs;
  capture::GOffsets g{};
  Trampolines tramps{bi};
  bool process_not_started = false;
  /// The process has run: see UprobeTracer::set_attached.
  bool attached = false;
  std::optional<std::uint64_t> unsafe_sites;

  std::optional<bpf::Map> scratch, stats_map;
  std::unique_ptr<bpf::RingBuffer> ring;
  std::vector<bpf::Program> programs;
  std::vector<bpf::Uprobe> probes;
  std::vector<bpf::Link> links;
  std::vector<bpf::MultiLink> multi_links;

  /// Serializes draining the ring buffer, the observer and the queues below (the consumer
  /// thread and the ptrace thread, at completions, both drain).
  std::mutex mu;
  TraceObserver* observer = nullptr;
  /// Records waiting for their thread's completion stop, oldest first.
  std::unordered_map<pid_t, std::deque<std::vector<std::byte>>> pending;
  /// Each goroutine's events in the order it hit the probes (see ordered_events.hpp).
  OrderedEvents ordered{[this](TraceEvent&& ev) { observer->on_event(std::move(ev)); }};
  bool prepared = false;
  std::uint64_t events = 0, stops = 0, late_reads = 0, lost = 0;

  Impl(proc::Process& p, const BinaryInfo& b, TraceOptions o) : process(p), bi(b), opts(o) {
    const auto hi = std::max(
        {bi.goid_offset(), bi.stack_hi_offset(), bi.stackguard0_offset(), bi.g_m_offset()});
    g.len = static_cast<std::uint32_t>(hi + 8);
    g.goid = static_cast<std::uint32_t>(bi.goid_offset());
  }

  std::optional<std::int64_t> body_cfa_offset(proc::VirtAddr pc) const {
    if (auto row = bi.debug().frames().row_at(bi.to_file(pc)); row && row->cfa_register == 7)
      return row->cfa_offset;
    return std::nullopt;
  }

  void add_site(Site s) {
    addrs.insert(s.addr);
    if (s.check_jbe)
      addrs.insert(*s.check_jbe);
    sites.push_back(std::move(s));
  }

  void plan_site(Site& s) {
    if (s.goexit) {
      s.plan.skip_if_jbe_taken = s.skip_if_jbe_taken;
      return;
    }
    capture::SiteSpec spec;
    spec.vars = traced_variables(bi, *s.function, s.inlined, s.is_return, s.report_pc.value());
    spec.pc = bi.to_file(s.report_pc);
    spec.cfa_offset = s.cfa_offset;
    if (s.is_return && !s.deferreturn && s.function->optimized)
      spec.abi_function = s.function;
    spec.stack_depth = opts.stack_depth;
    // An entry trampoline stores the xmm registers below rsp before its probe.
    spec.xmm_spilled = s.tramp.has_value() && !s.is_return && s.spill_xmm;
    spec.skip_if_jbe_taken = s.skip_if_jbe_taken;
    s.plan = capture::make_plan(bi, spec, opts.load);
  }

  void attach_all() {
    if (attached) {
      // Code moves only where no thread and no goroutine may go on inside it.
      const auto pcs = resumable_pcs(process, bi);
      std::uint64_t n = 0;
      auto drop = [&](std::size_t t) {
        tramps.drop(t);
        for (auto& s : sites) {
          if (s.tramp == t) {
            s.tramp.reset();
            ++n;
          }
        }
      };
      if (!pcs) {
        for (const auto& s : sites)
          if (s.tramp)
            drop(*s.tramp);
      } else {
        for (const auto t : tramps.holding(*pcs)) drop(t);
      }
      unsafe_sites = n;
    }
    // A probe left on the original code must not sit in code a trampoline moves.
    for (const auto& s : sites) {
      if (s.tramp)
        continue;
      if (auto t = tramps.covering(s.addr)) {
        tramps.drop(*t);
        for (auto& other : sites)
          if (other.tramp == t)
            other.tramp.reset();
      }
    }
    if (!tramps.empty()) {
      try {
        tramps.install(process, process.pid());
      } catch (const proc::Error& e) {
        // Probe the original instructions instead (slower: single-stepped by the kernel).
        if (std::getenv("GOSCOPE_DEBUG"))
          std::fprintf(stderr, "goscope: no trampolines: %s\n", e.what());
        for (auto& s : sites) s.tramp.reset();
      }
    }
    // Entries left on the original code probe their check's jbe (emulated) rather than the
    // instruction after it (single-stepped), skipping the hits that branch to morestack:
    // the flags are the ones the jbe tests, so each call is still recorded once.
    for (auto& s : sites) {
      if (!s.tramp && s.check_jbe) {
        s.addr = *s.check_jbe;
        s.skip_if_jbe_taken = true;
      }
    }
    std::uint32_t value_size = 8;
    for (auto& s : sites) {
      plan_site(s);
      capture::layout(s.plan, g.len);
      value_size = std::max(value_size, s.plan.size);
    }
    const auto t0 = trace_clock_ns();
    scratch = bpf::Map::create(bpf::Map::Type::percpu_array, 4, value_size, 1, "gs_scratch");
    stats_map = bpf::Map::create(bpf::Map::Type::percpu_array, 4, 8, 1, "gs_stats");
    ring = std::make_unique<bpf::RingBuffer>(kRingSize);
    const auto t1 = trace_clock_ns();
    const capture::ProgramMaps maps{scratch->fd(), ring->map().fd(), stats_map->fd(), kRingSize};
    // Sites with the same capture share its code; one program holds the code of up to
    // kPlansPerProgram captures, so that few links (each costs a grace period to remove)
    // cover every site. cookie = plan index in its program << 32 | site index.
    constexpr std::size_t kPlansPerProgram = 128;
    std::map<std::string, std::size_t> by_code;
    std::vector<const capture::Plan*> distinct;
    std::vector<std::size_t> plan_of(sites.size());
    for (std::size_t i = 0; i < sites.size(); ++i) {
      const capture::Plan* one[] = {&sites[i].plan};
      auto insns = capture::generate(one, maps, g);
      std::string key(reinterpret_cast<const char*>(insns.data()),
                      insns.size() * sizeof(bpf::Insn));
      auto [it, fresh] = by_code.try_emplace(std::move(key), distinct.size());
      if (fresh)
        distinct.push_back(&sites[i].plan);
      plan_of[i] = it->second;
    }
    const std::size_t nprog = (distinct.size() + kPlansPerProgram - 1) / kPlansPerProgram;
    std::vector<std::vector<bpf::Insn>> code(nprog);
    for (std::size_t p = 0; p < nprog; ++p) {
      const auto first = p * kPlansPerProgram;
      const auto n = std::min(kPlansPerProgram, distinct.size() - first);
      code[p] = capture::generate(std::span(distinct).subspan(first, n), maps, g);
    }
    // Per program: the executable's offsets ([0]) and the trampolines' ([1]).
    std::vector<std::array<std::vector<std::uint64_t>, 2>> offsets(nprog), cookies(nprog);
    for (std::size_t i = 0; i < sites.size(); ++i) {
      const auto p = plan_of[i] / kPlansPerProgram;
      const auto cookie = (static_cast<std::uint64_t>(plan_of[i] % kPlansPerProgram) << 32) | i;
      if (sites[i].tramp) {
        offsets[p][1].push_back(tramps.probe_offset(*sites[i].tramp));
        cookies[p][1].push_back(cookie);
        continue;
      }
      const auto off = bi.elf().file_offset(bi.to_file(sites[i].addr));
      if (!off)
        throw proc::Error("no file offset for the tracepoint at " +
                          std::to_string(sites[i].addr.value()));
      offsets[p][0].push_back(*off);
      cookies[p][0].push_back(cookie);
    }
    const std::string paths[2] = {"/proc/" + std::to_string(process.pid()) + "/exe",
                                  tramps.installed() ? tramps.path() : std::string()};
    // One uprobe_multi link per program and file (Linux 6.6); older kernels get a perf
    // event per probe, much slower to remove.
    bool multi = true;
    for (std::size_t p = 0; p < code.size(); ++p) {
      if (multi) {
        try {
          programs.push_back(bpf::Program::load(code[p], "goscope_site", bpf::kUprobeMultiAttach));
          for (int f = 0; f < 2; ++f) {
            if (!offsets[p][f].empty())
              multi_links.push_back(bpf::MultiLink::attach(programs.back(), paths[f], process.pid(),
                                                           offsets[p][f], cookies[p][f]));
          }
          continue;
        } catch (const proc::Error&) {
          if (p > 0 || !multi_links.empty())
            throw;
          multi = false;
          programs.clear();
        }
      }
      programs.push_back(bpf::Program::load(code[p], "goscope_site"));
      for (int f = 0; f < 2; ++f) {
        for (std::size_t k = 0; k < offsets[p][f].size(); ++k) {
          probes.push_back(bpf::Uprobe::open(process.pid(), paths[f], offsets[p][f][k]));
          links.push_back(bpf::Link::attach(programs.back(), probes.back(), cookies[p][f][k]));
        }
      }
    }
    if (std::getenv("GOSCOPE_DEBUG"))
      std::fprintf(stderr, "goscope: maps %.1f ms, %zu programs and %zu probes %.1f ms%s\n",
                   (t1 - t0) / 1e6, programs.size(), sites.size(), (trace_clock_ns() - t1) / 1e6,
                   multi ? " (uprobe_multi)" : "");
  }

  void detach_all() {
    multi_links.clear();
    links.clear();
    probes.clear();
    programs.clear();
    ring.reset();
    scratch.reset();
  }

  std::uint64_t read_lost() const {
    if (!stats_map)
      return 0;
    std::vector<std::uint64_t> values(stats_map->value_bytes() / sizeof(std::uint64_t));
    std::uint32_t key = 0;
    if (!stats_map->lookup(std::as_bytes(std::span(&key, 1)),
                           std::as_writable_bytes(std::span(values))))
      return 0;
    std::uint64_t sum = 0;
    for (auto v : values) sum += v;
    return sum;
  }

  // Caller holds mu.
  void drain() {
    ring->consume([&](std::span<const std::byte> rec) { handle_record(rec); });
  }

  /// The goroutine a record was captured on (0: none in R14, or the system stack).
  std::int64_t record_goid(std::span<const std::byte> rec) const {
    std::uint64_t v = 0;
    const auto off = capture::kGOffset + bi.goid_offset();
    if (bi.goid_offset() + 8 <= g.len && off + 8 <= rec.size())
      std::memcpy(&v, rec.data() + off, 8);
    return static_cast<std::int64_t>(v);
  }

  // Caller holds mu.
  void handle_record(std::span<const std::byte> rec) {
    if (rec.size() < sizeof(capture::RecordHeader))
      return;
    capture::RecordHeader h;
    std::memcpy(&h, rec.data(), sizeof h);
    if ((h.cookie & 0xffffffffu) >= sites.size())
      return;
    ++events;
    const auto tid = static_cast<pid_t>(h.pid_tgid & 0xffffffffu);
    const auto goid = record_goid(rec);
    if (h.flags & capture::kFlagComplete) {
      pending[tid].emplace_back(rec.begin(), rec.end());
      ordered.expect(goid, tid);
      return;
    }
    ordered.add(goid, build_event(rec, false));
  }

  /// The event of a record; `live`: the thread is stopped at a completion, so what the
  /// capture lacks is read from the process.
  std::optional<TraceEvent> build_event(std::span<const std::byte> rec, bool live) {
    capture::RecordHeader h;
    std::memcpy(&h, rec.data(), sizeof h);
    const auto rs = capture::record_site_of(sites[h.cookie & 0xffffffffu]);
    std::optional<pid_t> live_tid;
    if (live)
      live_tid = static_cast<pid_t>(h.pid_tgid & 0xffffffffu);
    return capture::event_from_record(process, bi, g, opts, rec, rs, live_tid, late_reads);
  }

  /// A thread stopped for a completion: its record is in the ring buffer (the program
  /// wrote it before signalling). Caller holds mu.
  void complete(pid_t tid) {
    ++stops;
    drain();
    auto it = pending.find(tid);
    if (it == pending.end()) {
      // Back-pressure (or a completion whose record was lost, counted by the program):
      // drain before the thread runs again.
      for (int i = 0; i < 64 && ring->pending() > kRingSize / 4; ++i) {
        if (ring->consume([&](std::span<const std::byte> rec) { handle_record(rec); }) == 0)
          break;
      }
      return;
    }
    auto rec = std::move(it->second.front());
    it->second.pop_front();
    if (it->second.empty())
      pending.erase(it);
    auto ev = build_event(rec, true);
    // A call starts for the program when its thread runs again: the stop is not its time.
    if (ev && ev->kind == TraceEvent::Kind::call)
      ev->time_ns = trace_clock_ns();
    ordered.fulfil(record_goid(rec), tid, std::move(ev));
  }

  /// Records whose thread never stopped for its completion (the process ended first):
  /// reported with what was captured. Caller holds mu.
  void flush_pending() {
    for (auto& [tid, recs] : pending) {
      for (auto& rec : recs) ordered.fulfil(record_goid(rec), tid, build_event(rec, false));
    }
    pending.clear();
    ordered.flush();
  }
};

bool UprobeTracer::available(std::string* why) {
  return bpf::available(why);
}

UprobeTracer::UprobeTracer(proc::Process& process, const BinaryInfo& bi, TraceOptions opts)
    : impl_(std::make_unique<Impl>(process, bi, opts)) {}

UprobeTracer::~UprobeTracer() = default;

bool UprobeTracer::trace_function(const dwarf::Function& fn) {
  const auto check = stack_check(impl_->bi, fn);
  const auto entry = check ? check->fallthrough : impl_->bi.to_virt(fn.low_pc);
  if (impl_->addrs.contains(entry) || (check && impl_->addrs.contains(check->jbe)))
    return false;
  Impl::Site s;
  s.function = &fn;
  if (check)
    s.check_jbe = check->jbe;
  // After the stack-split check (see entry_tracepoint): reached once per call. Nothing has
  // changed there since the entry (CFA = rsp + 8). The instruction there (`sub rsp, N`, or
  // the first of a function without a check) is one the kernel single-steps, so it moves
  // into a trampoline where it can.
  s.addr = entry;
  s.report_pc = entry;
  s.cfa_offset = 8;
  if (impl_->process_not_started) {
    s.spill_xmm = Trampolines::has_float_arguments(fn);
    s.tramp = impl_->tramps.add_entry(fn, s.spill_xmm, entry);
  }
  impl_->add_site(std::move(s));
  for (const auto& rs : impl_->bi.return_sites(fn)) {
    if (impl_->addrs.contains(rs.addr))
      continue;
    Impl::Site r;
    r.function = &fn;
    r.addr = rs.addr;
    r.report_pc = rs.addr;
    r.is_return = true;
    r.deferreturn = rs.deferreturn;
    r.cfa_offset =
        rs.deferreturn ? impl_->body_cfa_offset(rs.addr) : std::optional<std::int64_t>(8);
    // A `call runtime.deferreturn` is emulated by the kernel; a RET is not.
    if (!rs.deferreturn && impl_->process_not_started)
      r.tramp = impl_->tramps.add_return(fn, rs.addr);
    impl_->add_site(std::move(r));
  }
  return true;
}

bool UprobeTracer::trace_inlined(const dwarf::InlinedCall& call) {
  if (call.caller == nullptr)
    return false;
  const auto entry = impl_->bi.to_virt(call.entry);
  if (impl_->addrs.contains(entry))
    return false;
  Impl::Site s;
  s.function = call.caller;
  s.inlined = &call;
  s.addr = entry;
  s.report_pc = entry;
  s.cfa_offset = impl_->body_cfa_offset(entry);
  impl_->add_site(std::move(s));
  return true;
}

void UprobeTracer::set_process_not_started(bool not_started) {
  impl_->process_not_started = not_started;
}

void UprobeTracer::set_attached() {
  impl_->process_not_started = true;
  impl_->attached = true;
}

std::size_t UprobeTracer::tracepoint_count() const {
  return impl_->sites.size();
}

TraceEngineStats UprobeTracer::stats() const {
  TraceEngineStats st{"uprobe", impl_->events, impl_->stops, impl_->lost, impl_->late_reads};
  st.unsafe_sites = impl_->unsafe_sites;
  for (const auto& s : impl_->sites) st.moved_sites += s.tramp ? 1 : 0;
  return st;
}

void UprobeTracer::prepare() {
  Impl& im = *impl_;
  if (im.prepared)
    return;
  if (im.opts.goroutine_exits) {
    if (const auto* fn = im.bi.debug().find_function("runtime.goexit1")) {
      const auto check = stack_check(im.bi, *fn);
      const auto addr = check ? check->fallthrough : im.bi.to_virt(fn->low_pc);
      if (!im.addrs.contains(addr) && !(check && im.addrs.contains(check->jbe))) {
        Impl::Site s;
        s.function = fn;
        if (check)
          s.check_jbe = check->jbe;
        s.goexit = true;
        s.addr = addr;
        s.report_pc = addr;
        im.add_site(std::move(s));
      }
    }
  }
  try {
    im.attach_all();
  } catch (...) {
    im.detach_all();
    throw;
  }
  im.prepared = true;
}

TraceExit UprobeTracer::run(TraceObserver& observer) {
  Impl& im = *impl_;
  prepare();
  im.observer = &observer;
  EngineRunHooks h;
  h.own_event = [&im](const proc::StopEvent& ev) {
    if (ev.kind != proc::StopEvent::Kind::signal || ev.signal != capture::kCompletionSignal)
      return false;
    {
      std::lock_guard lk(im.mu);
      im.complete(ev.tid);
    }
    im.process.resume_thread(ev.tid);
    return true;
  };
  h.wait = [&im] { im.ring->wait(kPollMs); };
  h.drain = [&im] { im.drain(); };
  h.after_drain = [&im](const TraceExit& result) {
    im.flush_pending();
    im.lost = im.read_lost();
    // The breakpoints leave the process before anything else happens to it (a detach).
    const auto t0 = trace_clock_ns();
    im.detach_all();
    if (result.kind == TraceExit::Kind::interrupted || result.kind == TraceExit::Kind::exec) {
      try {
        im.tramps.uninstall(im.process);
      } catch (const proc::Error&) {
        // The process is gone: nothing to restore.
      }
    }
    if (std::getenv("GOSCOPE_DEBUG"))
      std::fprintf(stderr, "goscope: detach %.1f ms\n", (trace_clock_ns() - t0) / 1e6);
  };
  return run_engine(im.process, im.mu, h);
}

}  // namespace goscope::target

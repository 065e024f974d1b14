#include "target/tracer.hpp"

#include <time.h>

#include <csignal>

#include <array>
#include <cstring>
#include <mutex>
#include <optional>
#include <stdexcept>

#include "engine_run.hpp"
#include "proc/disassembler.hpp"
#include "proc/error.hpp"
#include "proc/process.hpp"
#include "target/binary_info.hpp"
#include "target/readers.hpp"
#include "target/value_loader.hpp"
#include "target/variable_visibility.hpp"

namespace goscope::target {

std::uint64_t trace_clock_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

Tracer::Tracer(proc::Process& process, const BinaryInfo& bi, TraceOptions opts)
    : process_(process), bi_(bi), opts_(opts) {}

bool Tracer::trace_function(const dwarf::Function& fn) {
  // After the stack-split check: a call restarted by runtime.morestack passes it once.
  const auto entry = entry_tracepoint(bi_, fn);
  if (sites_.contains(entry))
    return false;
  process_.add_breakpoint(entry);
  sites_[entry] = Site{&fn, false, false};
  for (const auto& rs : bi_.return_sites(fn)) {
    if (sites_.contains(rs.addr))
      continue;
    process_.add_breakpoint(rs.addr);
    sites_[rs.addr] = Site{&fn, true, rs.deferreturn};
  }
  return true;
}

bool Tracer::trace_inlined(const dwarf::InlinedCall& call) {
  if (call.caller == nullptr)
    return false;
  const auto entry = bi_.to_virt(call.entry);
  if (sites_.contains(entry))
    return false;
  process_.add_breakpoint(entry);
  Site s;
  s.function = call.caller;
  s.inlined = &call;
  sites_[entry] = s;
  return true;
}

bool Tracer::add_trap(proc::VirtAddr addr, const Site& site) {
  if (sites_.contains(addr))
    return false;
  process_.add_breakpoint(addr);
  sites_[addr] = site;
  return true;
}

std::optional<TraceEvent> Tracer::trap_event(pid_t tid, proc::VirtAddr pc) {
  auto it = sites_.find(pc);
  if (it == sites_.end())
    return std::nullopt;
  auto ev = handle_hit(tid, it->second);
  if (ev)
    ++events_;
  return ev;
}

TraceExit Tracer::run(TraceObserver& observer) {
  if (opts_.goroutine_exits) {
    if (const auto* fn = bi_.debug().find_function("runtime.goexit1")) {
      const auto addr = entry_tracepoint(bi_, *fn);
      if (!sites_.contains(addr)) {
        process_.add_breakpoint(addr);
        Site s;
        s.function = fn;
        s.goexit = true;
        sites_[addr] = s;
      }
    }
  }
  EngineRunHooks h;
  h.own_event = [&](const proc::StopEvent& ev) {
    if (ev.kind != proc::StopEvent::Kind::breakpoint)
      return false;
    auto it = sites_.find(ev.pc);
    std::optional<TraceEvent> hit;
    if (it != sites_.end())
      hit = handle_hit(ev.tid, it->second);
    process_.resume_thread(ev.tid);
    if (hit) {
      ++events_;
      // A call starts for the program when its thread runs again, not when the trap
      // fired: stamping it after the resume keeps the tracer's own stop out of the
      // call's duration. (A return is stamped when its trap is reported.)
      if (hit->kind == TraceEvent::Kind::call)
        hit->time_ns = trace_clock_ns();
      observer.on_event(std::move(*hit));
    }
    return true;
  };
  // Events go to the observer from this thread: no consumer, nothing buffered.
  std::mutex unused;
  return run_engine(process_, unused, h);
}

TraceExit trace_exit_of(const proc::StopEvent& ev) {
  using K = proc::StopEvent::Kind;
  switch (ev.kind) {
    case K::exited:
      return {TraceExit::Kind::exited, ev.exit_status};
    case K::killed:
      return {TraceExit::Kind::killed, ev.signal};
    case K::interrupted:
      return {TraceExit::Kind::interrupted, 0};
    case K::exec:
      return {TraceExit::Kind::exec, 0};
    default:
      throw std::logic_error("trace_exit_of: an event that does not end a trace");
  }
}

std::optional<TraceEvent> Tracer::handle_hit(pid_t tid, const Site& site) {
  TraceEvent ev;
  ev.time_ns = trace_clock_ns();
  ev.hit_ns = ev.time_ns;
  ev.kind = site.is_return ? TraceEvent::Kind::ret : TraceEvent::Kind::call;
  ev.tid = tid;
  ev.function = site.function;
  ev.deferreturn = site.deferreturn;

  const auto regs = process_.registers(tid);
  if (site.goexit) {
    ev.kind = TraceEvent::Kind::goroutine_exit;
    try {
      ev.goid = process_.read<std::int64_t>(proc::VirtAddr(regs.gp.r14 + bi_.goid_offset()));
    } catch (const proc::Error&) {
      return std::nullopt;
    }
    return ev;
  }
  ev.pc = regs.gp.rip;
  ev.sp = regs.gp.rsp;
  // Go >= 1.17 (register ABI) keeps the current g in R14 inside Go code.
  std::int64_t goid = 0;
  std::uint64_t top_of_stack = 0;
  // One process_vm_readv for the goroutine id and the return address.
  // The stack around rsp comes along in the same system call: at a RET the results sit
  // just below it (in the returning frame), at an entry stack-passed arguments just above.
  constexpr std::uint64_t kBelow = 512, kAbove = 256;
  std::array<std::byte, kBelow + kAbove> window{};
  const std::uint64_t window_base = regs.gp.rsp - kBelow;
  bool window_ok = true;
  std::array<proc::Process::ReadRequest, 3> g_reads{{
      {proc::VirtAddr(regs.gp.r14 + bi_.goid_offset()),
       std::as_writable_bytes(std::span(&goid, 1))},
      {proc::VirtAddr(regs.gp.rsp), std::as_writable_bytes(std::span(&top_of_stack, 1))},
      {proc::VirtAddr(window_base), std::span(window)},
  }};
  try {
    process_.read_memory_batch(g_reads);
  } catch (const proc::Error&) {
    // Rare: the window crossed into unmapped memory. Read without it.
    window_ok = false;
    try {
      process_.read_memory_batch(std::span(g_reads).first(2));
    } catch (const proc::Error&) {
      goid = 0;  // not in Go code (no g in R14): reported as goroutine 0
    }
  }
  if (goid == 0 && regs.gp.r14 != 0) {
    // On the system stack R14 holds g0; report the user goroutine it runs for.
    try {
      const auto m = process_.read<std::uint64_t>(proc::VirtAddr(regs.gp.r14 + bi_.g_m_offset()));
      const auto curg =
          m ? process_.read<std::uint64_t>(proc::VirtAddr(m + bi_.m_curg_offset())) : 0;
      if (curg)
        goid = process_.read<std::int64_t>(proc::VirtAddr(curg + bi_.goid_offset()));
    } catch (const proc::Error&) {
    }
  }
  ev.goid = goid;
  if (!site.is_return)
    ev.caller_pc = top_of_stack;
  ev.inlined = site.inlined;
  // At an entry tracepoint (the stack check leaves rsp alone) or a RET the return address
  // is on top of the stack, so the CFA (Go's frame base) is rsp+8; inside the body (the deferreturn
  // call) the frame pointer gives it.
  std::uint64_t cfa = regs.gp.rsp + 8;
  if (site.deferreturn || site.inlined) {
    // Inside the body: the CFI row gives the frame size. (rbp is not trustworthy here: a
    // recovered panic resumes at this call with only the stack pointer restored.)
    if (auto row = bi_.debug().frames().row_at(bi_.to_file(proc::VirtAddr(regs.gp.rip)));
        row && row->cfa_register == 7) {
      cfa = regs.gp.rsp + static_cast<std::uint64_t>(row->cfa_offset);
    } else {
      cfa = regs.gp.rbp + 16;
    }
  }
  const RegisterFn read_reg = thread_register_reader(process_, tid, regs);
  ValueLoader loader(bi_, [&, memory = process_memory_reader(process_)](std::uint64_t a,
                                                                        std::span<std::byte> out) {
    if (window_ok && a >= window_base && a + out.size() <= window_base + window.size()) {
      std::memcpy(out.data(), window.data() + (a - window_base), out.size());
      return true;
    }
    return memory(a, out);
  });
  loader.set_location_text(false);
  ev.values = load_trace_values(loader, *site.function, site.inlined, site.is_return,
                                site.deferreturn, ev.pc, cfa, read_reg, opts_.load);
  if (opts_.stack_depth > 0)
    unwind(site, regs, ev);
  return ev;
}

std::vector<Variable> load_trace_values(ValueLoader& loader, const dwarf::Function& fn,
                                        const dwarf::InlinedCall* inlined, bool is_return,
                                        bool deferreturn, std::uint64_t pc, std::uint64_t cfa,
                                        const RegisterFn& regs, const LoadConfig& cfg) {
  std::vector<Variable> values;
  for (const dwarf::Variable* p : traced_variables(loader.binary(), fn, inlined, is_return, pc)) {
    const auto& param = *p;
    auto v = loader.load_variable(param, pc, cfa, regs, cfg);
    // Optimized code rarely describes results at a RET ("empty OP stack" in dlv), but the
    // register ABI says where they are: read them there.
    if (!v.unreadable.empty() && is_return && !deferreturn && fn.optimized) {
      if (auto abi = loader.load_result_from_abi_registers(fn, param, regs, cfg))
        v = std::move(*abi);
    }
    values.push_back(std::move(v));
  }
  return values;
}

std::optional<StackCheck> stack_check(const BinaryInfo& bi, const dwarf::Function& fn) {
  const auto entry = bi.to_virt(fn.low_pc);
  // The check is at most `mov r12, rsp; sub r12, imm32; jb; cmp r12, [r14+16]; jbe rel32`
  // (31 bytes).
  auto code = bi.elf().code_at(fn.low_pc,
                               std::min<std::uint64_t>(48, fn.high_pc.value() - fn.low_pc.value()));
  if (!code)
    return std::nullopt;
  const auto insns = proc::disassemble(*code, entry);
  auto bytes_at = [&](const proc::Instruction& insn, std::initializer_list<std::uint8_t> want) {
    const auto off = insn.address.value() - entry.value();
    if (insn.length < want.size() || off + want.size() > code->size())
      return false;
    std::size_t i = 0;
    for (auto w : want)
      if (std::to_integer<std::uint8_t>((*code)[off + i++]) != w)
        return false;
    return true;
  };
  for (std::size_t i = 0; i + 1 < insns.size() && i < 4; ++i) {
    const auto& insn = insns[i];
    if (insn.is_call || insn.is_ret)
      break;
    // cmp rsp, [r14+0x10] or cmp r12, [r14+0x10] (g.stackguard0), then jbe to the
    // morestack call at the end of the function.
    if (!bytes_at(insn, {0x49, 0x3b, 0x66, 0x10}) && !bytes_at(insn, {0x4d, 0x3b, 0x66, 0x10}))
      continue;
    const auto& jbe = insns[i + 1];
    if (!bytes_at(jbe, {0x76}) && !bytes_at(jbe, {0x0f, 0x86}))
      break;
    const auto after = jbe.address.value() + jbe.length;
    if (jbe.branch_target <= after || jbe.branch_target >= bi.to_virt(fn.high_pc).value() ||
        after >= bi.to_virt(fn.high_pc).value())
      break;
    return StackCheck{jbe.address, proc::VirtAddr(after)};
  }
  return std::nullopt;
}

proc::VirtAddr entry_tracepoint(const BinaryInfo& bi, const dwarf::Function& fn) {
  if (auto check = stack_check(bi, fn))
    return check->fallthrough;
  return bi.to_virt(fn.low_pc);
}

void Tracer::unwind(const Site& site, const proc::Registers& regs, TraceEvent& ev) {
  unwind_frames(bi_, process_memory_reader(process_), site.deferreturn || site.inlined != nullptr,
                regs, opts_.stack_depth, ev);
}

void unwind_frames(const BinaryInfo& bi,
                   const std::function<bool(std::uint64_t, std::span<std::byte>)>& mem,
                   bool in_body, const proc::Registers& regs, int stack_depth, TraceEvent& ev) {
  const auto& lines = bi.debug().lines();
  auto add_frame = [&](std::uint64_t pc, bool top) {
    TraceFrame f;
    f.pc = pc;
    const auto* fn = bi.function_at(proc::VirtAddr(pc));
    f.function = fn ? fn->name : "?";
    // A caller's line is the CALL's, one byte before the return address.
    if (auto loc = lines.find(bi.to_file(proc::VirtAddr(top ? pc : pc - 1)))) {
      f.file = loc->file;
      f.line = loc->line;
    }
    ev.stack.push_back(std::move(f));
    return fn != nullptr && fn->name != "runtime.goexit";
  };
  auto word = [&](std::uint64_t addr) {
    std::uint64_t w = 0;
    if (!mem(addr, std::as_writable_bytes(std::span(&w, 1))))
      throw proc::Error("unreadable frame");
    return w;
  };
  const std::size_t max_frames = static_cast<std::size_t>(stack_depth) + 1;
  bool more = add_frame(regs.gp.rip, true);
  std::uint64_t fp = regs.gp.rbp;
  std::uint64_t ret = 0;
  try {
    if (in_body) {
      ret = word(fp + 8);
      fp = word(fp);
    } else {
      // Entry and RET: the return address is on top of the stack, rbp is the caller's.
      ret = word(regs.gp.rsp);
    }
    while (more && ev.stack.size() < max_frames && ret != 0) {
      more = add_frame(ret, false);
      if (!more || ev.stack.size() >= max_frames || fp == 0)
        break;
      ret = word(fp + 8);
      fp = word(fp);
    }
  } catch (const proc::Error&) {
    // A frame pointer that leads outside the stack ends the walk.
  }
  ev.stack_complete = !more || ret == 0;
}

}  // namespace goscope::target

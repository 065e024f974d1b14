#include "target/stepper.hpp"

#include <optional>
#include <string_view>

#include "dwarf/debug_info.hpp"
#include "proc/disassembler.hpp"
#include "proc/error.hpp"
#include "target/binary_info.hpp"
#include "target/readers.hpp"
#include "target/value_loader.hpp"
#include "target/variable_visibility.hpp"

namespace goscope::target {
namespace {

bool is_runtime(const std::string& name) {
  return name.starts_with("runtime.") || name.starts_with("runtime/internal") ||
         name.starts_with("internal/");
}

}  // namespace

std::int64_t goroutine_id_of(proc::Process& process, const BinaryInfo& bi, pid_t tid,
                             const proc::Registers& regs) {
  auto goid_of_g = [&](std::uint64_t g) -> std::int64_t {
    if (g == 0)
      return 0;
    // g.goid and g.m with one system call.
    std::int64_t goid = 0;
    std::uint64_t m = 0;
    proc::Process::ReadRequest reqs[] = {
        {proc::VirtAddr(g + bi.goid_offset()), std::as_writable_bytes(std::span(&goid, 1))},
        {proc::VirtAddr(g + bi.g_m_offset()), std::as_writable_bytes(std::span(&m, 1))}};
    process.read_memory_batch(reqs);
    if (goid != 0)
      return goid;
    // g0 (system stack): the goroutine it works for is m.curg.
    const auto curg = m ? process.read<std::uint64_t>(proc::VirtAddr(m + bi.m_curg_offset())) : 0;
    return curg ? process.read<std::int64_t>(proc::VirtAddr(curg + bi.goid_offset())) : 0;
  };
  (void)tid;
  try {
    // Go on linux/amd64 keeps g in the TLS slot just below the thread pointer. A slot still
    // 0 is a thread the runtime has not set up yet (a new M right after runtime.clone): it
    // runs no goroutine, whatever its R14 (the parent's g, copied by clone) says.
    if (regs.gp.fs_base != 0) {
      const auto g = process.read<std::uint64_t>(proc::VirtAddr(regs.gp.fs_base - 8));
      return goid_of_g(g);
    }
  } catch (const proc::Error&) {
  }
  try {
    if (bi.function_at(regs.pc()) != nullptr)
      return goid_of_g(regs.gp.r14);
  } catch (const proc::Error&) {
  }
  return 0;
}

std::uint64_t frame_cfa(const BinaryInfo& bi, const proc::Registers& regs) {
  const auto& frames = bi.debug().frames();
  if (!frames.empty()) {
    if (auto row = frames.row_at(bi.to_file(regs.pc()))) {
      if (auto base = regs.by_dwarf_number(row->cfa_register)) {
        return *base + static_cast<std::uint64_t>(row->cfa_offset);
      }
    }
  }
  return regs.gp.rsp + 8;
}

Stepper::Stepper(proc::Process& process, const BinaryInfo& bi) : process_(process), bi_(bi) {
  const auto* g = bi_.debug().find_type("runtime.g");
  const auto* d = bi_.debug().find_type("runtime._defer");
  if (g != nullptr && d != nullptr) {
    const auto* link = g->resolved()->field("_defer");
    const auto* fn = d->resolved()->field("fn");
    if (link != nullptr && fn != nullptr) {
      g_defer_ = link->offset;
      defer_fn_ = fn->offset;
    }
  }
}

Stepper::~Stepper() {
  clear();
}

void Stepper::add_site(proc::VirtAddr addr, SiteKind kind) {
  if (auto it = sites_.find(addr); it != sites_.end()) {
    // A RET that is also a line start: the RET check is the stricter, keep it. Otherwise
    // the first kind stays (this frame's lines come before callees' entries: recursion).
    if (kind == SiteKind::ret)
      it->second = kind;
    return;
  }
  process_.add_breakpoint(addr);
  sites_.emplace(addr, kind);
}

Stepper::GoroutineState Stepper::goroutine_state(const proc::Registers& regs) {
  GoroutineState gs;
  try {
    std::uint64_t g = 0;
    if (regs.gp.fs_base != 0)
      g = process_.read<std::uint64_t>(proc::VirtAddr(regs.gp.fs_base - 8));
    if (g == 0 && bi_.function_at(regs.pc()) != nullptr)
      g = regs.gp.r14;
    if (g == 0)
      return gs;
    std::int64_t goid = 0;
    std::uint64_t m = 0, hi = 0;
    proc::Process::ReadRequest reqs[] = {
        {proc::VirtAddr(g + bi_.goid_offset()), std::as_writable_bytes(std::span(&goid, 1))},
        {proc::VirtAddr(g + bi_.g_m_offset()), std::as_writable_bytes(std::span(&m, 1))},
        {proc::VirtAddr(g + bi_.stack_hi_offset()), std::as_writable_bytes(std::span(&hi, 1))}};
    process_.read_memory_batch(reqs);
    if (goid == 0 && m != 0) {
      // g0 (system stack): the goroutine it works for is m.curg.
      g = process_.read<std::uint64_t>(proc::VirtAddr(m + bi_.m_curg_offset()));
      if (g != 0) {
        goid = process_.read<std::int64_t>(proc::VirtAddr(g + bi_.goid_offset()));
        hi = process_.read<std::uint64_t>(proc::VirtAddr(g + bi_.stack_hi_offset()));
      }
    }
    gs.g = g;
    gs.goid = goid;
    gs.stack_hi = hi;
  } catch (const proc::Error&) {
  }
  return gs;
}

std::optional<proc::VirtAddr> Stepper::topmost_deferred_entry(const GoroutineState& gs) {
  if (g_defer_ == 0 || gs.g == 0)
    return std::nullopt;
  try {
    const auto d = process_.read<std::uint64_t>(proc::VirtAddr(gs.g + g_defer_));
    if (d == 0)
      return std::nullopt;
    const auto fv = process_.read<std::uint64_t>(proc::VirtAddr(d + defer_fn_));
    const auto entry = fv ? process_.read<std::uint64_t>(proc::VirtAddr(fv)) : 0;
    const auto* fn = entry ? bi_.function_at(proc::VirtAddr(entry)) : nullptr;
    if (fn == nullptr)
      return std::nullopt;
    const auto& lines = bi_.debug().lines();
    return bi_.to_virt(lines.prologue_end(fn->low_pc, fn->high_pc).value_or(fn->low_pc));
  } catch (const proc::Error&) {
    return std::nullopt;
  }
}

bool Stepper::called_by_panic(const proc::Registers& regs, bool deferreturn) {
  // Two frames up with the CFI: Go's CFA is rsp-based, so a caller's CFA needs only its pc
  // (the return address) and its rsp (the callee's CFA).
  try {
    proc::Registers r = regs;
    for (int depth = 1; depth <= 2; ++depth) {
      const auto cfa = frame_cfa(bi_, r);
      const auto ret = process_.read<std::uint64_t>(proc::VirtAddr(cfa - 8));
      const auto* caller = bi_.function_at(proc::VirtAddr(ret));
      if (caller == nullptr)
        return false;
      if (caller->name == "runtime.gopanic")
        return true;
      if (depth == 1 && deferreturn && caller->name == "runtime.deferreturn")
        return true;
      r.gp.rip = ret - 1;  // inside the CALL: the caller's row at the call
      r.gp.rsp = cfa;
    }
  } catch (const proc::Error&) {
  }
  return false;
}

bool Stepper::start(Kind kind, pid_t tid) {
  return start(kind, process_.registers(tid));
}

bool Stepper::start_parked(Kind kind, std::uint64_t g, std::uint64_t pc, std::uint64_t sp,
                           std::uint64_t bp) {
  // The registers a parked goroutine resumes with (g.sched), and its g where Go code keeps
  // it: what the traps will see when the goroutine runs again.
  proc::Registers regs;
  regs.gp.rip = pc;
  regs.gp.rsp = sp;
  regs.gp.rbp = bp;
  regs.gp.r14 = g;
  return start(kind, regs);
}

bool Stepper::start(Kind kind, const proc::Registers& regs) {
  clear();
  const auto pc = regs.pc();
  const auto* fn = bi_.function_at(pc);
  const auto& lines = bi_.debug().lines();
  const auto here = lines.find(bi_.to_file(pc));
  if (fn == nullptr || !here)
    return false;
  kind_ = kind;
  function_ = fn;
  const auto gs = goroutine_state(regs);
  goid_ = gs.goid;
  frame_offset_ = static_cast<std::int64_t>(frame_cfa(bi_, regs) - gs.stack_hi);

  // stepout of an inlined frame (Delve's StepOut with topframe.Inlined: next with
  // inlinedStepOut) stops at the next line of the inlined call's caller: the statement
  // rows of the function, past the current line, outside the inlined calls of the caller's
  // code; there is no return to trap (encoding/json's inlined (*Buffer).Bytes steps out
  // to json.Marshal:164, where the call is, not to Marshal's caller).
  const auto inlined_here = bi_.debug().inlined_at(bi_.to_file(pc));
  const bool inlined_out = kind == Kind::step_out && !inlined_here.empty();
  if (kind != Kind::step_out || inlined_out) {
    const auto body = lines.prologue_end(fn->low_pc, fn->high_pc).value_or(fn->low_pc);
    // `next` does not stop inside code the compiler inlined into this function: as Delve's
    // removeInlinedCalls, the lines of every inlined call inside the stepping frame are no
    // stop (from go/printer's flush at printer.go:1042 the next stop is :1044, not :155 in
    // the inlined commentBefore). The stepping frame is the innermost frame at the pc for
    // next (the out-of-line function, or the inlined call stopped in: then only the calls
    // inlined into that body are dropped), its caller for an inlined stepout.
    std::vector<const dwarf::InlinedCall*> inlined;
    if (kind != Kind::step) {
      const std::size_t up = inlined_out ? 1 : 0;
      const dwarf::InlinedCall* frame = up < inlined_here.size() ? inlined_here[up] : nullptr;
      for (const auto* call : bi_.debug().inlined_in(*fn)) {
        if (frame == nullptr) {
          inlined.push_back(call);
          continue;
        }
        // Inside `frame`: deeper, and its code within frame's ranges.
        if (call->depth <= frame->depth || call->ranges.empty())
          continue;
        for (const auto& r : frame->ranges) {
          if (r.contains(call->ranges.front().low)) {
            inlined.push_back(call);
            break;
          }
        }
      }
    }
    auto in_inlined = [&](dwarf::FileAddr a) {
      for (const auto* call : inlined) {
        for (const auto& r : call->ranges) {
          if (r.contains(a))
            return true;
        }
      }
      return false;
    };
    for (const auto& row : lines.rows_in(fn->low_pc, fn->high_pc)) {
      if (!row.is_stmt || row.end_sequence || row.addr < body)
        continue;
      if (row.line == here->line && lines.files()[row.file] == here->file)
        continue;
      if (in_inlined(row.addr))
        continue;
      add_site(bi_.to_virt(row.addr), SiteKind::line);
    }
  }
  for (const auto& rs : bi_.return_sites(*fn)) {
    if (!rs.deferreturn && !inlined_out)
      add_site(rs.addr, SiteKind::ret);
  }
  if (kind == Kind::step) {
    // The calls made by the current line: a direct call's callee gets its trap now, an
    // indirect CALL a trap of its own that finds the destination when it is executed.
    const auto size = fn->high_pc.value() - fn->low_pc.value();
    if (auto code = bi_.elf().code_at(fn->low_pc, size)) {
      for (const auto& ins : proc::disassemble(*code, bi_.to_virt(fn->low_pc))) {
        if (!ins.is_call)
          continue;
        const auto loc = lines.find(bi_.to_file(ins.address));
        if (!loc || loc->line != here->line || loc->file != here->file)
          continue;
        if (ins.branch_target == 0)
          add_site(ins.address, SiteKind::indirect_call);
        else
          add_step_into(*fn, proc::VirtAddr(ins.branch_target));
      }
    }
  }
  // The most recently deferred function, in case a panic (or, for step, a deferreturn)
  // runs it.
  if (auto entry = topmost_deferred_entry(gs); entry && *entry != pc)
    add_site(*entry, SiteKind::deferred);
  return true;
}

Stepper::Hit Stepper::check(pid_t tid, proc::VirtAddr pc) {
  auto it = sites_.find(pc);
  if (it == sites_.end())
    return Hit::ignore;
  const auto regs = process_.registers(tid);
  const auto gs = goroutine_state(regs);
  if (gs.goid != goid_)
    return Hit::ignore;
  const auto offset = [&](std::uint64_t cfa) {
    return static_cast<std::int64_t>(cfa - gs.stack_hi);
  };
  switch (it->second) {
    case SiteKind::line:
      return offset(frame_cfa(bi_, regs)) == frame_offset_ ? Hit::done : Hit::ignore;
    case SiteKind::ret:
      return offset(regs.gp.rsp + 8) == frame_offset_ ? Hit::at_return : Hit::ignore;
    case SiteKind::call:
      return Hit::done;
    case SiteKind::deferred:
      return called_by_panic(regs, kind_ == Kind::step) ? Hit::done : Hit::ignore;
    case SiteKind::ret_addr:
      return offset(frame_cfa(bi_, regs)) == ret_addr_offset_ ? Hit::done : Hit::ignore;
    case SiteKind::indirect_call:
      return Hit::enter_call;
  }
  return Hit::ignore;
}

std::vector<Variable> Stepper::finish_return(pid_t tid, const LoadConfig* cfg,
                                             std::vector<proc::StopEvent>& other_events) {
  std::vector<Variable> out;
  const auto* fn = static_cast<const dwarf::Function*>(function_);
  if (cfg != nullptr && fn != nullptr) {
    const auto regs = process_.registers(tid);
    const RegisterFn read_reg = thread_register_reader(process_, tid, regs);
    ValueLoader loader(bi_, process_memory_reader(process_));
    // Delve collects return values in a scope faked at the function's entry, whose line is
    // the `func` line: results declared on later lines of a multi-line signature are not
    // visible there (gofmt's main.parse returns none in dlv).
    int entry_line = 0;
    if (auto l = bi_.debug().lines().find(fn->low_pc))
      entry_line = static_cast<int>(l->line);
    for (const auto& p : fn->params) {
      if (!p.is_result)
        continue;
      if (entry_line != 0 && !visible_at_line(p, static_cast<std::uint32_t>(entry_line)))
        continue;
      out.push_back(loader.load_variable(p, regs.gp.rip, regs.gp.rsp + 8, read_reg, *cfg));
    }
  }
  clear();
  const auto ev = step_one_instruction(process_, tid, other_events);
  if (ev.kind != proc::StopEvent::Kind::single_step)
    return out;
  // As Delve's skipAutogeneratedWrappersOut: a return into runtime.deferreturn (this was a
  // deferred call) or into an autogenerated wrapper goes on to the first caller that is
  // neither, which a trap at that frame's return address catches.
  try {
    auto regs = process_.registers(tid);
    const auto gs = goroutine_state(regs);
    bool skipped = false;
    for (int depth = 0; depth < 8; ++depth) {
      const auto* here = bi_.function_at(regs.pc());
      if (here == nullptr || !skip_on_return(*here))
        break;
      const auto cfa = frame_cfa(bi_, regs);
      const auto ret = process_.read<std::uint64_t>(proc::VirtAddr(cfa - 8));
      regs.gp.rip = ret;
      regs.gp.rsp = cfa;
      skipped = true;
    }
    if (skipped && bi_.function_at(regs.pc()) != nullptr) {
      goid_ = gs.goid;
      ret_addr_offset_ = static_cast<std::int64_t>(frame_cfa(bi_, regs) - gs.stack_hi);
      add_site(regs.pc(), SiteKind::ret_addr);
    }
  } catch (const proc::Error&) {
    clear();
  }
  return out;
}

namespace {

bool is_autogenerated(const dwarf::LineTable& lines, const dwarf::Function& fn) {
  const auto loc = lines.find(fn.low_pc);
  // The line table names it "<autogenerated>" under the compile unit's directory.
  return loc && loc->line == 1 &&
         (loc->file == "<autogenerated>" || loc->file.ends_with("/<autogenerated>"));
}

std::string_view base_name(std::string_view name) {
  if (auto dot = name.rfind('.'); dot != std::string_view::npos)
    name.remove_prefix(dot + 1);
  if (name.ends_with("-fm"))
    name.remove_suffix(3);
  return name;
}

}  // namespace

void Stepper::add_step_into(const dwarf::Function& caller, proc::VirtAddr dest) {
  const auto* start = bi_.function_at(dest);
  if (start == nullptr || (is_runtime(start->name) && !is_runtime(caller.name)))
    return;
  const auto& lines = bi_.debug().lines();
  // Delve's skipAutogeneratedWrappersIn: an autogenerated wrapper (a value method called
  // through a pointer, a method value's -fm closure) that calls or jumps to exactly one
  // function of the same name, not a runtime one, is skipped into that function.
  const dwarf::Function* fn = start;
  auto pc = dest;
  for (int count = 0; count < 5; ++count) {
    if (!is_autogenerated(lines, *fn)) {
      if (fn != start)
        pc = bi_.to_virt(fn->low_pc);
      break;
    }
    const auto code = bi_.elf().code_at(fn->low_pc, fn->high_pc.value() - fn->low_pc.value());
    if (!code)
      break;
    std::vector<const dwarf::Function*> targets;
    bool opaque = false;
    for (const auto& ins : proc::disassemble(*code, bi_.to_virt(fn->low_pc))) {
      const auto* t =
          ins.branch_target ? bi_.function_at(proc::VirtAddr(ins.branch_target)) : nullptr;
      if (ins.is_call) {
        if (ins.branch_target == 0) {
          opaque = true;  // an indirect call
          break;
        }
        // Direct calls into code without DWARF (runtime.morestack_noctxt.abi0) do not count.
        if (t != nullptr && !is_runtime(t->name))
          targets.push_back(t);
      } else if (t != nullptr && t != fn && ins.text.starts_with("jmp") && !is_runtime(t->name)) {
        targets.push_back(t);  // a tail call
      }
    }
    if (opaque || targets.size() != 1 || base_name(targets[0]->name) != base_name(fn->name)) {
      fn = start;  // not a plain wrapper: the destination stays
      break;
    }
    fn = targets[0];
  }
  if (fn != start && is_autogenerated(lines, *fn))
    fn = start;  // too many wrappers: the destination stays
  // Skip the prologue only when the destination is the function's entry (runtime.duffzero
  // and duffcopy are called in their middle).
  if (bi_.to_file(pc) == fn->low_pc)
    pc = bi_.to_virt(lines.prologue_end(fn->low_pc, fn->high_pc).value_or(fn->low_pc));
  add_site(pc, SiteKind::call);
}

Stepper::Hit Stepper::enter_call(pid_t tid, std::vector<proc::StopEvent>& other_events) {
  const auto* caller = bi_.function_at(process_.registers(tid).pc());
  const auto ev = step_one_instruction(process_, tid, other_events);
  using K = proc::StopEvent::Kind;
  if (ev.kind == K::exited || ev.kind == K::killed) {
    other_events.push_back(ev);
    return Hit::ignore;
  }
  if (ev.kind != K::single_step || caller == nullptr)
    return Hit::ignore;
  const auto pc = process_.registers(tid).pc();
  add_step_into(*caller, pc);
  // A destination without a prologue: the thread stands at its trap already.
  if (auto it = sites_.find(pc); it != sites_.end() && it->second == SiteKind::call)
    return Hit::done;
  return Hit::ignore;
}

bool Stepper::skip_on_return(const dwarf::Function& fn) const {
  return fn.name == "runtime.deferreturn" || is_autogenerated(bi_.debug().lines(), fn);
}

void Stepper::clear() noexcept {
  for (const auto& [addr, kind] : sites_) {
    try {
      process_.remove_breakpoint(addr);
    } catch (const std::exception&) {
      // The process is gone: nothing left to restore.
    }
  }
  sites_.clear();
}

proc::StopEvent step_one_instruction(proc::Process& process, pid_t tid,
                                     std::vector<proc::StopEvent>& other_events) {
  process.step_instruction(tid);
  for (;;) {
    auto ev = process.wait_event();
    using K = proc::StopEvent::Kind;
    if (ev.kind == K::exited || ev.kind == K::killed)
      return ev;
    if (ev.tid == tid && (ev.kind == K::single_step || ev.kind == K::breakpoint))
      return ev;
    if (ev.tid == tid && ev.kind == K::signal) {
      // A signal arriving during the step: deliver it with the next resume.
      other_events.push_back(ev);
      return ev;
    }
    other_events.push_back(ev);
  }
}

}  // namespace goscope::target

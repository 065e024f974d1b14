#include "target/stepper.hpp"

#include <optional>

#include "dwarf/debug_info.hpp"
#include "proc/disassembler.hpp"
#include "proc/error.hpp"
#include "target/binary_info.hpp"
#include "target/readers.hpp"
#include "target/value_loader.hpp"

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
    // Go on linux/amd64 keeps g in the TLS slot just below the thread pointer.
    if (regs.gp.fs_base != 0) {
      const auto g = process.read<std::uint64_t>(proc::VirtAddr(regs.gp.fs_base - 8));
      if (g != 0)
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

Stepper::Stepper(proc::Process& process, const BinaryInfo& bi) : process_(process), bi_(bi) {}

Stepper::~Stepper() {
  clear();
}

void Stepper::add_site(proc::VirtAddr addr, SiteKind kind) {
  if (sites_.contains(addr)) {
    // A RET that is also a line start: the RET check is the stricter, keep it.
    if (kind == SiteKind::ret)
      sites_[addr] = kind;
    return;
  }
  process_.add_breakpoint(addr);
  sites_.emplace(addr, kind);
}

bool Stepper::start(Kind kind, pid_t tid) {
  clear();
  const auto regs = process_.registers(tid);
  const auto pc = regs.pc();
  const auto* fn = bi_.function_at(pc);
  const auto& lines = bi_.debug().lines();
  const auto here = lines.find(bi_.to_file(pc));
  if (fn == nullptr || !here)
    return false;
  function_ = fn;
  goid_ = goroutine_id_of(process_, bi_, tid, regs);
  cfa_ = frame_cfa(bi_, regs);

  if (kind != Kind::step_out) {
    const auto body = lines.prologue_end(fn->low_pc, fn->high_pc).value_or(fn->low_pc);
    auto [first, last] = lines.rows_in(fn->low_pc, fn->high_pc);
    for (auto i = first; i < last; ++i) {
      const auto& row = lines.rows()[i];
      if (!row.is_stmt || row.end_sequence || row.addr < body)
        continue;
      if (row.line == here->line && lines.files()[row.file] == here->file)
        continue;
      add_site(bi_.to_virt(row.addr), SiteKind::line);
    }
  }
  for (const auto& rs : bi_.return_sites(*fn)) {
    if (!rs.deferreturn)
      add_site(rs.addr, SiteKind::ret);
  }
  if (kind == Kind::step) {
    // Direct calls made by the current line: stop at the callee's first statement.
    const auto size = fn->high_pc.value() - fn->low_pc.value();
    if (auto code = bi_.elf().code_at(fn->low_pc, size)) {
      for (const auto& ins : proc::disassemble(*code, bi_.to_virt(fn->low_pc))) {
        if (!ins.is_call || ins.branch_target == 0)
          continue;
        const auto loc = lines.find(bi_.to_file(ins.address));
        if (!loc || loc->line != here->line || loc->file != here->file)
          continue;
        const auto* callee = bi_.function_at(proc::VirtAddr(ins.branch_target));
        if (callee == nullptr || (is_runtime(callee->name) && !is_runtime(fn->name)))
          continue;
        const auto entry =
            lines.prologue_end(callee->low_pc, callee->high_pc).value_or(callee->low_pc);
        add_site(bi_.to_virt(entry), SiteKind::call);
      }
    }
  }
  return true;
}

Stepper::Hit Stepper::check(pid_t tid, proc::VirtAddr pc) {
  auto it = sites_.find(pc);
  if (it == sites_.end())
    return Hit::ignore;
  const auto regs = process_.registers(tid);
  if (goroutine_id_of(process_, bi_, tid, regs) != goid_)
    return Hit::ignore;
  switch (it->second) {
    case SiteKind::line:
      return frame_cfa(bi_, regs) == cfa_ ? Hit::done : Hit::ignore;
    case SiteKind::ret:
      return regs.gp.rsp + 8 == cfa_ ? Hit::at_return : Hit::ignore;
    case SiteKind::call:
      return Hit::done;
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
    for (const auto& p : fn->params) {
      if (!p.is_result)
        continue;
      out.push_back(loader.load_variable(p, regs.gp.rip, regs.gp.rsp + 8, read_reg, *cfg));
    }
  }
  clear();
  step_one_instruction(process_, tid, other_events);
  return out;
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

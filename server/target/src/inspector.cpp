// Registers, disassembly, raw memory and the binary's names for the session.
#include "target/inspector.hpp"

#include <algorithm>
#include <cstdio>
#include <span>

#include "proc/error.hpp"
#include "proc/process.hpp"
#include "proc/registers.hpp"
#include "target/breakpoint.hpp"
#include "target/build_info.hpp"
#include "target/disassemble.hpp"
#include "target/target.hpp"

namespace goscope::target {
namespace {

// A general register by the name x86 Intel syntax gives it (Delve resolves an indirect
// CALL/JMP at the current pc from the registers).
std::optional<std::uint64_t> register_named(const user_regs_struct& r, const std::string& n) {
  if (n.empty())
    return 0;  // an absent base or index adds nothing
  if (const proc::GpRegister* reg = proc::gp_register_by_name(n))
    return static_cast<std::uint64_t>(r.*(reg->field));
  return std::nullopt;
}

}  // namespace

Inspector::Inspector(Debuggee& dbg) : dbg_(dbg) {}
Inspector::~Inspector() = default;

std::vector<RegisterView> Inspector::thread_registers(pid_t tid, bool include_fp) {
  auto& p = dbg_.process();
  std::optional<user_fpregs_struct> fp;
  std::vector<std::byte> xs;
  // The XSAVE area too: Delve shows the upper halves of live YMM/ZMM registers.
  if (include_fp && tid != 0) {
    fp = p.fp_registers(tid);
    xs = p.xstate(tid);
  }
  return target::thread_registers(p.registers(tid).gp, fp ? &*fp : nullptr, xs);
}

std::vector<GoroutineView> Inspector::goroutines(int start, int count, int* next) {
  const auto gs = dbg_.target().goroutine_page(start, count, next);
  std::vector<GoroutineView> out;
  out.reserve(gs.size());
  for (const Goroutine* g : gs) out.push_back(dbg_.view(*g));
  return out;
}

bool Inspector::goroutine_exists(std::int64_t goid) {
  return dbg_.target().goroutine(goid).has_value();
}

std::optional<GoroutineView> Inspector::goroutine(std::int64_t goid) {
  const auto g = dbg_.target().goroutine(goid);
  if (!g)
    return std::nullopt;
  return dbg_.view(*g);
}

std::vector<FrameView> Inspector::stack(std::int64_t goid, int depth, unsigned opts, bool full,
                                        const LoadConfig& cfg) {
  auto& tgt = dbg_.target();
  std::vector<Frame> frames;
  if (goid == 0) {
    frames = tgt.thread_stacktrace(dbg_.current_thread(), depth);
  } else {
    auto g = tgt.goroutine(goid);
    if (!g)
      throw CommandError("unknown goroutine " + std::to_string(goid));
    frames = tgt.stacktrace(*g, depth, StackOptions::from_delve(opts));
  }
  std::vector<FrameView> out;
  for (const auto& f : frames) {
    auto sf = dbg_.view(f);
    for (const auto& d : f.defers)
      sf.defers.push_back({dbg_.view(d.deferred), dbg_.view(d.defer), d.sp, d.unreadable});
    if (full) {
      try {
        sf.arguments = tgt.function_arguments(f, cfg);
        sf.locals = tgt.local_variables(f, cfg);
        sf.vars_loaded = true;
      } catch (const std::exception& e) {
        sf.err = e.what();
      }
    }
    out.push_back(std::move(sf));
  }
  return out;
}

std::vector<Variable> Inspector::local_variables(const Scope& scope, const LoadConfig& cfg) {
  auto& tgt = dbg_.target();
  auto f = tgt.frame_for(scope);
  return tgt.local_variables(f, cfg);
}

std::vector<Variable> Inspector::function_arguments(const Scope& scope, const LoadConfig& cfg) {
  auto& tgt = dbg_.target();
  auto f = tgt.frame_for(scope);
  return tgt.function_arguments(f, cfg);
}

std::vector<Variable> Inspector::package_variables(const std::string& filter,
                                                   const LoadConfig& cfg) {
  return dbg_.target().package_variables(filter, cfg);
}

Variable Inspector::eval(const Scope& scope, const std::string& expr, const LoadConfig& cfg) {
  auto& tgt = dbg_.target();
  auto f = tgt.frame_for(scope);
  return tgt.eval(expr, f, cfg);
}

void Inspector::set_variable(const Scope& scope, const std::string& lhs, const std::string& rhs) {
  auto& tgt = dbg_.target();
  auto f = tgt.frame_for(scope);
  tgt.set_variable(lhs, rhs, f);
  dbg_.invalidate();
}

std::vector<RegisterView> Inspector::scope_registers(const Scope& scope, bool include_fp) {
  auto& p = dbg_.process();
  const auto f = dbg_.target().frame_for(scope);
  if (scope.deferred_call > 0) {
    // Delve: the current thread's registers with the deferred frame's sp.
    const pid_t tid = dbg_.current_thread();
    auto gp = p.registers(tid).gp;
    gp.rsp = f.sp;
    std::optional<user_fpregs_struct> fp;
    std::vector<std::byte> xs;
    if (include_fp && tid != 0) {
      fp = p.fp_registers(tid);
      xs = p.xstate(tid);
    }
    return target::thread_registers(gp, fp ? &*fp : nullptr, xs);
  }
  std::optional<user_fpregs_struct> fp;
  std::vector<std::byte> xs;
  if (f.regs_complete && include_fp && f.tid != 0) {
    fp = p.fp_registers(f.tid);
    xs = p.xstate(f.tid);
  }
  return target::scope_registers(f, fp ? &*fp : nullptr, xs);
}

std::vector<AsmLine> Inspector::disassemble(std::uint64_t start, std::uint64_t end, int flavour,
                                            pid_t tid) {
  auto& p = dbg_.process();
  const auto& bi = dbg_.binary();
  if (end == 0 && bi.function_at(proc::VirtAddr(start)) == nullptr) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "address %#llx does not belong to any function",
                  static_cast<unsigned long long>(start));
    throw CommandError(buf);
  }
  const auto regs = p.registers(tid).gp;
  if (!asm_symbols_)
    asm_symbols_ = std::make_unique<AsmSymbols>(bi);
  // A core's pid is the dumped process' (its /proc entry is gone or another's).
  asm_symbols_->follow_shared_libraries(p.core() ? 0 : p.pid());
  const auto f = flavour >= 0 && flavour <= 2 ? static_cast<AsmFlavour>(flavour)
                                              : AsmFlavour::intel;  // Delve's default
  std::vector<AsmLine> out;
  for (auto& in : target::disassemble(bi, *asm_symbols_, p, start, end, f)) {
    AsmLine a;
    a.pc = in.pc;
    a.text = std::move(in.text);
    a.bytes = std::move(in.bytes);
    a.breakpoint = p.has_breakpoint(proc::VirtAddr(in.pc));
    a.at_pc = regs.rip == in.pc;
    a.dest = in.dest;
    if (!a.dest && a.at_pc && in.indirect && !in.indirect->has_segment) {
      const auto& t = *in.indirect;
      if (!t.is_memory) {
        a.dest = register_named(regs, t.reg);
      } else if (auto b = register_named(regs, t.base), x = register_named(regs, t.index);
                 b && x && t.size > 0 && t.size <= 8) {
        const std::uint64_t at = *b + *x * t.scale + static_cast<std::uint64_t>(t.disp);
        std::uint64_t v = 0;
        try {
          p.read_memory(
              proc::VirtAddr(at),
              std::as_writable_bytes(std::span(&v, 1)).first(static_cast<std::size_t>(t.size)));
          a.dest = v;
        } catch (const proc::Error&) {
        }
      }
    }
    out.push_back(std::move(a));
  }
  return out;
}

std::vector<std::byte> Inspector::examine_memory(std::uint64_t addr, std::size_t length) {
  std::vector<std::byte> mem(length);
  try {
    dbg_.process().read_memory_with_traps(proc::VirtAddr(addr), mem);
  } catch (const proc::ProcessExited&) {
    throw;
  } catch (const proc::Error&) {
    throw CommandError("input/output error");  // Delve passes PTRACE_PEEKDATA's EIO on
  }
  return mem;
}

std::vector<std::string> Inspector::function_names() const {
  std::vector<std::string> out;
  for (const auto& fn : dbg_.binary().debug().functions()) out.push_back(fn.name);
  return out;
}

std::vector<std::string> Inspector::source_files() const {
  const auto& files = dbg_.binary().debug().lines().files();
  return std::vector<std::string>(files.begin(), files.end());
}

std::vector<std::string> Inspector::type_names() const {
  return dbg_.binary().debug().type_names();
}

std::vector<PackageInfo> Inspector::packages(bool include_files) const {
  std::vector<PackageInfo> out;
  for (auto& p : packages_build_info(dbg_.binary(), include_files))
    out.push_back({std::move(p.import_path), std::move(p.directory_path), std::move(p.files)});
  return out;
}

std::vector<std::uint64_t> Inspector::return_locations(const std::string& fn_name) const {
  const auto* fn = dbg_.find_function(fn_name);
  if (fn == nullptr)  // Delve's ErrFunctionNotFound ends with a newline
    throw CommandError("could not find function " + fn_name + "\n");
  std::vector<std::uint64_t> out;
  for (const auto& rs : dbg_.binary().return_sites(*fn)) out.push_back(rs.addr.value());
  return out;
}

std::vector<std::pair<std::uint64_t, bool>> Inspector::return_sites(
    const std::string& fn_name) const {
  const auto* fn = dbg_.find_function(fn_name);
  if (fn == nullptr)
    throw CommandError("could not find function " + fn_name + "\n");
  std::vector<std::pair<std::uint64_t, bool>> out;
  for (const auto& rs : dbg_.binary().return_sites(*fn))
    out.emplace_back(rs.addr.value(), rs.deferreturn);
  return out;
}

}  // namespace goscope::target

// Delve's `call`: a function call injected through debugCallV2 (runtime/asm_amd64.s): the
// thread's registers are saved, the runtime opens a frame on a new goroutine of the same
// thread and traps with R12 = 0 (we write the arguments where the function's DWARF puts
// them at its entry and jump to it), 1 (results readable in the dead frame, as Delve reads
// them: the function's locations at its entry with CFA = SP), 2 (panic value at SP), 8
// (refused: reason at SP) and 16 (we restore every register but RIP/RSP and step out of
// debugCallV2, then restore RFLAGS).
#include "target/call_injector.hpp"

#include <algorithm>
#include <csignal>
#include <optional>
#include <span>

#include "dwarf/expr.hpp"
#include "proc/error.hpp"
#include "proc/process.hpp"
#include "target/breakpoint.hpp"
#include "target/fncall.hpp"
#include "target/readers.hpp"
#include "target/target.hpp"
#include "target/value_loader.hpp"

namespace goscope::target {

struct CallInjector::CallArg {
  const dwarf::Variable* formal = nullptr;
  std::vector<std::byte> bytes;
  bool needs_alloc = false;  ///< a literal string: copied into a runtime.mallocgc block
  std::string literal;
};
struct CallInjector::InjectedCall {
  const dwarf::Function* fn = nullptr;
  std::uint64_t closure = 0;
  std::vector<CallArg> args;
  std::uint64_t frame_size = 0;
  LoadConfig cfg;
  bool mallocgc = false;  ///< runtime.mallocgc(size, nil, false): result in RAX
  std::uint64_t malloc_size = 0;
  std::uint64_t rax = 0;
  std::vector<Variable> results;
  std::optional<Variable> panic_value;
  std::string error;
};

namespace {

std::string hex(std::uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\n");
  if (b == std::string::npos)
    return {};
  return s.substr(b, s.find_last_not_of(" \t\n") - b + 1);
}

// `f(a, b)` -> "f", {"a", "b"}; false when the expression is not one call at top level.
bool split_call(const std::string& e0, std::string& fn, std::vector<std::string>& args) {
  const std::string e = trim(e0);
  if (e.empty() || e.back() != ')')
    return false;
  int depth = 0;
  std::size_t open = std::string::npos;
  std::vector<std::size_t> commas;
  for (std::size_t i = 0; i < e.size(); ++i) {
    const char c = e[i];
    if (c == '"' || c == '\'' || c == '`') {
      for (++i; i < e.size() && e[i] != c; ++i) {
        if (c != '`' && e[i] == '\\')
          ++i;
      }
      continue;
    }
    if (c == '(' || c == '[' || c == '{') {
      if (depth == 0) {
        if (c != '(')
          open = std::string::npos;
        else
          open = i;
        commas.clear();
      }
      ++depth;
    } else if (c == ')' || c == ']' || c == '}') {
      if (--depth < 0)
        return false;
      if (depth == 0 && i != e.size() - 1)
        open = std::string::npos;
    } else if (c == ',' && depth == 1) {
      commas.push_back(i);
    }
  }
  if (depth != 0 || open == std::string::npos || open == 0)
    return false;
  fn = trim(e.substr(0, open));
  if (fn.empty())
    return false;
  args.clear();
  const std::string inner = e.substr(open + 1, e.size() - open - 2);
  if (trim(inner).empty())
    return true;
  std::size_t from = open + 1;
  for (auto c : commas) {
    args.push_back(trim(e.substr(from, c - from)));
    from = c + 1;
  }
  args.push_back(trim(e.substr(from, e.size() - 1 - from)));
  return true;
}

}  // namespace

CallResult CallInjector::call(const std::string& expr, std::int64_t goroutine_id,
                              const LoadConfig& rcfg, const std::function<void()>& tell) {
  std::int64_t goid = dbg_.selected_goroutine();
  if (goroutine_id > 0) {
    goid = goroutine_id;
    if (!dbg_.target().goroutine(goid))
      throw CommandError("unknown goroutine " + std::to_string(goid));
  }
  if (goid == 0)
    throw CommandError("no goroutine selected");
  const pid_t tid = dbg_.thread_of(goid);
  if (tid == 0)
    throw CommandError("selected goroutine not running");
  Scope sc;
  sc.goroutine = goid;
  const auto frame = dbg_.target().frame_for(sc);

  // An expression without a call to inject is just evaluated (still a "continue" for the
  // threads' stop information, as in Delve).
  std::optional<Variable> plain;
  try {
    plain = dbg_.target().eval(expr, frame, rcfg);
  } catch (const EvalError& e) {
    if (std::string(e.what()) != "function calls not allowed without using 'call'")
      throw CommandError(e.what());
  }
  if (plain) {
    run_.finish_call(tid, false);
    tell();
    return {tid, {std::move(*plain)}};
  }
  std::string fn_expr;
  std::vector<std::string> arg_exprs;
  if (!split_call(expr, fn_expr, arg_exprs))
    throw CommandError("function calls not allowed without using 'call'");
  const auto* dbgcall = dbg_.find_function("runtime.debugCallV2");
  if (!dbgcall)
    throw CommandError("function calls not supported by this version of Go");

  InjectedCall c;
  c.cfg = rcfg;
  Variable fv;
  try {
    fv = dbg_.target().eval(fn_expr, frame, LoadConfig{false, 0, 0, 0, 0});
  } catch (const EvalError& e) {
    throw CommandError(e.what());
  }
  if (fv.kind != 19)  // reflect.Func
    throw CommandError("expression \"" + fn_expr + "\" is not a function");
  if (!fv.unreadable.empty())
    throw CommandError(fv.unreadable);
  if (fv.base == 0)
    throw CommandError("nil pointer dereference");
  if (!fv.children.empty())
    throw CommandError("goscope: calling methods is not supported");
  c.fn = bi_.function_at(proc::VirtAddr(fv.base));
  if (!c.fn)
    throw CommandError("could not find DIE for function \"" + fn_expr + "\"");
  if (c.fn->optimized && c.fn->name != "runtime.mallocgc")
    throw CommandError("can not call optimized function " + c.fn->name + " when regabi is in use");
  if (fv.addr != 0 && fv.addr != fv.base) {
    // A func value: its closure pointer goes in RDX.
    c.closure = p_.read<std::uint64_t>(proc::VirtAddr(fv.addr));
  }
  std::vector<const dwarf::Variable*> formals;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> sizes;
  for (const auto& param : c.fn->params) {
    const std::uint64_t sz = param.type ? param.type->size : 0;
    sizes.emplace_back(sz, sz >= 8 ? 8 : (sz == 0 ? 1 : sz));
    if (!param.is_result)
      formals.push_back(&param);
  }
  c.frame_size = debug_call_frame_size(sizes);
  if (arg_exprs.size() > formals.size())
    throw CommandError("too many arguments");
  if (arg_exprs.size() < formals.size())
    throw CommandError("not enough arguments");

  // Each argument converted to its parameter's type (Delve's setValue) through a scratch
  // slot below the goroutine's stack pointer, whose bytes are put back at once.
  const std::uint64_t sp0 = p_.registers(tid).gp.rsp;
  const std::uint64_t scratch = (sp0 - 256) & ~std::uint64_t{15};
  for (std::size_t i = 0; i < formals.size(); ++i) {
    const auto& formal = *formals[i];
    CallArg a;
    a.formal = &formal;
    if (!formal.type)
      throw CommandError("no type for argument " + formal.name);
    Variable av;
    try {
      av = dbg_.target().eval(arg_exprs[i], frame, LoadConfig{false, 0, 1 << 20, 0, 0});
    } catch (const std::exception& e) {
      throw CommandError("error evaluating \"" + arg_exprs[i] + "\" as argument " + formal.name +
                         " in function " + c.fn->name + ": " + e.what());
    }
    const std::uint64_t size = formal.type->size;
    if (size > 240)
      throw CommandError("goscope: argument " + formal.name + " is too large to pass");
    std::vector<std::byte> orig(size);
    p_.read_memory(proc::VirtAddr(scratch), orig);
    try {
      dbg_.target().set_variable("*(*\"" + formal.type->name + "\")(0x" + hex(scratch) + ")",
                                 arg_exprs[i], frame);
      a.bytes.resize(size);
      p_.read_memory(proc::VirtAddr(scratch), a.bytes);
    } catch (const std::exception& e) {
      p_.write_memory(proc::VirtAddr(scratch), orig);
      const std::string msg = e.what();
      const auto* real = formal.type->resolved();
      if (msg.rfind("literal string can not be allocated", 0) == 0 && real &&
          real->kind == dwarf::GoKind::string) {
        a.needs_alloc = true;
        a.literal = av.value;
      } else {
        dbg_.invalidate();
        throw CommandError(msg);
      }
    }
    p_.write_memory(proc::VirtAddr(scratch), orig);
    dbg_.invalidate();
    c.args.push_back(std::move(a));
  }

  run_.forget_stops();
  tell();
  inject(tid, c, *dbgcall, true);
  dbg_.stop_everything();
  dbg_.prefetch_goroutines();
  run_.finish_call(tid, true);
  if (!c.error.empty())
    throw CommandError(c.error);
  if (c.panic_value)
    return {tid, {std::move(*c.panic_value)}};
  return {tid, std::move(c.results)};
}

void CallInjector::write_u64(std::uint64_t addr, std::uint64_t v) {
  p_.write_memory(proc::VirtAddr(addr), std::as_bytes(std::span(&v, 1)));
}

// An event of the running process that is not a step of the protocol on the call's thread:
// the process goes on (breakpoints hit meanwhile are not reported: a difference from Delve,
// which stops there with the call in progress).
void CallInjector::call_other_event(const proc::StopEvent& ev) {
  using K = proc::StopEvent::Kind;
  switch (ev.kind) {
    case K::exited:
    case K::killed:
      run_.mark_exit(Debuggee::exit_status_of(ev));
      dbg_.throw_exited();
    case K::interrupted:
      run_.halt_flag() = false;
      p_.resume_all();
      return;
    case K::signal:
      p_.resume_thread(ev.tid, ev.signal == SIGTRAP ? 0 : ev.signal);
      return;
    default:
      p_.resume_thread(ev.tid);
      return;
  }
}

proc::StopEvent CallInjector::call_wait() {
  try {
    return p_.wait_event();
  } catch (const proc::ProcessExited& e) {
    run_.mark_exit(e.status());
    dbg_.throw_exited();
  }
}

// Runs one injected call on `tid` (stopped) to the end of the protocol; the other threads
// run meanwhile (`others_stopped`: they are all stopped now and are resumed here).
void CallInjector::inject(pid_t tid, InjectedCall& c, const dwarf::Function& dbgcall,
                          bool others_stopped) {
  const auto saved = p_.registers(tid);
  const auto saved_fp = p_.fp_registers(tid);
  {
    auto r = saved;
    const std::uint64_t sp = r.gp.rsp - 8;
    write_u64(sp, r.gp.rip);
    write_u64(sp - 16, c.frame_size);
    r.gp.rsp = sp;
    r.gp.rip = bi_.to_virt(dbgcall.low_pc).value();
    p_.set_registers(tid, r);
  }
  dbg_.invalidate();
  if (others_stopped)
    p_.resume_all();
  else
    p_.resume_thread(tid);
  const auto in_dbgcall = [&](std::uint64_t pc) {
    return pc >= bi_.to_virt(dbgcall.low_pc).value() && pc < bi_.to_virt(dbgcall.high_pc).value();
  };
  for (;;) {
    const auto ev = call_wait();
    if (ev.tid != tid || ev.kind != proc::StopEvent::Kind::signal || ev.signal != SIGTRAP) {
      call_other_event(ev);
      continue;
    }
    auto regs = p_.registers(tid);
    std::uint8_t insn = 0;
    try {
      p_.read_memory(proc::VirtAddr(regs.gp.rip - 1), std::as_writable_bytes(std::span(&insn, 1)));
    } catch (const proc::Error&) {
    }
    const auto* at = bi_.function_at(proc::VirtAddr(regs.gp.rip - 1));
    if (insn != 0xcc || (at && at->name.find("debugCall") == std::string::npos)) {
      call_other_event(ev);
      continue;
    }
    dbg_.invalidate();
    switch (static_cast<DebugCallTrap>(regs.gp.r12)) {
      case DebugCallTrap::failed: {
        const auto ptr = p_.read<std::uint64_t>(proc::VirtAddr(regs.gp.rsp));
        const auto len = p_.read<std::uint64_t>(proc::VirtAddr(regs.gp.rsp + 8));
        std::string msg(std::min<std::uint64_t>(len, 4096), '\0');
        try {
          p_.read_memory(proc::VirtAddr(ptr),
                         std::as_writable_bytes(std::span(msg.data(), msg.size())));
          c.error = msg;
        } catch (const proc::Error& e) {
          c.error = std::string("could not get precheck error reason: ") + e.what();
        }
        break;
      }
      case DebugCallTrap::call:
        if (c.error.empty())
          start_injected(tid, c, dbgcall);
        break;
      case DebugCallTrap::returned:
        if (!c.error.empty() || c.panic_value)
          break;
        if (c.mallocgc) {
          c.rax = regs.gp.rax;
          break;
        }
        try {
          // As Delve: pretend to be at the function's entry, CFA = SP.
          auto fake = regs;
          const std::uint64_t entry = bi_.to_virt(c.fn->low_pc).value();
          const std::uint64_t cfa = regs.gp.rsp;
          fake.gp.rsp = cfa - 8;
          fake.gp.rip = entry;
          const auto rd = thread_register_reader(p_, tid, fake);
          ValueLoader l(bi_, process_memory_reader(p_));
          for (const auto& param : c.fn->params) {
            if (!param.is_result)
              continue;
            auto v = l.load_variable(param, entry, cfa, rd, c.cfg);
            v.flags |= kFlagFakeAddress;
            c.results.push_back(std::move(v));
          }
        } catch (const std::exception& e) {
          c.error = std::string("could not get return values: ") + e.what();
        }
        break;
      case DebugCallTrap::panicked: {
        const auto* t = bi_.debug().find_type("interface {}");
        if (!t) {
          c.error = "could not get panic: no type interface {}";
          break;
        }
        ValueLoader l(bi_, process_memory_reader(p_));
        auto v = l.load("~panic", t, regs.gp.rsp, c.cfg);
        v.flags |= kFlagFakeAddress;
        c.panic_value = std::move(v);
        break;
      }
      case DebugCallTrap::restore: {
        auto r = saved;
        r.gp.rip = regs.gp.rip;
        r.gp.rsp = regs.gp.rsp;
        p_.set_registers(tid, r);
        p_.set_fp_registers(tid, saved_fp);
        // Out of debugCallV2 (it reloads the registers the stack copier may have moved,
        // then returns to the saved pc).
        for (int i = 0; i < 256 && in_dbgcall(p_.registers(tid).gp.rip); ++i) {
          p_.step_instruction(tid);
          for (;;) {
            const auto sev = call_wait();
            if (sev.tid == tid && sev.kind == proc::StopEvent::Kind::single_step)
              break;
            call_other_event(sev);
          }
        }
        auto last = p_.registers(tid);
        last.gp.eflags = saved.gp.eflags;  // the tail of debugCallV2 changes the flags
        p_.set_registers(tid, last);
        dbg_.invalidate();
        return;
      }
    }
    p_.resume_thread(tid);
  }
}

// Trap 0: the frame is open; writes the arguments and enters the function. A failure
// leaves the thread where it is (the protocol then goes on to trap 1 and 16).
void CallInjector::start_injected(pid_t tid, InjectedCall& c, const dwarf::Function& dbgcall) {
  try {
    for (auto& a : c.args) {
      if (!a.needs_alloc)
        continue;
      std::uint64_t base = 0;
      if (!a.literal.empty()) {
        InjectedCall m;
        m.fn = dbg_.find_function("runtime.mallocgc");
        if (!m.fn)
          throw CommandError("could not find runtime.mallocgc");
        m.mallocgc = true;
        m.malloc_size = a.literal.size();
        m.frame_size = 8 * 4 + (9 + 15) * 8;
        inject(tid, m, dbgcall, false);
        if (!m.error.empty())
          throw CommandError(m.error);
        if (m.rax == 0)
          throw CommandError("could not allocate string");
        base = m.rax;
        p_.write_memory(proc::VirtAddr(base),
                        std::as_bytes(std::span(a.literal.data(), a.literal.size())));
      }
      const std::uint64_t hdr[2] = {base, a.literal.size()};
      a.bytes.assign(reinterpret_cast<const std::byte*>(hdr),
                     reinterpret_cast<const std::byte*>(hdr) + 16);
      a.needs_alloc = false;
    }
    auto regs = p_.registers(tid);
    auto fp = p_.fp_registers(tid);
    const auto orig = regs;
    const std::uint64_t cfa = regs.gp.rsp;
    const std::uint64_t entry = bi_.to_virt(c.fn->low_pc).value();
    regs.gp.rsp = cfa - 8;
    regs.gp.rip = entry;
    std::vector<MemoryWrite> mem;
    mem.push_back({cfa - 8, {}});
    {
      const std::uint64_t ret = orig.gp.rip;
      mem.back().bytes.assign(reinterpret_cast<const std::byte*>(&ret),
                              reinterpret_cast<const std::byte*>(&ret) + 8);
    }
    if (c.mallocgc) {
      regs.gp.rax = c.malloc_size;
      regs.gp.rbx = 0;
      regs.gp.rcx = 0;
    } else {
      if (c.closure != 0)
        regs.gp.rdx = c.closure;
      dwarf::ExprContext ctx;
      const proc::Registers at_entry = regs;
      ctx.read_register = [at_entry](unsigned n) { return at_entry.by_dwarf_number(n); };
      ctx.read_memory = process_memory_reader(p_);
      ctx.frame_base = cfa;
      ctx.cfa = cfa;
      ctx.static_base = bi_.to_virt(dwarf::FileAddr(0)).value();
      for (const auto& a : c.args) {
        const auto loc = a.formal->location.at(c.fn->low_pc);
        if (!loc)
          throw CommandError("could not find location of argument " + a.formal->name);
        const auto pieces = dwarf::evaluate_location(*loc, ctx);
        scatter_value(a.bytes, pieces, regs.gp, fp, mem);
      }
    }
    for (const auto& w : mem) p_.write_memory(proc::VirtAddr(w.addr), w.bytes);
    p_.set_registers(tid, regs);
    p_.set_fp_registers(tid, fp);
  } catch (const std::exception& e) {
    if (dbg_.exited())
      throw;
    c.error = e.what();
  }
}

}  // namespace goscope::target

// Stack unwinding with .debug_frame CFI and the frame-pointer fallback, following Delve's
// stackIterator (stack switches from the system stack, bottom detection, inlined frames).
#include <cstring>

#include "target_impl.hpp"

namespace goscope::target {
namespace {

constexpr unsigned kRegRbp = 6, kRegRsp = 7;

bool starts_with(const std::string& s, const char* p) {
  return s.rfind(p, 0) == 0;
}

struct Walker {
  Walker(Target::Impl& i, const Goroutine* gr) : im(i), g(gr) {}
  Target::Impl& im;
  const Goroutine* g;
  std::uint64_t pc = 0;
  proc::Registers regs;  // registers of the frame being built
  bool regs_complete = false;
  bool top = true;
  bool atend = false;
  bool systemstack = true;
  std::uint64_t stackhi = 0;
  pid_t tid = 0;
  bool simple = false;  // Delve's StacktraceSimple: no stack switches
  std::string err;

  /// The return address saved at `addr`. When it cannot be read Delve's advanceRegs keeps
  /// the memory error (ptrace's EIO): the frame is still made, as the bottom one, and the
  /// walk ends with an error frame.
  std::uint64_t read_return_address(std::uint64_t addr) {
    if (auto v = im.read_u64(addr))
      return *v;
    if (err.empty())
      err = "input/output error";
    return 0;
  }

  /// Delve's newStackframe without a return address (retaddr 0: the return address slot
  /// would be at 0, or the CFA is undefined): an empty frame, then the walk stops with
  /// "NULL address" (an error frame after it). The empty frame still goes through the
  /// stack switch and bottom checks of stackIterator.Next.
  std::optional<Frame> null_address_frame() {
    err = "NULL address";
    Frame f;
    if (!simple && switch_stack(nullptr)) {
      f.bottom = atend;
      return f;
    }
    atend = true;  // Ret is 0
    f.bottom = true;
    return f;
  }

  std::optional<std::uint64_t> reg(unsigned n) const {
    if (n == kRegRsp)
      return regs.gp.rsp;
    if (n == kRegRbp)
      return regs.gp.rbp;
    if (n == 16)
      return pc;
    if (!regs_complete)
      return std::nullopt;
    return regs.by_dwarf_number(n);
  }

  void switch_to_goroutine_stack() {
    systemstack = false;
    top = false;
    pc = g->sched_pc;
    regs = proc::Registers{};
    regs.gp.rsp = g->sched_sp;
    regs.gp.rbp = g->sched_bp;
    regs.gp.rip = pc;
    regs_complete = false;
  }

  /// One step of Delve's stackIterator.Next: the frame at `pc`, then move to its caller.
  std::optional<Frame> next() {
    if (!err.empty() || atend)
      return std::nullopt;
    const auto fpc = im.bi.to_file(proc::VirtAddr(pc));
    auto row = im.bi.debug().frames().row_at(fpc);
    std::uint64_t cfa = 0, ret = 0, retaddr = 0;
    std::uint64_t caller_rbp = regs.gp.rbp;
    // Delve's amd64FixFrameUnwindContext: a signal handler ran on the signal stack without
    // saving the interrupted pc and sp in g.sched, so at runtime.sigreturn (the return
    // trampoline of the handler's frame) the frame pointer is followed, whatever its FDE
    // says: that leads back to the interrupted goroutine (a crash core's stack).
    if (row) {
      const auto* here = im.bi.function_at(proc::VirtAddr(pc));
      if (here && here->name == "runtime.sigreturn")
        row.reset();
    }
    if (!row) {
      // No FDE (assembly without CFI): assume a standard frame-pointer frame.
      cfa = regs.gp.rbp + 16;
      retaddr = cfa - 8;
      ret = read_return_address(retaddr);
      caller_rbp = im.read_u64(cfa - 16).value_or(0);
    } else {
      auto base = reg(row->cfa_register);
      if (!base) {
        // Delve's advanceRegs fails with "CFA becomes undefined" and no return address,
        // which newStackframe then reports as a NULL address.
        return null_address_frame();
      }
      cfa = *base + static_cast<std::uint64_t>(row->cfa_offset);
      const auto ra = row->return_address();
      if (ra.kind == dwarf::RegisterRule::Kind::offset) {
        retaddr = cfa + static_cast<std::uint64_t>(ra.offset);
        ret = read_return_address(retaddr);
      }
      const auto bp_rule = row->rule(kRegRbp);
      if (bp_rule.kind == dwarf::RegisterRule::Kind::offset) {
        caller_rbp = im.read_u64(cfa + static_cast<std::uint64_t>(bp_rule.offset)).value_or(0);
      } else if (regs.gp.rbp != 0 && regs.gp.rbp <= cfa) {
        // Delve's frame-pointer rule: a frame that pushed rbp saved the caller's at [rbp].
        caller_rbp = im.read_u64(regs.gp.rbp).value_or(0);
      }
    }
    if (retaddr == 0)
      return null_address_frame();
    Frame f;
    f.current = im.target.location(pc);
    f.tid = top ? tid : 0;
    f.regs = regs;
    f.regs.gp.rip = pc;
    f.regs_complete = regs_complete;
    f.cfa = cfa;
    f.sp = regs.gp.rsp;
    f.bp = regs.gp.rbp;
    f.ret = ret;
    f.last_pc = pc;
    f.frame_offset = static_cast<std::int64_t>(cfa - stackhi);
    f.frame_pointer_offset = static_cast<std::int64_t>(regs.gp.rbp - stackhi);
    const auto* fn = f.current.function;
    if (!fn) {
      f.current.file = "?";
      f.current.line = -1;
    }
    f.call = f.current;
    if (!top && fn && pc != im.bi.to_virt(fn->low_pc).value() && fn->name != "runtime.mstart" &&
        fn->name != "runtime.systemstack_switch") {
      f.last_pc = pc - 1;
      if (auto l = im.bi.debug().lines().find(im.bi.to_file(proc::VirtAddr(pc - 1)))) {
        f.call.file = l->file;
        f.call.line = static_cast<int>(l->line);
      }
    }
    if (!simple && switch_stack(fn)) {
      f.bottom = atend;
      return f;
    }
    if (ret == 0) {
      atend = true;
      f.bottom = true;
      return f;
    }
    top = false;
    pc = ret;
    proc::Registers caller;
    caller.gp.rsp = cfa;
    caller.gp.rbp = caller_rbp;
    caller.gp.rip = ret;
    regs = caller;
    regs_complete = false;
    return f;
  }

  /// Delve's amd64SwitchStack (without cgo): true when it moved the walk itself.
  bool switch_stack(const dwarf::Function* fn) {
    if (!fn) {
      if (systemstack && g && top) {
        switch_to_goroutine_stack();
        return true;
      }
      return false;
    }
    const auto& n = fn->name;
    if (n == "runtime.goexit" || n == "runtime.rt0_go" || n == "runtime.mcall") {
      atend = true;
      return true;
    }
    if (n == "runtime.mstart") {
      if (top || !systemstack || !g)
        return false;
      const auto* gfn = im.bi.function_at(proc::VirtAddr(g->sched_pc));
      if (!gfn || gfn->name != "runtime.systemstack_switch")
        return false;
      switch_to_goroutine_stack();
      return true;
    }
    if (systemstack && top && g && starts_with(n, "runtime.") && n != "runtime.throw" &&
        n != "runtime.fatalthrow") {
      switch_to_goroutine_stack();
      return true;
    }
    return false;
  }
};

}  // namespace

std::vector<Frame> Target::Impl::walk(const Goroutine* g, pid_t tid, int max_frames,
                                      bool physical_only, const StackOptions& opts,
                                      bool (*until)(const Frame&)) {
  Walker w(*this, g);
  w.simple = opts.simple;
  if (g) {
    w.systemstack = g->system_stack;
    w.stackhi = g->stack_hi;
  }
  if (tid != 0) {
    w.regs = registers(tid);
    w.regs_complete = true;
    w.tid = tid;
  } else if (g) {
    w.regs.gp.rsp = g->sched_sp;
    w.regs.gp.rbp = g->sched_bp;
    w.regs.gp.rip = g->sched_pc;
  }
  w.pc = w.regs.gp.rip;
  if (opts.from_g_sched && g) {
    // Delve's StacktraceG: switchToGoroutineStack before the first frame, which replaces
    // pc, sp and bp with g.sched's (the other registers stay the thread's, if running)
    // and leaves the walk on the goroutine stack at its top. A running goroutine's g.sched
    // is stale: gogo zeroed sp and bp.
    w.systemstack = false;
    w.pc = g->sched_pc;
    w.regs.gp.rsp = g->sched_sp;
    w.regs.gp.rbp = g->sched_bp;
    w.regs.gp.rip = g->sched_pc;
    w.top = true;
  }
  std::vector<Frame> frames;
  while (static_cast<int>(frames.size()) < max_frames) {
    auto f = w.next();
    if (!f)
      break;
    if (physical_only) {
      frames.push_back(std::move(*f));
      if (until && until(frames.back()))
        break;
      continue;
    }
    // Inlined calls at this pc become frames of their own above the physical one, each
    // showing the inlined function at the current line; the physical frame then shows
    // the line of the outermost inlined call (Delve's appendInlineCalls).
    Frame phys = std::move(*f);
    if (phys.call.function) {
      const std::uint64_t callpc = frames.empty() ? phys.call.pc : phys.call.pc - 1;
      for (const auto* ic : bi.debug().inlined_at(bi.to_file(proc::VirtAddr(callpc)))) {
        if (ic->caller != phys.call.function)
          continue;
        Frame inl = phys;
        inl.bottom = false;
        inl.inlined = true;
        inl.call.inlined = ic;
        frames.push_back(std::move(inl));
        phys.call.file = ic->call_file;
        phys.call.line = static_cast<int>(ic->call_line);
      }
    }
    frames.push_back(std::move(phys));
  }
  if (!w.err.empty()) {
    if (frames.empty())
      throw EvalError(w.err);
    Frame e;
    e.err = w.err;
    frames.push_back(std::move(e));
  }
  return frames;
}

std::vector<Defer> Target::Impl::defers_of(const Goroutine& g) {
  std::vector<Defer> out;
  if (rt.defer_ == 0)
    return out;
  auto d = read_u64(g.g_addr + rt.defer_);
  for (int guard = 0; d && *d && guard < 1000; ++guard) {
    Defer def;
    def.addr = *d;
    def.sp = read_u64(*d + rt.d_sp).value_or(0);
    const auto deferpc = read_u64(*d + rt.d_pc).value_or(0);
    def.defer = target.location(deferpc);
    const auto fv = read_u64(*d + rt.d_fn).value_or(0);
    const auto entry = fv ? read_u64(fv).value_or(0) : 0;
    def.fn_pc = entry;
    if (entry) {
      // Delve's DeferredFunc: a defer wrapper shows the function it calls, at its entry.
      def.deferred = target.location(entry);
      if (const auto* fn = dwrap_unwrap(def.deferred.function); fn && fn != def.deferred.function) {
        def.deferred = target.location(bi.to_virt(fn->low_pc).value());
        def.deferred.function = fn;
      }
    } else {
      def.unreadable = "unreadable deferred function";
    }
    out.push_back(std::move(def));
    d = read_u64(*d + rt.d_link);
  }
  return out;
}

StackOptions StackOptions::from_delve(unsigned opts) {
  StackOptions o;
  o.read_defers = (opts & 1U) != 0;
  o.simple = (opts & 2U) != 0;
  o.from_g_sched = (opts & 4U) != 0;
  return o;
}

std::vector<Frame> Target::stacktrace(const Goroutine& g, int depth, bool read_defers) {
  StackOptions opts;
  opts.read_defers = read_defers;
  return stacktrace(g, depth, opts);
}

std::vector<Frame> Target::stacktrace(const Goroutine& g, int depth, const StackOptions& opts) {
  const bool read_defers = opts.read_defers;
  if (depth < 0)
    throw EvalError("negative maximum stack depth");
  auto frames = impl_->walk(&g, g.thread_id, depth + 1, false, opts);
  if (frames.size() > static_cast<std::size_t>(depth) + 1 && frames.back().err.empty()) {
    frames.resize(static_cast<std::size_t>(depth) + 1);
  }
  if (read_defers) {
    // Delve's readDefers: a defer belongs to the first frame whose CFA (the SP before its
    // call) is above the SP the defer was registered with; an unreadable one goes to the
    // frame reached and ends the scan, as does a frame that failed to unwind. Frames on the
    // system stack cannot be compared with the goroutine's SPs.
    auto defers = impl_->defers_of(g);
    std::size_t i = 0;
    for (auto it = defers.begin(); it != defers.end() && i < frames.size();) {
      if (!it->unreadable.empty()) {
        frames[i].defers.push_back(std::move(*it));
        break;
      }
      if (!frames[i].err.empty())
        break;
      const bool system_stack = frames[i].cfa < g.stack_lo || frames[i].cfa > g.stack_hi;
      if (system_stack || it->sp >= frames[i].cfa) {
        ++i;
      } else {
        frames[i].defers.push_back(std::move(*it));
        ++it;
      }
    }
  }
  return frames;
}

std::vector<Frame> Target::thread_stacktrace(pid_t tid, int depth) {
  if (depth < 0)
    throw EvalError("negative maximum stack depth");
  if (auto g = goroutine_of_thread(tid))
    return stacktrace(*g, depth);
  auto frames = impl_->walk(nullptr, tid, depth + 1, false);
  if (frames.size() > static_cast<std::size_t>(depth) + 1) {
    frames.resize(static_cast<std::size_t>(depth) + 1);
  }
  return frames;
}

}  // namespace goscope::target

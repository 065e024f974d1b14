#include "target/target.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "proc/error.hpp"
#include "target_impl.hpp"

namespace goscope::target {
namespace {

constexpr unsigned kDwarfXmm0 = 17;
/// The dictionary argument of a generic function's shape instantiation (Delve's
/// goDictionaryName): never listed, it resolves the type parameters.
constexpr const char* kDictName = ".dict";

std::uint64_t offset_of(const dwarf::Type* t, const char* name, bool& ok) {
  const auto* f = t ? t->resolved()->field(name) : nullptr;
  if (!f) {
    ok = false;
    return 0;
  }
  return f->offset;
}

RuntimeLayout read_layout(const dwarf::DebugInfo& d) {
  RuntimeLayout r;
  const dwarf::Type* g = d.find_type("runtime.g");
  const dwarf::Type* m = d.find_type("runtime.m");
  const dwarf::Type* gobuf = d.find_type("runtime.gobuf");
  const dwarf::Type* stack = d.find_type("runtime.stack");
  const dwarf::Type* defer = d.find_type("runtime._defer");
  if (!g || !m || !gobuf || !stack)
    return r;
  bool ok = true;
  r.g_size = g->resolved()->size;
  const auto sched = offset_of(g, "sched", ok);
  r.sched_sp = sched + offset_of(gobuf, "sp", ok);
  r.sched_pc = sched + offset_of(gobuf, "pc", ok);
  r.sched_bp = sched + offset_of(gobuf, "bp", ok);
  const auto st = offset_of(g, "stack", ok);
  r.stack_lo = st + offset_of(stack, "lo", ok);
  r.stack_hi = st + offset_of(stack, "hi", ok);
  r.atomicstatus = offset_of(g, "atomicstatus", ok);
  r.goid = offset_of(g, "goid", ok);
  r.waitsince = offset_of(g, "waitsince", ok);
  r.waitreason = offset_of(g, "waitreason", ok);
  if (const auto* f = g->resolved()->field("waitreason"); f && f->type) {
    r.waitreason_size = static_cast<std::uint8_t>(f->type->resolved()->size);
  }
  r.gopc = offset_of(g, "gopc", ok);
  r.startpc = offset_of(g, "startpc", ok);
  r.m = offset_of(g, "m", ok);
  r.m_curg = offset_of(m, "curg", ok);
  r.m_procid = offset_of(m, "procid", ok);
  bool labels_ok = true;
  r.labels = offset_of(g, "labels", labels_ok);
  if (defer) {
    bool dok = true;
    r.defer_ = offset_of(g, "_defer", dok);
    r.d_sp = offset_of(defer, "sp", dok);
    r.d_pc = offset_of(defer, "pc", dok);
    r.d_fn = offset_of(defer, "fn", dok);
    r.d_link = offset_of(defer, "link", dok);
    r.d_size = defer->resolved()->size;
    if (!dok)
      r.defer_ = 0;
  }
  r.ok = ok;
  return r;
}

}  // namespace

Target::Impl::Impl(Target& t, proc::Process& p, const BinaryInfo& b)
    : target(t),
      proc(p),
      bi(b),
      rt(read_layout(b.debug())),
      loader(b, [this](std::uint64_t a, std::span<std::byte> out) { return read(a, out); }) {}

bool Target::Impl::read(std::uint64_t addr, std::span<std::byte> out) {
  if (addr == 0)
    return false;
  try {
    proc.read_memory(proc::VirtAddr(addr), out);
    return true;
  } catch (const proc::Error&) {
    return false;
  }
}

std::optional<std::uint64_t> Target::Impl::read_u64(std::uint64_t addr) {
  std::uint64_t v = 0;
  if (!read(addr, std::as_writable_bytes(std::span(&v, 1))))
    return std::nullopt;
  return v;
}

const proc::Registers& Target::Impl::registers(pid_t tid) {
  auto it = regs_cache.find(tid);
  if (it == regs_cache.end())
    it = regs_cache.emplace(tid, proc.registers(tid)).first;
  return it->second;
}

std::optional<std::uint64_t> Target::Impl::read_register(const Frame& f, unsigned regno) {
  if (regno >= kDwarfXmm0 && regno < kDwarfXmm0 + 16) {
    if (!f.regs_complete || f.tid == 0)
      return std::nullopt;
    const auto fp = proc.fp_registers(f.tid);
    std::uint64_t lo = 0;
    std::memcpy(&lo, &fp.xmm_space[(regno - kDwarfXmm0) * 4], sizeof lo);
    return lo;
  }
  if (!f.regs_complete && regno != 6 && regno != 7 && regno != 16)
    return std::nullopt;
  return f.regs.by_dwarf_number(regno);
}

std::uint64_t Target::Impl::dict_address(const Frame& f) {
  if (!f.call.function || f.call.inlined)
    return 0;
  for (const auto& p : f.call.function->params) {
    if (p.name != kDictName)
      continue;
    const RegisterFn regs = [&](unsigned r) { return read_register(f, r); };
    ValueLoader l(bi, [this](std::uint64_t a, std::span<std::byte> out) { return read(a, out); });
    bool fake = false;
    std::string err;
    const auto addr = l.locate(p, f.current.pc, f.cfa, regs, &fake, &err);
    if (!addr)
      return 0;
    std::uint64_t dict = 0;
    if (!l.read(*addr, std::as_writable_bytes(std::span(&dict, 1))))
      return 0;
    return dict;
  }
  return 0;
}

Target::Target(std::unique_ptr<proc::Process> process, std::unique_ptr<BinaryInfo> bi)
    : process_(std::move(process)),
      bi_(std::move(bi)),
      impl_(std::make_unique<Impl>(*this, *process_, *bi_)) {}

Target::~Target() = default;

void Target::invalidate() {
  impl_->regs_cache.clear();
  impl_->thread_g.clear();
  impl_->all_loaded = false;
  impl_->all.clear();
}

Location Target::location(std::uint64_t pc) const {
  Location loc;
  loc.pc = pc;
  loc.function = bi_->function_at(proc::VirtAddr(pc));
  if (auto l = bi_->debug().lines().find(bi_->to_file(proc::VirtAddr(pc)))) {
    loc.file = l->file;
    loc.line = static_cast<int>(l->line);
  }
  return loc;
}

Frame Target::frame_for(const Scope& scope) {
  std::vector<Frame> frames;
  const std::int64_t gid = scope.goroutine == -1 ? selected_goroutine_ : scope.goroutine;
  if (gid <= 0) {
    if (current_thread_ == 0)
      throw EvalError("no current thread");
    frames = thread_stacktrace(current_thread_, scope.frame);
  } else {
    auto g = goroutine(gid);
    if (!g)
      throw EvalError("unknown goroutine " + std::to_string(gid));
    frames = stacktrace(*g, scope.frame, scope.deferred_call > 0);
    for (auto& fr : frames) fr.g_addr = g->g_addr;
  }
  if (scope.frame >= 0 && static_cast<std::size_t>(scope.frame) >= frames.size()) {
    throw EvalError("Frame " + std::to_string(scope.frame) + " does not exist in goroutine " +
                    std::to_string(scope.requested_goroutine.value_or(scope.goroutine)));
  }
  if (scope.frame < 0 || !frames[static_cast<std::size_t>(scope.frame)].err.empty()) {
    throw EvalError("Invalid frame " + std::to_string(scope.frame));
  }
  Frame& f = frames[static_cast<std::size_t>(scope.frame)];
  if (scope.deferred_call <= 0)
    return f;
  // Delve's ConvertEvalScope with deferCall > 0, then Defer.EvalScope.
  if (static_cast<std::size_t>(scope.deferred_call - 1) >= f.defers.size()) {
    throw EvalError("Frame " + std::to_string(scope.frame) + " only has " +
                    std::to_string(f.defers.size()) + " deferred calls");
  }
  const Defer& d = f.defers[static_cast<std::size_t>(scope.deferred_call - 1)];
  if (!d.unreadable.empty())
    throw EvalError(d.unreadable);
  Frame out;
  out.current = location(d.fn_pc);
  if (!out.current.function) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "could not find function at %#llx",
                  static_cast<unsigned long long>(d.fn_pc));
    throw EvalError(buf);
  }
  out.call = out.current;
  out.last_pc = d.fn_pc;
  out.cfa = d.addr + impl_->rt.d_size;
  out.sp = out.cfa - 8;
  out.regs.gp.rip = d.fn_pc;
  out.regs.gp.rsp = out.sp;
  out.frame_offset = f.frame_offset;
  return out;
}

namespace {

/// The pc lexical blocks are looked up at: the return address minus one in callers (the
/// CALL is what is executing there), Delve's scope.PC (Stackframe.lastpc).
std::uint64_t lookup_pc(const Frame& f) {
  return f.last_pc ? f.last_pc : f.current.pc;
}

/// The pc location lists are looked up and printed at: the frame's own pc (the return
/// address in callers), Delve's regs.PC() in extractVarInfoFromEntry.
std::string shown_location(const BinaryInfo& bi, const dwarf::Variable& var, const Frame& f) {
  return location_text(var.location, f.current.pc - bi.load_bias(), f.current.pc);
}

}  // namespace

std::vector<ScopeVar> Target::Impl::visible_variables(const Frame& f) {
  // Delve's EvalScope.Locals: the visible parameters and locals (reader.Variables), sorted
  // stably by lexical depth (parameters 0, function-level locals 1, ...) then declaration
  // line; the earlier of two same-named variables is Shadowed; an escaped variable (`&x`,
  // a pointer to its heap copy) becomes that copy, named x, with only the Escaped flag, so
  // that an escaped parameter is listed among the locals.
  std::vector<ScopeVar> visible;
  const std::vector<dwarf::Variable>* params = nullptr;
  if (f.call.inlined) {
    params = &f.call.inlined->params;
  } else if (f.call.function) {
    params = &f.call.function->params;
  }
  if (!params)
    return visible;
  const auto fpc = bi.to_file(proc::VirtAddr(lookup_pc(f)));
  auto add = [&](const dwarf::Variable& v, unsigned depth) {
    const bool escaped = v.name.size() > 1 && v.name[0] == '&';
    ScopeVar e{&v, depth, escaped ? v.name.substr(1) : v.name, escaped, 0};
    if (escaped)
      e.flags = kFlagEscaped;
    else if (v.is_result)
      e.flags = kFlagReturnArgument;
    else if (v.is_parameter)
      e.flags = kFlagArgument;
    visible.push_back(std::move(e));
  };
  for (const auto& p : *params) {
    // Parameters are visible from their declaration line on.
    if (p.name == kDictName || (p.decl_line != 0 && static_cast<int>(p.decl_line) > f.call.line))
      continue;
    add(p, 0);
  }
  if (!f.call.inlined) {
    for (const auto& v : bi.debug().locals(*f.call.function)) {
      if (!v.in_scope(fpc))
        continue;
      // Go >= 1.15 (VariablesTrustDeclLine): a local is visible from the line after its
      // declaration: on `b := a + 1`, b is not assigned yet.
      if (v.decl_line != 0 && static_cast<int>(v.decl_line) >= f.call.line)
        continue;
      add(v, v.depth + 1);
    }
  }
  std::stable_sort(visible.begin(), visible.end(), [](const ScopeVar& a, const ScopeVar& b) {
    if (a.depth != b.depth)
      return a.depth < b.depth;
    return a.var->decl_line < b.var->decl_line;
  });
  for (std::size_t i = 0; i < visible.size(); ++i) {
    for (std::size_t j = i + 1; j < visible.size(); ++j) {
      if (visible[j].name == visible[i].name) {
        visible[i].flags |= kFlagShadowed;
        break;
      }
    }
  }
  return visible;
}

std::vector<Variable> Target::Impl::scope_variables(const Frame& f, const LoadConfig& cfg,
                                                    bool arguments) {
  // FunctionArguments keeps the variables flagged Argument/ReturnArgument, LocalVariables
  // the others.
  std::vector<Variable> out;
  const auto visible = visible_variables(f);
  const std::uint64_t pc = f.current.pc;  // location lists: Delve's regs.PC()
  const RegisterFn regs = [&](unsigned r) { return read_register(f, r); };
  std::uint64_t dict = 0;
  bool dict_read = false;
  for (const ScopeVar& e : visible) {
    const bool argument = (e.flags & (kFlagArgument | kFlagReturnArgument)) != 0;
    if (argument != arguments)
      continue;
    if (!dict_read) {
      dict = dict_address(f);
      dict_read = true;
    }
    const dwarf::Variable& dv = *e.var;
    const std::string location = shown_location(bi, dv, f);
    Variable v;
    if (!e.escaped) {
      v = loader.load_variable(dv, pc, f.cfa, regs, cfg, dict);
      v.location_expr = location;
    } else {
      // Delve's maybeDereference, then loadValue with cfg from recursion level 0.
      constexpr LoadConfig kWordOnly{false, 0, 0, 0, 0};
      Variable ptr = loader.load_variable(dv, pc, f.cfa, regs, kWordOnly, dict);
      const dwarf::Type* pt = dv.type ? dv.type->resolved() : nullptr;
      if (!ptr.unreadable.empty() || !pt || pt->kind != dwarf::GoKind::ptr ||
          ptr.children.empty()) {
        v = std::move(ptr);
      } else {
        v.addr = ptr.children[0].addr;
        if (v.addr == 0) {
          v.type = pt->elem ? pt->elem->name : std::string();
          v.real_type = pt->elem ? pt->elem->resolved()->name : std::string();
          v.unreadable = "no address for escaped variable";
        } else {
          loader.load_into(v, pt->elem, cfg);
        }
      }
      v.decl_line = dv.decl_line;
      v.location_expr = location.empty() ? location : location + " (escaped)";
    }
    v.flags = static_cast<std::uint16_t>((v.flags & kFlagFakeAddress) | e.flags);
    v.name = e.name;
    out.push_back(std::move(v));
  }
  return out;
}

std::vector<Variable> Target::function_arguments(const Frame& f, const LoadConfig& cfg) {
  return impl_->scope_variables(f, cfg, true);
}

std::vector<Variable> Target::local_variables(const Frame& f, const LoadConfig& cfg) {
  if (!f.call.function || f.call.inlined)
    return {};
  return impl_->scope_variables(f, cfg, false);
}

std::vector<Variable> Target::package_variables(const std::string& filter, const LoadConfig& cfg) {
  std::vector<Variable> out;
  std::optional<GoRegexp> re;
  if (!filter.empty()) {
    try {
      re.emplace(filter);
    } catch (const RegexpError& e) {
      throw EvalError("invalid filter argument: " + std::string(e.what()));
    }
  }
  // Delve's PackageVariables: in DWARF order.
  const auto names = bi_->debug().global_names();
  RegisterFn no_regs = [](unsigned) -> std::optional<std::uint64_t> { return std::nullopt; };
  for (const auto& n : names) {
    if (re && !re->match(n))
      continue;
    const auto* g = bi_->debug().find_global(n);
    if (!g || !g->type)
      continue;
    Variable v = impl_->loader.load_variable(*g, 0, 0, no_regs, cfg);
    v.name = n;
    out.push_back(std::move(v));
  }
  return out;
}

}  // namespace goscope::target

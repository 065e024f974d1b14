#include "target/target.hpp"

#include <algorithm>
#include <cstring>
#include <regex>

#include "proc/error.hpp"
#include "target_impl.hpp"

namespace goscope::target {
namespace {

constexpr unsigned kDwarfXmm0 = 17;

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
    frames = stacktrace(*g, scope.frame);
  }
  if (scope.frame < 0 || static_cast<std::size_t>(scope.frame) >= frames.size() ||
      !frames[static_cast<std::size_t>(scope.frame)].err.empty()) {
    throw EvalError("Invalid frame " + std::to_string(scope.frame));
  }
  return frames[static_cast<std::size_t>(scope.frame)];
}

namespace {

/// The pc variables are looked up at: the return address minus one in callers (the CALL
/// is what is executing there), as Delve's lexical-block and location-list lookups do.
std::uint64_t lookup_pc(const Frame& f) {
  return f.last_pc ? f.last_pc : f.current.pc;
}

/// Delve prints a location list's entry with the frame's own pc (the return address in
/// callers), while the entry itself is looked up at lookup_pc.
std::string shown_location(const BinaryInfo& bi, const dwarf::Variable& var, const Frame& f) {
  const std::uint64_t pc = lookup_pc(f);
  std::string text = location_text(var.location, pc - bi.load_bias(), f.current.pc);
  return text;
}

}  // namespace

std::vector<Variable> Target::function_arguments(const Frame& f, const LoadConfig& cfg) {
  std::vector<Variable> out;
  const std::vector<dwarf::Variable>* params = nullptr;
  if (f.call.inlined) {
    params = &f.call.inlined->params;
  } else if (f.call.function) {
    params = &f.call.function->params;
  }
  if (!params)
    return out;
  RegisterFn regs = [&](unsigned r) { return impl_->read_register(f, r); };
  for (const auto& p : *params) {
    Variable v = impl_->loader.load_variable(p, lookup_pc(f), f.cfa, regs, cfg);
    v.location_expr = shown_location(*bi_, p, f);
    if (!p.name.empty() && p.name[0] == '&') {
      // An escaped parameter: DWARF describes a pointer to its heap copy.
      if (!v.children.empty()) {
        Variable inner = v.children[0];
        inner.name = p.name.substr(1);
        inner.flags = static_cast<std::uint16_t>(v.flags | kFlagEscaped);
        inner.decl_line = v.decl_line;
        if (!v.location_expr.empty())
          inner.location_expr = v.location_expr + " (escaped)";
        v = std::move(inner);
      }
    }
    out.push_back(std::move(v));
  }
  return out;
}

std::vector<Variable> Target::local_variables(const Frame& f, const LoadConfig& cfg) {
  std::vector<Variable> out;
  if (!f.call.function || f.call.inlined)
    return out;
  const std::uint64_t pc = lookup_pc(f);
  const auto fpc = bi_->to_file(proc::VirtAddr(pc));
  struct Entry {
    const dwarf::Variable* var;
    std::size_t order;
  };
  std::vector<Entry> visible;
  const auto& locals = bi_->debug().locals(*f.call.function);
  for (std::size_t i = 0; i < locals.size(); ++i) {
    const auto& v = locals[i];
    if (!v.in_scope(fpc))
      continue;
    // Delve hides variables declared below the current line (not yet defined there).
    if (v.decl_line != 0 && static_cast<int>(v.decl_line) > f.call.line)
      continue;
    visible.push_back({&v, i});
  }
  // Delve orders by lexical depth, then declaration line.
  std::stable_sort(visible.begin(), visible.end(), [](const Entry& a, const Entry& b) {
    if (a.var->depth != b.var->depth)
      return a.var->depth < b.var->depth;
    return a.var->decl_line < b.var->decl_line;
  });
  RegisterFn regs = [&](unsigned r) { return impl_->read_register(f, r); };
  for (std::size_t i = 0; i < visible.size(); ++i) {
    const auto& dv = *visible[i].var;
    Variable v = impl_->loader.load_variable(dv, pc, f.cfa, regs, cfg);
    v.location_expr = shown_location(*bi_, dv, f);
    std::string name = dv.name;
    if (!name.empty() && name[0] == '&') {
      name = name.substr(1);
      if (!v.children.empty()) {
        Variable inner = v.children[0];
        inner.flags = static_cast<std::uint16_t>(v.flags | kFlagEscaped);
        inner.decl_line = v.decl_line;
        if (!v.location_expr.empty())
          inner.location_expr = v.location_expr + " (escaped)";
        v = std::move(inner);
      }
      v.name = name;
    }
    // A variable is shadowed when a deeper one of the same name follows it.
    for (std::size_t j = i + 1; j < visible.size(); ++j) {
      std::string other = visible[j].var->name;
      if (!other.empty() && other[0] == '&')
        other = other.substr(1);
      if (other == name && visible[j].var->depth > dv.depth) {
        v.flags |= kFlagShadowed;
        break;
      }
    }
    out.push_back(std::move(v));
  }
  return out;
}

std::vector<Variable> Target::package_variables(const std::string& filter, const LoadConfig& cfg) {
  std::vector<Variable> out;
  std::optional<std::regex> re;
  if (!filter.empty()) {
    try {
      re.emplace(filter);
    } catch (const std::regex_error& e) {
      throw EvalError("invalid filter: " + std::string(e.what()));
    }
  }
  auto names = bi_->debug().global_names();
  std::sort(names.begin(), names.end());
  RegisterFn no_regs = [](unsigned) -> std::optional<std::uint64_t> { return std::nullopt; };
  for (const auto& n : names) {
    if (re && !std::regex_search(n, *re))
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

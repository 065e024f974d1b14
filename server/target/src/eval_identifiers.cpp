// Identifiers: locals and arguments in Delve's Locals order, package variables, functions,
// named constants, and CPU registers by name (with their conversions, REG.int8 ...).
#include "eval_internal.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <map>

#include "dwarf/expr.hpp"
#include "proc/registers.hpp"

namespace goscope::target::expr {

V Evaluator::eval_ident(const std::string& name) {
  if (name == "true" || name == "false")
    return constant(Const::of_bool(name == "true"));
  if (name == "nil")
    return nil_variable();
  for (const auto& e : im_.visible_variables(f_)) {
    if (e.name == name && (e.flags & kFlagShadowed) == 0)
      return local(e);
  }
  if (f_.call.function) {
    const std::string fn = f_.call.function_name();
    const auto slash = fn.rfind('/');
    const auto from = slash == std::string::npos ? 0 : slash;
    if (const auto dot = fn.find('.', from); dot != std::string::npos) {
      if (auto v = find_global(fn.substr(0, dot), name)) {
        v->name = name;
        return *v;
      }
    }
  }
  if (auto v = cpu_register(name))
    return *v;
  throw EvalError("could not find symbol value for " + name);
}

/// Delve's evalIdent fallback: an identifier that, once leading underscores are dropped,
/// is only capital letters and digits names a CPU register (looked up lowercased in
/// AMD64NameToDwarf) if the frame knows it: every register in a thread's frame 0, only
/// RIP, RSP and RBP elsewhere. Up to 8 bytes it is a uint64, wider ones (XMMn, STn) a
/// string of hex digits.
std::optional<V> Evaluator::cpu_register(const std::string& name) {
  std::string s = name;
  s.erase(0, std::min(s.size(), s.find_first_not_of('_')));
  for (const char c : s) {
    if ((c < '0' || c > '9') && (c < 'A' || c > 'Z'))
      return std::nullopt;
  }
  auto bytes = register_bytes(s);
  if (!bytes)
    return std::nullopt;
  V v;
  v.name = name;
  if (bytes->size() <= 8) {
    v.type = v.real = im_.bi.debug().find_type("uint64");
    std::uint64_t x = 0;
    std::memcpy(&x, bytes->data(), bytes->size());
    v.value = Const::of_int(x);
  } else {
    v.type = v.real = im_.bi.debug().find_type("string");
    static const char* const kHex = "0123456789abcdef";
    std::string hexs;
    for (const std::byte b : *bytes) {
      hexs += kHex[std::to_integer<unsigned>(b) >> 4];
      hexs += kHex[std::to_integer<unsigned>(b) & 15];
    }
    v.value = Const::of_string(std::move(hexs));
  }
  if (!v.type)
    return std::nullopt;
  v.real = v.type->resolved();
  v.addr = kFakeAddressUnresolv;
  v.flags = kFlagCPURegister;
  v.cpu_reg = std::make_shared<const std::vector<std::byte>>(std::move(*bytes));
  return v;
}

/// The bytes of register `upper` (Delve's spelling, uppercase) in this frame, as
/// Delve's DwarfRegisters hold them; nullopt when the frame does not know it.
std::optional<std::vector<std::byte>> Evaluator::register_bytes(const std::string& upper) {
  std::string n = upper;
  for (char& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto u64 = [](std::uint64_t x) {
    std::vector<std::byte> b(8);
    std::memcpy(b.data(), &x, 8);
    return b;
  };
  const auto& gp = f_.regs.gp;
  // A caller's frame (or a parked goroutine's) has only what unwinding computed.
  if (n == "rip")
    return u64(gp.rip);
  if (n == "rsp")
    return u64(gp.rsp);
  if (n == "rbp")
    return u64(gp.rbp);
  if (!f_.regs_complete)
    return std::nullopt;
  // rax ... r15 from proc's register table; the flags and segment registers have no
  // DWARF number there.
  if (const proc::GpRegister* r = proc::gp_register_by_name(n))
    return u64(gp.*(r->field));
  static const std::map<std::string, unsigned long long user_regs_struct::*> kOther = {
      {"rflags", &user_regs_struct::eflags}, {"eflags", &user_regs_struct::eflags},
      {"es", &user_regs_struct::es},         {"cs", &user_regs_struct::cs},
      {"ss", &user_regs_struct::ss},         {"ds", &user_regs_struct::ds},
      {"fs", &user_regs_struct::fs},         {"gs", &user_regs_struct::gs},
  };
  if (auto it = kOther.find(n); it != kOther.end())
    return u64(gp.*(it->second));
  // The x87/SSE state (Delve's loadMoreCallback: AMD64Xstate.Decode). FS_BASE, GS_BASE
  // and ST(n) cannot be spelled as identifiers; XMM16-31 and K0-7 are never decoded.
  const bool st = n.size() == 3 && n[0] == 's' && n[1] == 't' && n[2] >= '0' && n[2] <= '7';
  int xmm = -1;
  if (n.size() >= 4 && n.size() <= 5 && n.starts_with("xmm") &&
      std::all_of(n.begin() + 3, n.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
      !(n.size() == 5 && n[3] == '0')) {
    xmm = std::stoi(n.substr(3));
    if (xmm > 15)
      return std::nullopt;
  }
  if (!st && xmm < 0 && n != "mxcsr" && n != "cw" && n != "sw")
    return std::nullopt;
  if (f_.tid == 0)
    return std::nullopt;
  user_fpregs_struct fp{};
  try {
    fp = im_.proc.fp_registers(f_.tid);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (n == "mxcsr")
    return u64(fp.mxcsr);
  if (n == "cw")
    return u64(fp.cwd);
  if (n == "sw")
    return u64(fp.swd);
  std::vector<std::byte> b;
  if (st) {
    // 8 bytes of mantissa and 2 of sign and exponent, from the 16-byte slot.
    b.resize(10);
    std::memcpy(b.data(), &fp.st_space[(n[2] - '0') * 4], 10);
  } else {
    b.resize(16);
    std::memcpy(b.data(), &fp.xmm_space[xmm * 4], 16);
  }
  return b;
}

/// Delve's registerVariableTypeConv: `REG.int8` and friends split a register's bytes
/// into an array of constants of that type.
V Evaluator::register_conversion(const V& xv, const std::string& typ) {
  const auto& bytes = *xv.cpu_reg;
  auto out = std::make_shared<Variable>();
  out->name = xv.name;
  out->addr = kFakeAddressUnresolv;
  out->base = kFakeAddressUnresolv;
  out->flags = kFlagCPURegister;
  out->kind = static_cast<int>(GoKind::array);
  std::size_t n = 0;
  auto le = [&](std::size_t i, std::size_t w) {
    std::uint64_t x = 0;
    std::memcpy(&x, bytes.data() + i, std::min(w, bytes.size() - i));
    return x;
  };
  for (std::size_t i = 0; i < bytes.size(); i += n) {
    Variable c;
    c.flags = kFlagConstant;
    if (typ == "int8" || typ == "uint8" || typ == "int16" || typ == "uint16" || typ == "int32" ||
        typ == "uint32" || typ == "int64" || typ == "uint64") {
      const bool sign = typ[0] == 'i';
      n = static_cast<std::size_t>(std::stoi(typ.substr(sign ? 3 : 4))) / 8;
      const std::uint64_t x = le(i, n);
      if (sign) {
        const unsigned bits = static_cast<unsigned>(n * 8);
        std::int64_t sx = static_cast<std::int64_t>(x);
        if (bits < 64 && ((x >> (bits - 1)) & 1))
          sx = static_cast<std::int64_t>(x | (~std::uint64_t{0} << bits));
        c.value = std::to_string(sx);
        c.kind = static_cast<int>(n == 1   ? GoKind::int8
                                  : n == 2 ? GoKind::int16
                                  : n == 4 ? GoKind::int32
                                           : GoKind::int64);
      } else {
        c.value = std::to_string(x);
        c.kind = static_cast<int>(n == 1   ? GoKind::uint8
                                  : n == 2 ? GoKind::uint16
                                  : n == 4 ? GoKind::uint32
                                           : GoKind::uint64);
      }
    } else if (typ == "float32") {
      n = 4;
      const auto a = static_cast<std::uint32_t>(le(i, 4));
      float x = 0;
      std::memcpy(&x, &a, 4);
      c.value = format_go_float(x, 32);
      c.kind = static_cast<int>(GoKind::float32);
    } else if (typ == "float64") {
      n = 8;
      const std::uint64_t a = le(i, 8);
      double x = 0;
      std::memcpy(&x, &a, 8);
      c.value = format_go_float(x, 64);
      c.kind = static_cast<int>(GoKind::float64);
    } else {
      if (n == 0) {
        int bits = 0;
        for (const char* pfx : {"uint", "int"}) {
          const std::string p = pfx;
          if (typ.starts_with(p)) {
            const std::string rest = typ.substr(p.size());
            if (!rest.empty() && rest.size() < 10 &&
                std::all_of(rest.begin(), rest.end(), [](char d) { return d >= '0' && d <= '9'; }))
              bits = std::stoi(rest);
            break;
          }
        }
        if (bits == 0 || (bits & (bits - 1)) != 0)
          throw EvalError("unknown CPU register type conversion to \"" + typ + "\"");
        n = static_cast<std::size_t>(bits / 8);
        if (n == 0)
          throw EvalError("unknown CPU register type conversion to \"" + typ + "\"");
      }
      static const char* const kHex = "0123456789abcdef";
      for (std::size_t k = i; k < std::min(bytes.size(), i + n); ++k) {
        c.value += kHex[std::to_integer<unsigned>(bytes[k]) >> 4];
        c.value += kHex[std::to_integer<unsigned>(bytes[k]) & 15];
      }
      c.len = static_cast<std::int64_t>(c.value.size());
      c.kind = static_cast<int>(GoKind::string);
    }
    out->children.push_back(std::move(c));
  }
  out->len = static_cast<std::int64_t>(out->children.size());
  out->type = out->real_type = "[" + std::to_string(out->children.size()) + "]void";
  V r;
  r.name = xv.name;
  r.synth = std::move(out);
  return r;
}

V Evaluator::local(const ScopeVar& e) {
  const dwarf::Variable& dv = *e.var;
  const std::uint64_t pc = f_.current.pc;  // location lists: Delve's regs.PC()
  const RegisterFn regs = [&](unsigned r) { return im_.read_register(f_, r); };
  const dwarf::Type* t = dv.type;
  if (t && t->dict_index >= 0)
    t = loader_.resolve_parametric(t, dict());
  V v = at(t, 0, e.name);
  bool fake = false;
  std::string err;
  const auto a = loader_.locate(dv, pc, f_.cfa, regs, &fake, &err);
  v.location_expr = location_text(dv.location, pc - im_.bi.load_bias(), f_.current.pc);
  v.decl_line = static_cast<std::int64_t>(dv.decl_line);
  if (!a) {
    v.unreadable = err;
    if (fake)
      v.flags |= kFlagFakeAddress;
  } else {
    v.addr = *a;
    if (fake) {
      v.flags |= kFlagFakeAddress;
      remember_home(dv, pc, regs, *a);
    }
  }
  if (e.escaped) {
    // Delve's maybeDereference of the pointer DWARF describes.
    V d = maybe_deref(v);
    if (d.unreadable.empty() && d.addr == 0)
      d.unreadable = "no address for escaped variable";
    d.name = e.name;
    d.decl_line = v.decl_line;
    d.location_expr = v.location_expr.empty() ? v.location_expr : v.location_expr + " (escaped)";
    v = std::move(d);
  }
  v.flags = static_cast<std::uint16_t>((v.flags & kFlagFakeAddress) | e.flags);
  if (e.escaped)
    v.flags = e.flags;
  return v;
}

V Evaluator::package_variable(const dwarf::Variable& g) {
  const RegisterFn none = [](unsigned) -> std::optional<std::uint64_t> { return std::nullopt; };
  V v = at(g.type, 0, g.name);
  bool fake = false;
  std::string err;
  const auto a = loader_.locate(g, 0, 0, none, &fake, &err);
  v.location_expr = location_text(g.location, 0, 0);
  v.decl_line = static_cast<std::int64_t>(g.decl_line);
  if (!a)
    v.unreadable = err;
  else
    v.addr = *a;
  return v;
}

bool Evaluator::name_matches(const std::string& full, const std::string& name) {
  return full == name || (full.size() > name.size() && full.ends_with("/" + name));
}

/// Delve's findGlobalInternal: a package variable, a function or a named constant.
std::optional<V> Evaluator::find_global_internal(const std::string& name) {
  const auto& d = im_.bi.debug();
  const dwarf::Variable* g = d.find_global(name);
  if (!g) {
    for (const auto& n : d.global_names()) {
      if (name_matches(n, name)) {
        g = d.find_global(n);
        break;
      }
    }
  }
  if (g)
    return package_variable(*g);
  const dwarf::Function* fn = d.find_function(name);
  if (!fn) {
    for (const auto& f : d.functions()) {
      if (name_matches(f.name, name)) {
        fn = &f;
        break;
      }
    }
  }
  if (fn) {
    // newVariable(fn.Name, fn.Entry, &godwarf.FuncType{}): Value the name, Base the entry.
    auto out = std::make_shared<Variable>();
    out->name = fn->name;
    out->addr = out->base = im_.bi.to_virt(fn->low_pc).value();
    out->type = out->real_type = "func()";
    out->kind = static_cast<int>(GoKind::func);
    out->value = fn->name;
    V v;
    v.name = fn->name;
    v.synth = std::move(out);
    return v;
  }
  const dwarf::Constant* c = d.find_constant(name);
  if (!c) {
    for (const dwarf::Constant* k : d.constants()) {
      if (name_matches(k->name, name)) {
        c = k;
        break;
      }
    }
  }
  if (c && c->type) {
    V v = computed(c->type, Const::of_int(0), true);
    if (is_uint(v.real->kind))
      v.value = Const::of_int(static_cast<std::uint64_t>(c->value));
    else if (is_int(v.real->kind))
      v.value = Const::of_int(c->value);
    else
      throw EvalError("unsupported constant kind " + kind_string(delve_kind(v.real)));
    v.name = name;
    v.flags = kFlagConstant;
    return v;
  }
  return std::nullopt;
}

/// Delve's findGlobal(pkg, name) (nullopt: not found).
std::optional<V> Evaluator::find_global(const std::string& pkg, const std::string& name) {
  return find_global_internal(pkg + "." + name);
}

void Evaluator::remember_home(const dwarf::Variable& dv, std::uint64_t pc, const RegisterFn& regs,
                              std::uint64_t base) {
  const auto expr = dv.location.at(dwarf::FileAddr(pc - im_.bi.load_bias()));
  if (!expr)
    return;
  dwarf::ExprContext ctx;
  ctx.read_register = regs;
  ctx.read_memory = [this](std::uint64_t a, std::span<std::byte> out) { return im_.read(a, out); };
  ctx.frame_base = f_.cfa;
  ctx.cfa = f_.cfa;
  ctx.static_base = im_.bi.load_bias();
  try {
    Home h;
    h.base = base;
    h.pieces = dwarf::evaluate_location(*expr, ctx);
    const std::uint64_t whole = dv.type ? dv.type->resolved()->size : 8;
    for (auto& p : h.pieces) {
      if (p.size == 0)
        p.size = whole;
      h.size += p.size;
    }
    homes_.push_back(std::move(h));
  } catch (const std::exception&) {
  }
}

const Evaluator::Home* Evaluator::home_of(std::uint64_t addr) const {
  for (const auto& h : homes_) {
    if (addr >= h.base && addr < h.base + h.size)
      return &h;
  }
  return nullptr;
}

std::uint64_t Evaluator::dict() {
  if (!dict_)
    dict_ = im_.dict_address(f_);
  return *dict_;
}

}  // namespace goscope::target::expr

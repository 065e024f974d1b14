// The evaluator's dispatch over the syntax tree (Delve's evalAST), loading values from
// memory (loadValue) and making values (constants, typed values at addresses, types by name).
#include "eval_internal.hpp"

#include <algorithm>
#include <cstring>

namespace goscope::target::expr {

/// reflect.Kind's String.
std::string kind_string(GoKind k) {
  static const char* const names[] = {
      "invalid", "bool",      "int",        "int8",   "int16",  "int32",         "int64",
      "uint",    "uint8",     "uint16",     "uint32", "uint64", "uintptr",       "float32",
      "float64", "complex64", "complex128", "array",  "chan",   "func",          "interface",
      "map",     "ptr",       "slice",      "string", "struct", "unsafe.Pointer"};
  const auto i = static_cast<std::size_t>(k);
  return i < std::size(names) ? names[i] : "invalid";
}

/// The kind Delve's newVariable gives a value of type `real`: every signed integer is
/// reflect.Int, every unsigned one reflect.Uint.
GoKind delve_kind(const dwarf::Type* real) {
  if (!real)
    return GoKind::invalid;
  if (is_int(real->kind))
    return GoKind::int_;
  if (is_uint(real->kind))
    return GoKind::uint;
  return real->kind;
}

TClass tclass(const dwarf::Type* t) {
  if (!t)
    return TClass::other;
  if (t->is_typedef)
    return TClass::other;
  const GoKind k = t->kind;
  if (is_int(k))
    return TClass::int_;
  if (is_uint(k))
    return TClass::uint;
  if (is_float(k))
    return TClass::float_;
  if (is_complex(k))
    return TClass::complex_;
  switch (k) {
    case GoKind::bool_:
      return TClass::bool_;
    case GoKind::string:
      return TClass::string;
    case GoKind::ptr:
    case GoKind::unsafe_pointer:
      return TClass::ptr;
    case GoKind::struct_:
      return TClass::struct_;
    case GoKind::slice:
      return TClass::slice;
    case GoKind::array:
      return TClass::array;
    case GoKind::map:
      return TClass::map;
    case GoKind::chan:
      return TClass::chan;
    case GoKind::func:
      return TClass::func;
    case GoKind::interface:
      return TClass::interface;
    default:
      return TClass::other;
  }
}

/// godwarf's String of a resolved type (a StructType says "struct main.Point").
std::string real_string(const dwarf::Type* t) {
  if (t->kind == GoKind::struct_ && !t->name.empty() && !t->name.starts_with("struct"))
    return "struct " + t->name;
  return t->name;
}

/// The element type of a slice type (Go's DWARF names it through `array`'s pointer).
const dwarf::Type* slice_elem(const dwarf::Type* r) {
  if (r->elem)
    return r->elem;
  if (const auto* f = r->field("array"); f && f->type)
    return f->type->resolved()->elem;
  return nullptr;
}

/// Delve's sameType.
bool same_type(const dwarf::Type* a, const dwarf::Type* b) {
  a = a ? a->resolved() : nullptr;
  b = b ? b->resolved() : nullptr;
  if (!a || !b)
    return a == b;
  if (a->kind == GoKind::ptr) {
    if (b->kind != GoKind::ptr)
      return false;
    return same_type(a->elem, b->elem);
  }
  if (a->kind == GoKind::slice) {
    if (b->kind != GoKind::slice)
      return false;
    return same_type(slice_elem(a), slice_elem(b));
  }
  return a->name == b->name;
}

V Evaluator::eval(const Node& n) {
  switch (n.k) {
    case Node::K::call:
      return eval_call(n);
    case Node::K::ident:
      return eval_ident(n.s);
    case Node::K::paren:
      return eval(*n.x);
    case Node::K::selector: {
      if (n.x->k == Node::K::ident) {
        if (n.x->s == "runtime" && n.s == "frameoff")
          return constant(Const::of_int(f_.frame_offset));
        if (n.x->s == "runtime" && n.s == "curg")
          return current_g();
        if (auto v = find_global(n.x->s, n.s))
          return *v;
      }
      if (n.x->k == Node::K::basic_lit && n.x->lit == Tok::string_) {
        if (auto v = find_global(unquote(n.x->s), n.s))
          return *v;
      }
      return eval_selector(n);
    }
    case Node::K::type_assert:
      return eval_type_assert(n);
    case Node::K::index:
      return eval_index(n);
    case Node::K::slice:
      if (n.slice3)
        throw EvalError("3-index slice expressions not supported");
      return eval_reslice(n);
    case Node::K::star:
      return eval_deref(n);
    case Node::K::unary:
      if (n.s == "&")
        return eval_addr_of(n);
      return eval_unary(n);
    case Node::K::binary:
      return eval_binary(n);
    case Node::K::basic_lit:
      return constant(literal_value(n));
    default:
      throw EvalError("expression " + ast_type_name(n) + " not implemented");
  }
}

/// Delve's loadValue(loadSingleValue) of a scalar: its Value (nullopt for kinds that have
/// none: structs, arrays, slices, maps, chans, interfaces). Strings read up to `max_str`
/// bytes.
std::optional<Const> Evaluator::load(V& v, std::uint64_t max_str) {
  if (v.value || v.nil)
    return v.value;
  v.value = read_value(v, max_str);
  return v.value;
}

/// The Value of a value in memory (load without the caching).
std::optional<Const> Evaluator::read_value(V& v, std::uint64_t max_str) {
  if (!v.unreadable.empty())
    throw EvalError(v.unreadable);
  if (!v.real)
    return std::nullopt;
  const auto* r = v.real;
  if (v.pointee)
    return std::nullopt;  // a pointer built by &x or a conversion: never loaded
  if (r->kind == GoKind::ptr || r->kind == GoKind::unsafe_pointer)
    return Const::of_int(word(v.addr));
  if (r->kind == GoKind::func) {
    const auto fv = word(v.addr);
    if (fv == 0)
      return std::nullopt;
    const auto* fn = im_.bi.function_at(proc::VirtAddr(word(fv)));
    return Const::of_string(fn ? fn->name : std::string());
  }
  if (r->kind == GoKind::string) {
    const auto [base, len] = string_info(v);
    const auto n = std::min<std::uint64_t>(static_cast<std::uint64_t>(len), max_str);
    std::string s(n, '\0');
    if (n && !loader_.read(base, std::as_writable_bytes(std::span(s.data(), n))))
      throw EvalError("could not read " + hex(base));
    return Const::of_string(std::move(s));
  }
  if (r->kind == GoKind::bool_) {
    std::uint8_t b = 0;
    read(v.addr, &b, 1);
    return Const::of_bool(b != 0);
  }
  if (is_float(r->kind)) {
    if (r->size == 4) {
      float x = 0;
      read(v.addr, &x, 4);
      return Const::of_float(x);
    }
    double x = 0;
    read(v.addr, &x, 8);
    return Const::of_float(x);
  }
  if (is_complex(r->kind)) {
    if (r->size == 8) {
      float x[2] = {};
      read(v.addr, x, 8);
      return Const::of_complex(x[0], x[1]);
    }
    double x[2] = {};
    read(v.addr, x, 16);
    return Const::of_complex(x[0], x[1]);
  }
  if (is_int(r->kind) || is_uint(r->kind)) {
    const auto size = std::min<std::uint64_t>(r->size ? r->size : 8, 8);
    std::uint64_t raw = 0;
    read(v.addr, &raw, size);
    if (is_int(r->kind)) {
      const unsigned shift = static_cast<unsigned>(64 - size * 8);
      return Const::of_int(static_cast<std::int64_t>(raw << shift) >> shift);
    }
    return Const::of_int(raw);
  }
  return std::nullopt;
}

void Evaluator::read(std::uint64_t addr, void* out, std::size_t n) {
  if (!loader_.read(addr, std::span(static_cast<std::byte*>(out), n)))
    throw EvalError("could not read " + hex(addr));
}

std::uint64_t Evaluator::word(std::uint64_t addr) {
  std::uint64_t x = 0;
  read(addr, &x, 8);
  return x;
}

/// Base and Len of a string value (Delve's readStringInfo at newVariable).
std::pair<std::uint64_t, std::int64_t> Evaluator::string_info(const V& v) {
  if (v.cpu_reg)  // Delve: Base fakeAddressUnresolv, Len two hex digits per byte
    return {kFakeAddressUnresolv, static_cast<std::int64_t>(v.cpu_reg->size() * 2)};
  if (v.addr == 0) {
    if (v.value && v.value->k == Const::K::string_)
      return {0, static_cast<std::int64_t>(v.value->s.size())};
    return {0, 0};
  }
  const auto len = static_cast<std::int64_t>(word(v.addr + 8));
  if (len < 0)
    throw EvalError("invalid length: " + std::to_string(len));
  return {word(v.addr), len};
}

/// Base, Len and Cap of an array, slice or string value; false for other kinds.
bool Evaluator::array_info(const V& v, std::uint64_t& base, std::int64_t& len, std::int64_t& cap,
                           const dwarf::Type*& elem, std::uint64_t& stride) {
  if (v.synth || !v.real)
    return false;
  const auto* r = v.real;
  if (v.slice) {
    base = (*v.slice)[0];
    len = static_cast<std::int64_t>((*v.slice)[1]);
    cap = static_cast<std::int64_t>((*v.slice)[2]);
  } else if (r->kind == GoKind::slice) {
    if (v.addr == 0) {
      base = 0;
      len = cap = 0;
    } else {
      base = word(v.addr);
      len = static_cast<std::int64_t>(word(v.addr + 8));
      cap = static_cast<std::int64_t>(word(v.addr + 16));
    }
  } else if (r->kind == GoKind::array) {
    base = v.addr;
    len = static_cast<std::int64_t>(r->count);
    cap = -1;
  } else if (r->kind == GoKind::string) {
    auto [b, l] = string_info(v);
    base = b;
    len = cap = l;
  } else {
    return false;
  }
  if (r->kind == GoKind::string) {
    elem = byte_type();
    stride = 1;
  } else {
    elem = r->kind == GoKind::array ? r->elem : slice_elem(r);
    stride = elem ? elem->resolved()->size : 0;
  }
  return true;
}

V Evaluator::constant(Const c) {
  V v;
  v.value = std::move(c);
  v.flags = kFlagConstant;
  v.has_bi = false;
  return v;
}

V Evaluator::nil_variable() {
  V v;
  v.nil = true;
  v.name = "nil";
  v.has_bi = false;
  return v;
}

/// Delve's newVariable("", 0, typ) with a Value: a computed typed value.
V Evaluator::computed(const dwarf::Type* t, Const c, bool has_bi) {
  V v;
  v.type = t;
  v.real = t->resolved();
  v.value = std::move(c);
  v.has_bi = has_bi;
  return v;
}

/// `runtime.curg`, which Delve resolves itself (IDEs read runtime.curg._panic.arg for the
/// panic value): the g of the scope's goroutine; without one (a thread on the system
/// stack, the entry stop), Delve's placeholder g at fakeAddressUnresolv.
V Evaluator::current_g() {
  const auto* gt = im_.bi.debug().find_type("runtime.g");
  if (!gt)
    throw EvalError("could not find type runtime.g");
  std::uint64_t g = f_.g_addr;
  if (g == 0 && f_.tid != 0) {
    if (auto tg = im_.thread_goroutine(f_.tid))
      g = tg->g_addr;
  }
  return at(gt, g != 0 ? g : kFakeAddressUnresolv, "curg");
}

V Evaluator::at(const dwarf::Type* t, std::uint64_t addr, std::string name) {
  V v;
  v.type = t;
  v.real = t ? t->resolved() : nullptr;
  v.addr = addr;
  v.name = std::move(name);
  return v;
}

const dwarf::Type* Evaluator::byte_type() {
  if (!byte_) {
    const auto* u8 = im_.bi.debug().find_type("uint8");
    if (!u8)
      throw EvalError("no type uint8");
    byte_ = loader_.renamed(u8, "byte");
  }
  return byte_;
}

/// Delve's findType, with its package-path expansion (pkg.T finds path/to/pkg.T).
const dwarf::Type* Evaluator::find_type(const std::string& name) {
  if (const auto* t = im_.bi.debug().find_type(name))
    return t;
  if (name.find('.') != std::string::npos && name.find_first_of("[]*(") == std::string::npos) {
    for (const auto& n : im_.bi.debug().type_names()) {
      if (n.size() > name.size() && n.ends_with("/" + name))
        return im_.bi.debug().find_type(n);
    }
  }
  return nullptr;
}

/// Delve's findTypeExpr; throws reader.ErrTypeNotFound.
const dwarf::Type* Evaluator::find_type_expr(const Node& n) {
  static const char* const kNotFound = "no type entry found, use 'types' for a list of valid types";
  if (n.k == Node::K::basic_lit && n.lit == Tok::string_) {
    const std::string name = unquote(n.s);
    if (!name.empty() && name[0] == '[') {
      const auto close = name.find(']');
      if (close != std::string::npos && close > 1) {
        try {
          const auto count = std::stoull(name.substr(1, close - 1));
          return array_type(count, name.substr(close + 1));
        } catch (const std::invalid_argument&) {
        } catch (const std::out_of_range&) {  // a client's text: never std's message
          throw EvalError("array length " + name.substr(1, close - 1) + " out of range");
        }
      }
    }
    if (const auto* t = find_type(name))
      return t;
    throw EvalError(kNotFound);
  }
  if (n.k == Node::K::star)
    return loader_.pointer_to(find_type_expr(*n.x));
  if (n.k == Node::K::paren)
    return find_type_expr(*n.x);
  if (n.k == Node::K::array_type && n.y && n.y->k == Node::K::basic_lit && n.y->lit == Tok::int_) {
    std::uint64_t count = 0;
    try {
      count = std::stoull(n.y->s, nullptr, 0);
    } catch (const std::exception&) {  // a client's text: never std's message
      throw EvalError("array length " + n.y->s + " out of range");
    }
    return array_type(count, expr_string(*n.x));
  }
  if (const auto* t = find_type(expr_string(n)))
    return t;
  throw EvalError(kNotFound);
}

const dwarf::Type* Evaluator::array_type(std::uint64_t count, std::string elem) {
  if (elem == "byte")
    elem = "uint8";
  const auto* e = find_type(elem);
  if (!e)
    throw EvalError("no type entry found, use 'types' for a list of valid types");
  return loader_.array_of(e, count);
}

}  // namespace goscope::target::expr

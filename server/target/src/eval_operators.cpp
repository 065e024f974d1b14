// Unary and binary operators with go/constant semantics and Delve's type negotiation,
// and comparisons (scalars, pointers, structs, arrays, interfaces, nil).
#include "eval_internal.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace goscope::target::expr {

V Evaluator::eval_unary(const Node& n) {
  V xv = eval(*n.x);
  const auto val = load(xv);
  if (!xv.unreadable.empty())
    throw EvalError(xv.unreadable);
  if (val && val->k == Const::K::float_ && !std::isfinite(val->f))
    throw EvalError("operations on non-finite floats not implemented");
  if (!val)
    throw EvalError("operator " + n.s + " can not be applied to \"" + expr_string(*n.x) + "\"");
  Const rc = const_unary(n.s, *val);
  if (xv.type)
    return computed(xv.type, std::move(rc), xv.has_bi);
  V r = constant(std::move(rc));
  return r;
}

/// Delve's isType: can `v` be used as a value of type `typ` (kind `kind`)?
/// `real`: typ is a RealType (printed as godwarf does: "struct main.Key").
void Evaluator::is_type(const V& v, const dwarf::Type* typ, GoKind kind, bool real) {
  const std::string tname = typ ? (real ? real_string(typ) : typ->name) : std::string("<nil>");
  if (v.type) {
    if (!typ || !same_type(typ, v.real))
      throw EvalError("can not convert value of type " + v.type->name + " to " + tname);
    return;
  }
  if (!typ)
    return;
  if (v.nil) {
    switch (kind) {
      case GoKind::slice:
      case GoKind::map:
      case GoKind::func:
      case GoKind::ptr:
      case GoKind::chan:
      case GoKind::interface:
        return;
      default:
        throw EvalError("mismatched types nil and " + tname);
    }
  }
  const auto converr = [&] {
    return EvalError("can not convert " + (v.value ? v.value->str() : std::string()) +
                     " constant to " + tname);
  };
  if (!v.value)
    throw converr();
  const auto vk = v.value->k;
  switch (tclass(typ)) {
    case TClass::int_:
    case TClass::uint:
      if (vk != Const::K::int_)
        throw converr();
      return;
    case TClass::float_:
      if (vk != Const::K::int_ && vk != Const::K::float_)
        throw converr();
      return;
    case TClass::bool_:
      if (vk != Const::K::bool_)
        throw converr();
      return;
    case TClass::string:
      if (vk != Const::K::string_)
        throw converr();
      return;
    case TClass::complex_:
      if (vk != Const::K::int_ && vk != Const::K::float_ && vk != Const::K::complex_)
        throw converr();
      return;
    default:
      throw converr();
  }
}

/// Delve's negotiateType: the type of `x op y` (nullptr: untyped).
const dwarf::Type* Evaluator::negotiate_type(const std::string& op, V& xv, V& yv) {
  auto nil_check = [&](const V& v) {
    if (op != "==" && op != "!=")
      throw EvalError("operator " + op + " can not be applied to \"nil\"");
    switch (v.kind()) {
      case GoKind::ptr:
      case GoKind::unsafe_pointer:
      case GoKind::chan:
      case GoKind::map:
      case GoKind::interface:
      case GoKind::slice:
      case GoKind::func:
        return;
      default:
        throw EvalError("can not compare " + kind_string(v.kind()) + " to nil");
    }
  };
  if (xv.nil) {
    nil_check(yv);
    return nullptr;
  }
  if (yv.nil) {
    nil_check(xv);
    return nullptr;
  }
  if (op == "<<" || op == ">>") {
    if (!xv.value || xv.value->k != Const::K::int_)
      throw EvalError("shift of type " + kind_string(xv.kind()));
    switch (yv.kind()) {
      case GoKind::uint:
      case GoKind::uint8:
      case GoKind::uint16:
      case GoKind::uint32:
      case GoKind::uint64:
      case GoKind::uintptr:
        break;
      case GoKind::int_:
      case GoKind::int8:
      case GoKind::int16:
      case GoKind::int32:
      case GoKind::int64:
        if (yv.value && yv.value->i < 0)
          throw EvalError("shift count must not be negative");
        break;
      default:
        throw EvalError("shift count type " + kind_string(yv.kind()) +
                        ", must be unsigned integer");
    }
    return xv.type;
  }
  if (!xv.type && !yv.type)
    return nullptr;
  if (xv.type && yv.type) {
    if (xv.type->name != yv.type->name)
      throw EvalError("mismatched types \"" + xv.type->name + "\" and \"" + yv.type->name + "\"");
    return xv.type;
  }
  if (xv.type) {
    is_type(yv, xv.type, xv.kind());
    return xv.type;
  }
  is_type(xv, yv.type, yv.kind());
  return yv.type;
}

/// Loads a value for an operator: strings later (their length first), others fully.
void Evaluator::load_operand(V& v) {
  if (v.kind() != GoKind::string)
    load(v);
  if (!v.unreadable.empty())
    throw EvalError(v.unreadable);
}

V Evaluator::eval_binary(const Node& n) {
  const std::string& op = n.s;
  V xv = eval(*n.x);
  load_operand(xv);
  if (op == "&&" || op == "||") {
    if (!xv.value || xv.value->k != Const::K::bool_)
      throw EvalError("operator " + op + " can not be applied to \"" + expr_string(*n.x) + "\"");
    if (xv.value->b == (op == "||"))
      return constant(*xv.value);
  }
  V yv = eval(*n.y);
  load_operand(yv);
  for (const V* v : {&xv, &yv}) {
    if (v->value && v->value->k == Const::K::float_ && !std::isfinite(v->value->f))
      throw EvalError("operations on non-finite floats not implemented");
  }
  const dwarf::Type* typ = negotiate_type(op, xv, yv);
  std::string eop = op;
  if (typ && op == "/") {
    const TClass c = tclass(typ->resolved());
    if (c == TClass::int_ || c == TClass::uint)
      eop = "quo";
  }
  if (op == "==" || op == "!=" || op == "<" || op == "<=" || op == ">" || op == ">=")
    return constant(Const::of_bool(compare(op, xv, yv)));
  if (xv.kind() == GoKind::string)
    load(xv, 1024 * 1024);
  if (yv.kind() == GoKind::string)
    load(yv, 1024 * 1024);
  if (!xv.value)
    throw EvalError("operator " + op + " can not be applied to \"" + expr_string(*n.x) + "\"");
  if (!yv.value)
    throw EvalError("operator " + op + " can not be applied to \"" + expr_string(*n.y) + "\"");
  Const rc = (op == "<<" || op == ">>") ? const_shift(*xv.value, op, yv.value->uint64())
                                        : const_binary(*xv.value, eop, *yv.value);
  if (!typ)
    return constant(std::move(rc));
  const auto* rt = typ->resolved();
  if (is_int(rt->kind) || is_uint(rt->kind)) {
    // convertInt: truncated (and sign-extended) to the type's size.
    const unsigned bits = static_cast<unsigned>(std::min<std::uint64_t>(rt->size, 8) * 8);
    i128 r = rc.i;
    if (bits < 128) {
      const u128 mask = (static_cast<u128>(1) << bits) - 1;
      u128 u = static_cast<u128>(r) & mask;
      if (is_int(rt->kind) && ((u >> (bits - 1)) & 1))
        u |= ~mask;
      r = static_cast<i128>(u);
    }
    rc.i = r;
  }
  return computed(typ, std::move(rc), xv.has_bi);
}

/// A loaded api view of a value (structs, arrays, interfaces, pointers) for compareOp.
Variable Evaluator::loaded(const V& v, const LoadConfig& cfg) {
  Variable out;
  out.addr = v.addr;
  if (v.synth)
    return *v.synth;
  loader_.load_into(out, v.type, cfg);
  return out;
}

/// Delve's compareOp.
bool Evaluator::compare(const std::string& op, V& xv, V& yv) {
  const GoKind k = xv.kind();
  switch (k) {
    case GoKind::bool_:
    case GoKind::int_:
    case GoKind::int8:
    case GoKind::int16:
    case GoKind::int32:
    case GoKind::int64:
    case GoKind::uint:
    case GoKind::uint8:
    case GoKind::uint16:
    case GoKind::uint32:
    case GoKind::uint64:
    case GoKind::uintptr:
    case GoKind::float32:
    case GoKind::float64:
    case GoKind::complex64:
    case GoKind::complex128: {
      const auto x = load(xv), y = load(yv);
      if (!x || !y)
        throw EvalError("invalid comparison");
      return const_compare(*x, op, *y);
    }
    case GoKind::string: {
      const auto lx = string_info(xv).second, ly = string_info(yv).second;
      if (lx != ly) {
        if (op == "==")
          return false;
        if (op == "!=")
          return true;
      }
      const auto x = load(xv, 1024 * 1024), y = load(yv, 1024 * 1024);
      if (!x || !y || static_cast<std::int64_t>(x->s.size()) != lx ||
          static_cast<std::int64_t>(y->s.size()) != ly) {
        throw EvalError("string too long for comparison");
      }
      return const_compare(*x, op, *y);
    }
    default:
      break;
  }
  if (op != "==" && op != "!=")
    throw EvalError("operator " + op + " not defined on " + kind_string(k));
  bool eql = false;
  if (xv.nil || yv.nil) {
    const V& o = xv.nil ? yv : xv;
    eql = is_nil(o);
    return op == "==" ? eql : !eql;
  }
  switch (k) {
    case GoKind::ptr:
      eql = pointee_addr(xv) == pointee_addr(yv);
      break;
    case GoKind::array:
    case GoKind::struct_: {
      const Variable a = loaded(xv, kLoadFull), b = loaded(yv, kLoadFull);
      eql = equal_loaded(a, b);
      break;
    }
    case GoKind::slice:
    case GoKind::map:
    case GoKind::func:
    case GoKind::chan:
      throw EvalError("can not compare " + kind_string(k) + " variables");
    case GoKind::interface: {
      const Variable a = loaded(xv, kLoadFull), b = loaded(yv, kLoadFull);
      if (a.children.empty() || b.children.empty() ||
          a.children[0].real_type != b.children[0].real_type) {
        eql = false;
      } else {
        eql = equal_loaded(a.children[0], b.children[0]);
      }
      break;
    }
    default:
      throw EvalError("unimplemented comparison of " + kind_string(k) + " variables");
  }
  return op == "==" ? eql : !eql;
}

/// compareOp(==) of two loaded values (Delve's equalChildren over loaded children).
bool Evaluator::equal_loaded(const Variable& a, const Variable& b) {
  const auto k = static_cast<GoKind>(a.kind);
  switch (k) {
    case GoKind::array:
      if (static_cast<std::int64_t>(a.children.size()) != a.len ||
          static_cast<std::int64_t>(b.children.size()) != b.len)
        throw EvalError("array too long for comparison");
      break;
    case GoKind::struct_:
      if (a.children.size() != b.children.size())
        return false;
      if (static_cast<std::int64_t>(a.children.size()) != a.len ||
          static_cast<std::int64_t>(b.children.size()) != b.len)
        throw EvalError("structure too deep for comparison");
      break;
    case GoKind::ptr:
      return a.children.empty() || b.children.empty() ? a.value == b.value
                                                      : a.children[0].addr == b.children[0].addr;
    case GoKind::slice:
    case GoKind::map:
    case GoKind::func:
    case GoKind::chan:
      throw EvalError("can not compare " + kind_string(k) + " variables");
    case GoKind::interface:
      if (a.children.empty() || b.children.empty() ||
          a.children[0].real_type != b.children[0].real_type)
        return false;
      return equal_loaded(a.children[0], b.children[0]);
    default:
      return a.value == b.value;
  }
  bool r = true;
  for (std::size_t i = 0; i < a.children.size() && i < b.children.size(); ++i) {
    r = r && equal_loaded(a.children[i], b.children[i]);
    if (!r && k == GoKind::array)
      return false;
  }
  return r;
}

std::uint64_t Evaluator::pointee_addr(const V& v) {
  if (v.pointee)
    return v.pointee->addr;
  return word(v.addr);
}

/// Delve's isNil.
bool Evaluator::is_nil(const V& v) {
  switch (v.kind()) {
    case GoKind::ptr:
      return v.nil || pointee_addr(v) == 0;
    case GoKind::interface:
      return word(v.addr) == 0;
    case GoKind::slice:
      return v.slice ? (*v.slice)[0] == 0 : word(v.addr) == 0;
    case GoKind::map:
    case GoKind::chan:
    case GoKind::func:
      return v.synth ? v.synth->base == 0 : word(v.addr) == 0;
    default:
      return false;
  }
}

}  // namespace goscope::target::expr

// Calls: conversions (numeric, pointer from integer, string/[]byte/[]rune, identity) and
// the builtins len, cap, complex, real and imag; other calls fail with Delve's errors.
#include "eval_internal.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace goscope::target::expr {

V Evaluator::eval_call(const Node& n) {
  if (n.list.size() != 1)
    return function_call(n);
  const Node* fn = n.x.get();
  for (;;) {
    fn = &remove_paren(*fn);
    if (fn->k != Node::K::star)
      break;
    fn = fn->x.get();
  }
  auto ambiguous = [&]() -> V {
    std::string err0;
    try {
      eval(*n.x);
    } catch (const EvalError& e) {
      err0 = e.what();
    }
    if (err0.empty())
      return function_call(n);
    try {
      return type_cast(n);
    } catch (const TypeNotFound&) {
      throw EvalError("could not evaluate function or type " + expr_string(*n.x) + ": " + err0);
    }
  };
  switch (fn->k) {
    case Node::K::basic_lit:
    case Node::K::array_type:
    case Node::K::struct_type:
    case Node::K::func_type:
    case Node::K::interface_type:
    case Node::K::map_type:
    case Node::K::chan_type:
      return type_cast_or_error(n);
    case Node::K::selector:
      if (fn->x->k == Node::K::ident)
        return ambiguous();
      return function_call(n);
    case Node::K::ident:
      if (fn->s == "cap" || fn->s == "len" || fn->s == "complex" || fn->s == "imag" ||
          fn->s == "real") {
        return function_call(n);
      }
      return ambiguous();
    default:
      return function_call(n);
  }
}

V Evaluator::type_cast_or_error(const Node& n) {
  try {
    return type_cast(n);
  } catch (const TypeNotFound& e) {
    throw EvalError(e.what());
  }
}

V Evaluator::function_call(const Node& n) {
  if (n.x->k == Node::K::ident) {
    const std::string& b = n.x->s;
    if (b == "cap" || b == "len" || b == "complex" || b == "imag" || b == "real") {
      std::vector<V> args;
      for (const auto& a : n.list) args.push_back(eval(*a));
      if (b == "len" || b == "cap")
        return len_cap(b == "len", args, n);
      if (b == "complex")
        return complex_builtin(args, n);
      return real_imag(b == "real", args, n);
    }
  }
  throw EvalError("function calls not allowed without using 'call'");
}

V Evaluator::len_cap(bool is_len, std::vector<V>& args, const Node& n) {
  const char* what = is_len ? "len" : "cap";
  if (args.size() != 1)
    throw EvalError(std::string("wrong number of arguments to ") + what + ": " +
                    std::to_string(args.size()));
  V arg = args[0];
  const auto invalid = [&] {
    return EvalError("invalid argument " + expr_string(*n.list[0]) + " (type " + arg.type_string() +
                     ") for " + what);
  };
  GoKind k = arg.kind();
  if (arg.synth) {
    if (k == GoKind::slice)
      return constant(Const::of_int(is_len ? arg.synth->len : arg.synth->cap));
    throw invalid();
  }
  if (k == GoKind::ptr) {
    arg = maybe_deref(arg);
    if (arg.kind() != GoKind::array)
      throw invalid();
    k = GoKind::array;
  }
  std::uint64_t base = 0, stride = 0;
  std::int64_t len = 0, cap = 0;
  const dwarf::Type* elem = nullptr;
  switch (k) {
    case GoKind::array:
    case GoKind::slice:
      if (!arg.unreadable.empty())
        throw EvalError(arg.unreadable);
      array_info(arg, base, len, cap, elem, stride);
      return constant(Const::of_int(is_len || k == GoKind::array ? len : cap));
    case GoKind::string:
      if (!is_len)
        throw invalid();
      if (!arg.unreadable.empty())
        throw EvalError(arg.unreadable);
      return constant(Const::of_int(string_info(arg).second));
    case GoKind::chan: {
      const auto c = word(arg.addr);
      if (c == 0)
        return constant(Const::of_int(0));
      return constant(Const::of_int(static_cast<std::int64_t>(word(c + (is_len ? 0 : 8)))));
    }
    case GoKind::map: {
      if (!is_len)
        throw invalid();
      const auto h = word(arg.addr);
      return constant(Const::of_int(h ? static_cast<std::int64_t>(word(h)) : 0));
    }
    default:
      throw invalid();
  }
}

V Evaluator::complex_builtin(std::vector<V>& args, const Node& n) {
  if (args.size() != 2)
    throw EvalError("wrong number of arguments to complex: " + std::to_string(args.size()));
  V& re = args[0];
  V& im = args[1];
  const auto r = load(re), i = load(im);
  for (int k = 0; k < 2; ++k) {
    const auto& c = k == 0 ? r : i;
    if (!c || (c->k != Const::K::int_ && c->k != Const::K::float_)) {
      throw EvalError("invalid argument " + std::to_string(k + 1) + " " +
                      expr_string(*n.list[static_cast<std::size_t>(k)]) + " (type " +
                      args[static_cast<std::size_t>(k)].type_string() + ") to complex");
    }
  }
  std::uint64_t sz = 0;
  if (re.real)
    sz = re.real->size;
  if (im.real)
    sz = std::max<std::uint64_t>(sz, im.real->size);
  // Delve's fakeBasicType("complex", sz) is given a byte size as the bit size: typed
  // operands make a "complex8"/"complex4" of kind Invalid; untyped ones complex128.
  const dwarf::Type* t = nullptr;
  if (sz == 0) {
    t = im_.bi.debug().find_type("complex128");
  } else {
    auto& fake = fake_types_.emplace_back();
    fake.name = "complex" + std::to_string(sz);
    fake.size = sz / 8;
    t = &fake;
  }
  if (!t)
    throw EvalError("no complex type");
  return computed(
      t, Const::of_complex(r->real(), i->real(), r->k == Const::K::int_, i->k == Const::K::int_),
      re.has_bi);
}

V Evaluator::real_imag(bool real, std::vector<V>& args, const Node& n) {
  const char* what = real ? "real" : "imag";
  if (args.size() != 1)
    throw EvalError(std::string("wrong number of arguments to ") + what + ": " +
                    std::to_string(args.size()));
  V& arg = args[0];
  const auto c = load(arg);
  const bool ok = real ? (c && c->numeric())
                       : (arg.kind() == GoKind::complex64 || arg.kind() == GoKind::complex128);
  if (!ok)
    throw EvalError("invalid argument " + expr_string(*n.list[0]) + " (type " + arg.type_string() +
                    ") to " + what);
  return constant(real ? c->real_part() : c->imag_part());
}

/// Delve's typeCastCompatibleTypes.
bool Evaluator::cast_compatible(const dwarf::Type* a, const dwarf::Type* b) {
  if (!a || !b || a->size != b->size)
    return false;
  if (a->name == b->name)
    return true;
  const TClass ca = tclass(a), cb = tclass(b);
  switch (ca) {
    case TClass::ptr:
      if (cb != TClass::ptr)
        return false;
      if (a->kind == GoKind::unsafe_pointer || b->kind == GoKind::unsafe_pointer || !a->elem ||
          !b->elem)
        return true;
      return cast_compatible(a->elem->resolved(), b->elem->resolved());
    case TClass::string:
    case TClass::complex_:
    case TClass::float_:
    case TClass::int_:
    case TClass::uint:
    case TClass::bool_:
      return ca == cb;
    case TClass::struct_: {
      if (cb != TClass::struct_ || a->fields.size() != b->fields.size())
        return false;
      for (std::size_t i = 0; i < a->fields.size(); ++i) {
        const auto& x = a->fields[i];
        const auto& y = b->fields[i];
        if (x.name != y.name || x.offset != y.offset || x.type != y.type ||
            x.embedded != y.embedded) {
          return false;
        }
      }
      return true;
    }
    default:
      return false;
  }
}

/// Delve's evalTypeCast.
V Evaluator::type_cast(const Node& n) {
  V argv = eval(*n.list[0]);
  const Node& fnnode = remove_paren(*n.x);
  const std::string target = expr_string(fnnode);
  const dwarf::Type* styp = nullptr;
  bool fake_bytes = false, fake_runes = false;
  try {
    styp = find_type_expr(fnnode);
  } catch (const EvalError& e) {
    if (target == "[]byte" || target == "[]uint8")
      fake_bytes = true;
    else if (target == "[]int32" || target == "[]rune")
      fake_runes = true;
    else
      throw TypeNotFound(e.what());
  }
  const std::string argstr = expr_string(*n.list[0]);
  if (fake_bytes || fake_runes) {
    // fakeSliceType(uint8/int32): a slice of that name is converted to itself.
    const std::string fake = fake_bytes ? "[]uint8" : "[]int32";
    if (argv.real && argv.real->kind == GoKind::slice && argv.real->name == fake)
      return argv;
    return to_slice(fake_bytes ? "uint8" : "int32", argv, argstr);
  }
  const dwarf::Type* typ = styp->resolved();
  const std::string typ_string = real_string(typ);
  const auto converr = [&] {
    return EvalError("can not convert " + go_quote(argstr, QuoteStyle::keep_unicode()) + " to " +
                     typ_string);
  };
  if (!argv.nil && cast_compatible(argv.real, typ)) {
    argv.kept_kind = argv.kind();
    if (argv.pointee && typ->kind == GoKind::ptr) {
      V child = *argv.pointee;
      child.type = child.real = typ->elem;
      argv.pointee = std::make_shared<V>(std::move(child));
    }
    argv.real = typ;
    argv.type = styp;
    return argv;
  }
  const GoKind ak = argv.kind();
  const bool ak_int = !argv.nil && (ak == GoKind::int_ || is_int(ak));
  const bool ak_uint = !argv.nil && (ak == GoKind::uint || is_uint(ak));
  const bool ak_float = !argv.nil && is_float(ak);
  switch (tclass(typ)) {
    case TClass::ptr: {
      if (!ak_int && !ak_uint)
        throw converr();
      const auto c = load(argv);
      V r = computed(styp, Const::of_int(0), true);
      r.value.reset();
      r.pointee = std::make_shared<V>(at(typ->elem, c->uint64()));
      return r;
    }
    case TClass::uint:
    case TClass::int_: {
      const bool sign = tclass(typ) == TClass::int_;
      if (ak_int || ak_uint || ak_float || (!sign && ak == GoKind::ptr)) {
        std::uint64_t raw = 0;
        if (ak == GoKind::ptr) {
          raw = pointee_addr(argv);
        } else {
          const auto c = load(argv);
          raw = ak_float ? (sign ? static_cast<std::uint64_t>(static_cast<std::int64_t>(c->f))
                                 : static_cast<std::uint64_t>(c->f))
                         : c->uint64();
        }
        const unsigned bits = static_cast<unsigned>(std::min<std::uint64_t>(typ->size, 8) * 8);
        if (!ak_float && bits < 64) {
          const std::uint64_t mask = (std::uint64_t{1} << bits) - 1;
          raw &= mask;
          if (sign && ((raw >> (bits - 1)) & 1))
            raw |= ~mask;
        }
        return computed(
            styp, sign ? Const::of_int(static_cast<std::int64_t>(raw)) : Const::of_int(raw), true);
      }
      break;
    }
    case TClass::float_:
    case TClass::complex_:
      if (ak_int || ak_uint || ak_float) {
        const auto c = load(argv);
        return computed(styp, *c, true);
      }
      break;
    default:
      break;
  }
  // Everything else loads the operand with the request's config first.
  load(argv, static_cast<std::uint64_t>(cfg_ ? cfg_->max_string_len : 64));
  if (!argv.unreadable.empty())
    throw EvalError(argv.unreadable);
  switch (tclass(typ)) {
    case TClass::slice: {
      const auto* elem = slice_elem(typ);
      const GoKind ek = elem ? elem->resolved()->kind : GoKind::invalid;
      if ((ek == GoKind::uint8 || ek == GoKind::int32) && ak == GoKind::string)
        return to_slice(ek == GoKind::uint8 ? "uint8" : "int32", argv, argstr, styp);
      break;
    }
    case TClass::string:
      return to_string(argv, styp, converr);
    default:
      break;
  }
  throw converr();
}

/// string(x) of a non-string x (Delve's StringType case): a rune, []byte, []rune.
template <class Err>
V Evaluator::to_string(V& argv, const dwarf::Type* styp, const Err& converr) {
  const GoKind ak = argv.kind();
  if (ak == GoKind::string) {
    const auto c = load(argv, static_cast<std::uint64_t>(cfg_ ? cfg_->max_string_len : 64));
    return computed(styp, *c, true);
  }
  if (!argv.nil && (ak == GoKind::int_ || ak == GoKind::uint || is_int(ak) || is_uint(ak))) {
    const auto c = load(argv);
    return computed(styp, Const::of_string(encode_rune(c->int64())), true);
  }
  if (argv.synth && argv.synth->kind == static_cast<int>(GoKind::slice)) {
    const bool runes = argv.synth->type == "[]int32";
    std::string out;
    for (const auto& c : argv.synth->children) {
      const auto x = std::stoll(c.value);
      out += runes ? encode_rune(x) : std::string(1, static_cast<char>(x));
    }
    return computed(styp, Const::of_string(std::move(out)), true);
  }
  if (ak == GoKind::slice || ak == GoKind::array) {
    std::uint64_t base = 0, stride = 0;
    std::int64_t len = 0, cap = 0;
    const dwarf::Type* elem = nullptr;
    array_info(argv, base, len, cap, elem, stride);
    const auto* er = elem ? elem->resolved() : nullptr;
    const std::string ename = elem ? elem->name : std::string();
    const bool bytes = er && is_uint(er->kind) && (ename == "uint8" || ename == "byte");
    const bool runes = er && is_int(er->kind) && (ename == "int32" || ename == "rune");
    if (!bytes && !runes)
      throw converr();
    // Delve converts the loaded children: at most MaxArrayValues of them.
    const auto max = static_cast<std::uint64_t>(cfg_ ? std::max(cfg_->max_array_values, 0) : 64);
    const auto count = std::min<std::uint64_t>(
        {static_cast<std::uint64_t>(std::max<std::int64_t>(len, 0)), max, kMaxConvertLen});
    std::vector<std::byte> raw(count * stride);
    if (count && !loader_.read(base, raw))
      throw EvalError("could not read " + hex(base));
    std::string out;
    for (std::uint64_t i = 0; i < count; ++i) {
      if (bytes) {
        out += static_cast<char>(raw[i]);
      } else {
        std::int32_t x = 0;
        std::memcpy(&x, raw.data() + i * 4, 4);
        out += encode_rune(x);
      }
    }
    return computed(styp, Const::of_string(std::move(out)), true);
  }
  throw converr();
}

/// []byte(s) / []rune(s): Delve builds the slice from the string's bytes or runes, each
/// element at the operand's address plus its byte index, without memory behind it.
V Evaluator::to_slice(const std::string& elem, V& argv, const std::string& argstr,
                      const dwarf::Type* styp) {
  const std::string tname = styp ? styp->name : "[]" + elem;
  if (argv.kind() != GoKind::string) {
    if (argv.synth && argv.synth->type == tname)
      return argv;
    throw EvalError("can not convert " + go_quote(argstr, QuoteStyle::keep_unicode()) + " to " +
                    tname);
  }
  const auto c = load(argv, static_cast<std::uint64_t>(cfg_ ? cfg_->max_string_len : 64));
  const std::string& s = c->s;
  auto out = std::make_shared<Variable>();
  out->type = out->real_type = tname;
  out->kind = static_cast<int>(GoKind::slice);
  auto add = [&](std::size_t at_byte, std::int64_t x) {
    Variable e;
    e.addr = argv.addr + at_byte;
    e.type = e.real_type = elem;
    // newVariable's kinds: reflect.Uint for bytes, reflect.Int for runes.
    e.kind = elem == "uint8" ? 7 : 2;
    e.value = std::to_string(x);
    out->children.push_back(std::move(e));
  };
  if (elem == "uint8") {
    for (std::size_t i = 0; i < s.size(); ++i) add(i, static_cast<unsigned char>(s[i]));
  } else {
    for (std::size_t i = 0; i < s.size();) {
      const auto [r, w] = decode_rune(s, i);
      add(i, r);
      i += w;
    }
  }
  out->len = out->cap = static_cast<std::int64_t>(out->children.size());
  V r;
  r.synth = std::move(out);
  return r;
}

}  // namespace goscope::target::expr

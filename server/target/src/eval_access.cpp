// Reaching into values: selectors (fields through pointers, embedded fields), interfaces
// and type assertions, index (arrays, slices, strings, maps), reslices, *x and &x.
#include "eval_internal.hpp"

#include <algorithm>
#include <cstring>

namespace goscope::target::expr {

/// Delve's maybeDereference: a pointer's pointee (unloaded, unnamed), anything else as is.
V Evaluator::maybe_deref(const V& v) {
  if (!v.unreadable.empty())
    return v;
  if (!v.real || (v.real->kind != GoKind::ptr && v.real->kind != GoKind::unsafe_pointer))
    return v;
  if (v.pointee) {
    V c = *v.pointee;
    return c;
  }
  const dwarf::Type* elem = v.real->kind == GoKind::ptr ? v.real->elem : nullptr;
  V r = at(elem, 0);
  std::uint64_t p = 0;
  if (!loader_.read(v.addr, std::as_writable_bytes(std::span(&p, 1))))
    r.unreadable = "could not read " + hex(v.addr);
  r.addr = p;
  return r;
}

V Evaluator::eval_selector(const Node& n) {
  V xv = eval(*n.x);
  if (xv.nil)
    throw EvalError("nil (type nil) is not a struct");
  if (xv.addr == 0 && xv.name.empty() && !xv.type && !xv.synth && xv.value)
    throw EvalError(xv.value->str() + " (type " + xv.type_string() + ") is not a struct");
  if (xv.cpu_reg)  // REGNAME.int8 and friends
    return register_conversion(xv, n.s);
  return struct_member(xv, n.s);
}

/// Delve's toField.
V Evaluator::to_field(const V& v, const dwarf::Field& f) {
  if (!v.unreadable.empty())
    return v;
  if (v.addr == 0)
    throw EvalError(v.name + " is nil");
  std::string name;
  if (!v.name.empty()) {
    const auto dot = f.name.find('.');
    name = v.name + "." + (dot == std::string::npos ? f.name : f.name.substr(dot + 1));
  }
  return at(f.type, v.addr + f.offset, std::move(name));
}

V Evaluator::struct_member(V v, const std::string& member) {
  if (!v.unreadable.empty())
    return v;
  const std::string vname = v.name;
  if (v.synth) {
    if (v.synth->kind != static_cast<int>(GoKind::struct_))
      throw EvalError(vname + " (type " + v.synth->type + ") is not a struct");
    for (const auto& c : v.synth->children) {
      if (c.name == member) {
        V r;
        r.synth = std::make_shared<Variable>(c);
        return r;
      }
    }
    throw EvalError(vname + " has no member " + member);
  }
  if (v.real && v.real->kind == GoKind::chan && v.real->underlying) {
    // The *hchan behind the chan, `buf` retyped *[dataqsiz]T (Delve's loadChanInfo).
    const dwarf::Type* ptr = v.real->underlying->resolved();
    const dwarf::Type* hchan = ptr->elem ? ptr->elem->resolved() : nullptr;
    if (hchan && hchan->fields.size() >= 2 && v.addr) {
      const auto h = word(v.addr);
      std::uint64_t n = 0;
      if (h)
        n = word(h + hchan->fields[1].offset);
      auto& copy = fake_types_.emplace_back(*hchan);
      for (auto& f : copy.fields) {
        if (f.name == "buf")
          f.type = loader_.pointer_to(loader_.array_of(v.real->elem, n));
      }
      v.type = v.real = loader_.pointer_to(&copy);
    }
  } else if (v.real && v.real->kind == GoKind::interface) {
    V data = interface_data(v);
    if (data.addr != 0 || data.type)
      v = std::move(data);
  }
  std::deque<V> queue{v};
  std::vector<std::string> seen;
  bool first = true;
  while (!queue.empty()) {
    V cur = std::move(queue.front());
    queue.pop_front();
    const std::string rname = cur.real ? cur.real->name : std::string();
    if (std::find(seen.begin(), seen.end(), rname) != seen.end())
      continue;
    seen.push_back(rname);
    V sv = maybe_deref(cur);
    sv.name = cur.name;
    if (!sv.unreadable.empty())
      return sv;
    if (sv.real && sv.real->kind == GoKind::struct_) {
      for (const auto& field : sv.real->fields) {
        if (field.name == member)
          return to_field(sv, field);
        const std::string tname = field.type ? field.type->name : std::string();
        const bool embedded = field.embedded || tname == field.name ||
                              (field.name.size() > 1 && field.name[0] == '*' && tname.size() > 1 &&
                               tname.substr(1) == field.name.substr(1));
        if (!embedded)
          continue;
        V ev = to_field(sv, field);
        const auto dot = field.name.find('.');
        if (dot != std::string::npos && field.name.substr(dot + 1) == member)
          return ev;
        ev.name = sv.name;
        queue.push_back(std::move(ev));
      }
    } else if (first) {
      throw EvalError(vname + " (type " + sv.type_string() + ") is not a struct");
    }
    first = false;
  }
  throw EvalError(vname + " has no member " + member);
}

/// Delve's loadInterface(0, false): the `data` child, or an unreadable V. A nil interface
/// gives an untyped child at address 0.
V Evaluator::interface_data(const V& v) {
  const auto* r = v.real;
  const bool empty = r->field("_type") != nullptr;
  const auto first = word(v.addr);
  V data;
  data.name = "data";
  if (first == 0)
    return data;
  const auto rtype = empty ? first : word(first + 8);
  const dwarf::Type* dyn = im_.bi.debug().type_by_runtime_type(rtype - im_.bi.load_bias());
  if (!dyn)
    throw EvalError("could not resolve interface type");
  const dwarf::Type* rt = im_.bi.debug().find_type("runtime._type");
  std::uint8_t kind = 0;
  const auto* kf = rt ? rt->resolved()->field("kind") : nullptr;
  read(rtype + (kf ? kf->offset : 23), &kind, 1);
  constexpr std::uint8_t kKindDirectIface = 1 << 5;
  const bool direct = (kind & kKindDirectIface) != 0;
  const std::uint64_t data_addr = v.addr + 8;
  if (!direct && dyn->resolved()->kind != GoKind::ptr) {
    data = at(dyn, word(data_addr), "data");
  } else {
    data = at(dyn, data_addr, "data");
  }
  return data;
}

V Evaluator::eval_type_assert(const Node& n) {
  V xv = eval(*n.x);
  if (xv.kind() != GoKind::interface)
    throw EvalError("expression \"" + expr_string(*n.x) + "\" not an interface");
  if (!xv.unreadable.empty())
    throw EvalError(xv.unreadable);
  V data = interface_data(xv);
  if (data.addr == 0)
    throw EvalError("interface conversion: " + xv.type->name + " is nil, not " + expr_string(*n.y));
  if (!(n.y->k == Node::K::ident && n.y->s == "data")) {
    const dwarf::Type* typ = find_type_expr(*n.y);
    if (data.type->name != typ->name) {
      throw EvalError("interface conversion: " + xv.type->name + " is " + data.type_string() +
                      ", not " + typ->name);
    }
  }
  return data;
}

V Evaluator::eval_index(const Node& n) {
  V xev = eval(*n.x);
  if (!xev.unreadable.empty())
    throw EvalError(xev.unreadable);
  xev = maybe_deref(xev);
  V idx = eval(*n.y);
  const std::string xs = expr_string(*n.x);
  const auto cantindex = [&] {
    return EvalError("expression \"" + xs + "\" (" + xev.type_string() +
                     ") does not support indexing");
  };
  GoKind k = xev.kind();
  if (k == GoKind::ptr) {
    if (xev.nil || !xev.real || !xev.real->elem ||
        xev.real->elem->resolved()->kind != GoKind::array) {
      throw cantindex();
    }
    xev = maybe_deref(xev);
    k = xev.kind();
  }
  if (xev.synth && xev.synth->kind == static_cast<int>(GoKind::slice))
    throw EvalError("can not index \"" + xs + "\"");
  if (k == GoKind::slice || k == GoKind::array || k == GoKind::string) {
    std::uint64_t base = 0, stride = 0;
    std::int64_t len = 0, cap = 0;
    const dwarf::Type* elem = nullptr;
    if (!xev.type || !array_info(xev, base, len, cap, elem, stride) || base == 0)
      throw EvalError("can not index \"" + xs + "\"");
    const std::int64_t i = as_int(idx);
    if (i < 0 || i >= len)
      throw EvalError("index out of bounds");
    return at(elem, base + static_cast<std::uint64_t>(i) * stride);
  }
  if (k == GoKind::map) {
    load(idx, 1024 * 1024);
    return map_access(xev, idx);
  }
  throw cantindex();
}

/// Delve's asInt.
std::int64_t Evaluator::as_int(V& v) {
  if (!v.type) {
    if (v.nil || !v.value || v.value->k != Const::K::int_)
      throw EvalError("can not convert constant " + (v.value ? v.value->str() : "nil") + " to int");
  } else {
    load(v);
    if (tclass(v.type) != TClass::int_)
      throw EvalError("can not convert value of type " + v.type->name + " to int");
  }
  return v.value->int64();
}

/// Delve's mapAccess: the entries in Delve's iteration order, the first key's type checked
/// against the index, keys compared with compareOp.
V Evaluator::map_access(const V& m, V& idx) {
  LoadConfig cfg{true, 0, 64, 1 << 30, -1};
  if (idx.kind() == GoKind::string && idx.value)
    cfg.max_string_len = std::max<int>(64, static_cast<int>(idx.value->s.size()));
  Variable mv = loader_.load("", m.type, m.addr, cfg);
  if (!mv.unreadable.empty())
    throw EvalError("can not access unreadable map: " + mv.unreadable);
  const auto* mt = m.real;
  const dwarf::Type* key_t = mt->key;
  const dwarf::Type* val_t = mt->elem;
  for (std::size_t i = 0; i + 1 < mv.children.size(); i += 2) {
    const Variable& key = mv.children[i];
    if (!key.unreadable.empty())
      throw EvalError("can not access unreadable map: " + key.unreadable);
    V kv = at(key_t, key.addr);
    if (i == 0)
      is_type(idx, key_t ? key_t->resolved() : nullptr, kv.kind(), true);
    if (compare("==", kv, idx))
      return at(val_t, mv.children[i + 1].addr);
  }
  throw EvalError("key not found");
}

V Evaluator::eval_reslice(const Node& n) {
  V xev = eval(*n.x);
  if (!xev.unreadable.empty())
    throw EvalError(xev.unreadable);
  std::int64_t low = 0, high = 0;
  if (n.y) {
    V lv = eval(*n.y);
    try {
      low = as_int(lv);
    } catch (const EvalError& e) {
      throw EvalError("can not convert \"" + expr_string(*n.y) + "\" to int: " + e.what());
    }
  }
  std::uint64_t base = 0, stride = 0;
  std::int64_t len = 0, cap = 0;
  const dwarf::Type* elem = nullptr;
  const GoKind k = xev.kind();
  const bool arrayish =
      (k == GoKind::slice || k == GoKind::array || k == GoKind::string) && !xev.synth && xev.type;
  if (arrayish)
    array_info(xev, base, len, cap, elem, stride);
  else if (xev.synth && xev.synth->kind == static_cast<int>(GoKind::slice))
    len = xev.synth->len;
  else if (xev.value && xev.value->k == Const::K::string_)
    len = static_cast<std::int64_t>(xev.value->s.size());
  if (!n.z) {
    high = len;
  } else {
    V hv = eval(*n.z);
    try {
      high = as_int(hv);
    } catch (const EvalError& e) {
      throw EvalError("can not convert \"" + expr_string(*n.z) + "\" to int: " + e.what());
    }
  }
  if (k == GoKind::slice || k == GoKind::array || k == GoKind::string) {
    if (base == 0)
      throw EvalError("can not slice \"" + expr_string(*n.x) + "\"");
    if (low < 0 || low > len || high < 0 || high > len || high - low < 0)
      throw EvalError("index out of bounds");
    V r;
    r.type = k == GoKind::array ? loader_.slice_of(elem) : xev.type;
    r.real = k == GoKind::array ? r.type : xev.real;
    r.slice = std::array<std::uint64_t, 3>{base + static_cast<std::uint64_t>(low) * stride,
                                           static_cast<std::uint64_t>(high - low),
                                           static_cast<std::uint64_t>(high - low)};
    r.flags = xev.flags;
    return r;
  }
  if (k == GoKind::map) {
    if (n.z)
      throw EvalError("second slice argument must be empty for maps");
    V r = xev;
    r.map_skip += low;
    Variable mv = loader_.load("", xev.type, xev.addr, LoadConfig{false, 0, 0, 0, 0});
    if (r.map_skip >= mv.len)
      throw EvalError("map index out of bounds");
    return r;
  }
  throw EvalError("can not slice \"" + expr_string(*n.x) + "\" (type " + xev.type_string() + ")");
}

V Evaluator::eval_deref(const Node& n) {
  V xev = eval(*n.x);
  if (xev.kind() != GoKind::ptr)
    throw EvalError("expression \"" + expr_string(*n.x) + "\" (" + xev.type_string() +
                    ") can not be dereferenced");
  if (xev.nil)
    throw EvalError("nil can not be dereferenced");
  if (xev.pointee)
    return *xev.pointee;
  // Delve's loadPtr keeps a pointer that could not be located unreadable, and the deref
  // reports why (a location list without an entry at this pc, ...).
  if (!xev.unreadable.empty())
    throw EvalError("couldn't read pointer: " + xev.unreadable);
  std::uint64_t p = 0;
  if (!loader_.read(xev.addr, std::as_writable_bytes(std::span(&p, 1))))
    throw EvalError("couldn't read pointer: could not read " + hex(xev.addr));
  if (p == 0)
    throw EvalError("nil pointer dereference");
  return at(xev.real->elem, p);
}

V Evaluator::eval_addr_of(const Node& n) {
  V xev = eval(*n.x);
  if (xev.addr == 0 || !xev.type)
    throw EvalError("can not take address of \"" + expr_string(*n.x) + "\"");
  V r;
  r.type = r.real = loader_.pointer_to(xev.type);
  r.pointee = std::make_shared<V>(std::move(xev));
  r.has_bi = true;
  return r;
}

}  // namespace goscope::target::expr

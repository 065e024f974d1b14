// An evaluated expression as Delve's api.Variable: constants, values never loaded (OnlyAddr
// children) and values loaded from memory with the request's LoadConfig.
#include <algorithm>
#include <cstring>

#include "eval_internal.hpp"

namespace goscope::target::expr {

namespace {

/// Delve's nilVariable, an untyped constant, or a computed typed value as api.Variable.
Variable constant_variable(const V& v, const std::string& name, const BinaryInfo& bi) {
  Variable out;
  out.name = name;
  out.flags = v.flags;
  if (v.nil) {
    // A pointer of no type whose only child is an unloaded void.
    out.kind = static_cast<int>(GoKind::ptr);
    Variable child;
    child.only_addr = true;
    out.children.push_back(std::move(child));
    return out;
  }
  const Const& c = *v.value;
  GoKind k = v.kind();
  if (v.type) {
    out.type = v.type->name;
    out.real_type = v.real->name;
  }
  out.kind = static_cast<int>(k);
  switch (k) {
    case GoKind::float32:
      out.value = format_go_float(c.real(), 32);
      break;
    case GoKind::float64:
      out.value = format_go_float(c.real(), 64);
      break;
    case GoKind::string:
      out.value = c.k == Const::K::string_ ? c.s : std::string();
      out.len = static_cast<std::int64_t>(out.value.size());
      break;
    case GoKind::complex64:
    case GoKind::complex128: {
      const int bits = k == GoKind::complex64 ? 32 : 64;
      out.len = 2;
      Variable re, im;
      re.name = "real";
      im.name = "imaginary";
      re.kind = im.kind = static_cast<int>(bits == 32 ? GoKind::float32 : GoKind::float64);
      re.value = format_go_float(c.real(), bits);
      im.value = format_go_float(c.imag(), bits);
      out.children = {std::move(re), std::move(im)};
      out.value = c.str();
      break;
    }
    default: {
      out.value = c.str();
      if (v.type && v.has_bi && (v.flags & kFlagConstant) == 0 && c.k == Const::K::int_ &&
          v.type->name.find('.') != std::string::npos && !v.type->name.starts_with("C.")) {
        const auto consts = bi.debug().constants_of_type(v.type);
        if (!consts.empty()) {
          if (auto d = const_descr(consts, v.type->name, c.int64()); !d.empty())
            out.value = d + " (" + out.value + ")";
        }
      }
    }
  }
  return out;
}

/// Delve's newVariable of a value that is never loaded (OnlyAddr children): its type and
/// what newVariable reads eagerly (string and slice headers, array length).
Variable unloaded(Evaluator& ev, const V& v) {
  Variable out;
  out.name = v.name;
  out.addr = v.addr;
  out.only_addr = true;
  out.flags = v.flags;
  out.decl_line = v.decl_line;
  out.location_expr = v.location_expr;
  if (!v.type)
    return out;
  out.type = v.type->name;
  out.real_type = v.real->name;
  out.kind = static_cast<int>(delve_kind(v.real));
  try {
    if (v.real->kind == GoKind::string && v.addr) {
      const auto [base, len] = ev.string_info(v);
      out.base = base;
      out.len = len;
    } else if (v.real->kind == GoKind::slice && v.addr) {
      out.base = ev.word(v.addr);
      out.len = static_cast<std::int64_t>(ev.word(v.addr + 8));
      out.cap = static_cast<std::int64_t>(ev.word(v.addr + 16));
    } else if (v.real->kind == GoKind::array) {
      out.base = v.addr;
      out.len = static_cast<std::int64_t>(v.real->count);
      out.cap = -1;
    }
  } catch (const EvalError& e) {
    out.unreadable = e.what();
  }
  return out;
}

}  // namespace

Variable to_api(Evaluator& ev, ValueLoader& loader, const BinaryInfo& bi, const V& v,
                const std::string& expr, const LoadConfig& cfg) {
  const std::string name = v.name.empty() ? expr : v.name;
  if (v.synth) {
    Variable out = *v.synth;
    out.name = name;
    return out;
  }
  if (v.nil || (!v.type && v.value && v.addr == 0))
    return constant_variable(v, name, bi);
  if (v.cpu_reg && v.type && v.value) {
    // Delve's loadValue of a VariableCPURegister: the value from the register's bytes.
    Variable out = constant_variable(v, name, bi);
    out.addr = v.addr;
    out.flags = v.flags;
    if (out.kind == static_cast<int>(GoKind::string))
      out.base = kFakeAddressUnresolv;
    return out;
  }
  if (!v.unreadable.empty() || !v.type) {
    Variable out;
    out.name = name;
    out.addr = v.addr;
    out.flags = v.flags;
    out.decl_line = v.decl_line;
    out.location_expr = v.location_expr;
    if (v.type) {
      out.type = v.type->name;
      out.real_type = v.real->name;
      out.kind = static_cast<int>(delve_kind(v.real));
    }
    out.unreadable = v.unreadable.empty() ? "unknown type" : v.unreadable;
    return out;
  }
  if (v.pointee) {
    // A loaded pointer that was never read: no value, one unloaded child.
    Variable out;
    out.name = name;
    out.type = v.type->name;
    out.real_type = v.real->name;
    out.kind = static_cast<int>(GoKind::ptr);
    out.flags = v.flags;
    out.children.push_back(unloaded(ev, *v.pointee));
    return out;
  }
  if (v.value && v.addr == 0)
    return constant_variable(v, name, bi);
  if (v.addr == 0 && !v.slice) {
    // Delve's loadValue does nothing at address 0 (a conversion of 0 to a pointer, read).
    Variable out = unloaded(ev, v);
    out.name = name;
    out.only_addr = false;
    return out;
  }
  Variable out;
  out.name = name;
  out.flags = v.flags;
  out.decl_line = v.decl_line;
  out.location_expr = v.location_expr;
  if (v.slice) {
    // A reslice: its header made readable at a fake address, reported with no address.
    const auto& s = *v.slice;
    std::vector<std::byte> hdr(24);
    std::memcpy(hdr.data(), s.data(), 24);
    out.addr = loader.add_fake(std::move(hdr));
    loader.load_into(out, v.type, cfg);
    out.addr = 0;
    out.cap = static_cast<std::int64_t>(s[2]);
    out.location_expr.clear();
    return out;
  }
  out.addr = v.addr;
  if (!v.has_bi)
    out.flags |= kFlagConstant;  // no ConstDescr for values made from constants
  if (v.map_skip > 0 && v.real->kind == GoKind::map) {
    // Delve's loadMap after mapSkip entries.
    LoadConfig skip = cfg;
    skip.max_array_values = static_cast<int>(
        std::min<std::int64_t>(std::numeric_limits<int>::max(), cfg.max_array_values + v.map_skip));
    loader.load_into(out, v.type, skip);
    const auto drop =
        std::min<std::size_t>(out.children.size(), static_cast<std::size_t>(2 * v.map_skip));
    out.children.erase(out.children.begin(),
                       out.children.begin() + static_cast<std::ptrdiff_t>(drop));
  } else {
    loader.load_into(out, v.type, cfg);
  }
  out.flags = v.flags;
  if (v.kept_kind)
    out.kind = static_cast<int>(*v.kept_kind);
  return out;
}

}  // namespace goscope::target::expr

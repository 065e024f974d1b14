#include "target/value_loader.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <cstring>

#include "dwarf/error.hpp"
#include "dwarf/expr.hpp"
#include "target/binary_info.hpp"

namespace goscope::target {
namespace {

using dwarf::GoKind;

// Delve's fake address for values that live in registers (pkg/proc fakeAddressUnresolv).
constexpr std::uint64_t kFakeAddress = 0xbeed000000000000ULL;
// runtime/type.go: kindDirectIface marks types stored directly in the interface word.
constexpr std::uint8_t kKindDirectIface = 1 << 5;

bool is_int(GoKind k) { return k >= GoKind::int_ && k <= GoKind::int64; }
bool is_uint(GoKind k) { return k >= GoKind::uint && k <= GoKind::uintptr; }

std::string type_name(const dwarf::Type* t) { return t ? t->name : std::string(); }

std::uint64_t field_offset(const dwarf::Type* t, const char* name, std::uint64_t fallback) {
  if (!t) return fallback;
  const auto* f = t->resolved()->field(name);
  return f ? f->offset : fallback;
}

}  // namespace

std::string format_go_float(double f, int bits) {
  if (std::isnan(f)) return "NaN";
  if (std::isinf(f)) return f > 0 ? "+Inf" : "-Inf";
  std::array<char, 512> buf{};
  std::to_chars_result r;
  if (bits == 32) {
    r = std::to_chars(buf.data(), buf.data() + buf.size(), static_cast<float>(f),
                      std::chars_format::fixed);
  } else {
    r = std::to_chars(buf.data(), buf.data() + buf.size(), f, std::chars_format::fixed);
  }
  return std::string(buf.data(), r.ptr);
}

bool ValueLoader::read(std::uint64_t addr, std::span<std::byte> out) {
  if (!overlay_.empty() && addr >= overlay_base_ &&
      addr + out.size() <= overlay_base_ + overlay_.size()) {
    std::memcpy(out.data(), overlay_.data() + (addr - overlay_base_), out.size());
    return true;
  }
  return mem_(addr, out);
}

template <class T>
std::optional<T> ValueLoader::read_as(std::uint64_t addr) {
  T value{};
  if (!read(addr, std::as_writable_bytes(std::span(&value, 1)))) return std::nullopt;
  return value;
}

std::string ValueLoader::function_name_at(std::uint64_t pc) const {
  const auto* fn = bi_.function_at(proc::VirtAddr(pc));
  return fn ? fn->name : std::string();
}

Variable ValueLoader::load(std::string name, const dwarf::Type* type, std::uint64_t addr,
                           const LoadConfig& cfg) {
  Variable v;
  v.name = std::move(name);
  v.addr = addr;
  load_value(v, type, 0, cfg);
  return v;
}

void ValueLoader::load_value(Variable& v, const dwarf::Type* type, int recurse,
                             const LoadConfig& cfg) {
  if (!type) {
    v.unreadable = "unknown type";
    return;
  }
  const dwarf::Type* real = type->resolved();
  v.type = type->name;
  v.real_type = real->name;
  v.kind = static_cast<int>(real->kind);
  const auto addr = v.addr;
  auto fail = [&](const std::string& what) {
    v.unreadable = what;
    v.children.clear();
  };
  auto unreadable_at = [&](std::uint64_t a) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "could not read %#llx", static_cast<unsigned long long>(a));
    fail(buf);
  };

  switch (real->kind) {
    case GoKind::bool_: {
      auto b = read_as<std::uint8_t>(addr);
      if (!b) return unreadable_at(addr);
      v.value = *b ? "true" : "false";
      return;
    }
    case GoKind::float32: {
      auto f = read_as<float>(addr);
      if (!f) return unreadable_at(addr);
      v.value = format_go_float(*f, 32);
      return;
    }
    case GoKind::float64: {
      auto f = read_as<double>(addr);
      if (!f) return unreadable_at(addr);
      v.value = format_go_float(*f, 64);
      return;
    }
    case GoKind::complex64:
    case GoKind::complex128: {
      const bool wide = real->kind == GoKind::complex128;
      const std::uint64_t half = wide ? 8 : 4;
      Variable re, im;
      re.name = "real";
      im.name = "imaginary";
      re.kind = im.kind = static_cast<int>(wide ? GoKind::float64 : GoKind::float32);
      if (wide) {
        auto a = read_as<double>(addr), b = read_as<double>(addr + half);
        if (!a || !b) return unreadable_at(addr);
        re.value = format_go_float(*a, 64);
        im.value = format_go_float(*b, 64);
      } else {
        auto a = read_as<float>(addr), b = read_as<float>(addr + half);
        if (!a || !b) return unreadable_at(addr);
        re.value = format_go_float(*a, 32);
        im.value = format_go_float(*b, 32);
      }
      v.len = 2;
      v.children = {std::move(re), std::move(im)};
      return;
    }
    case GoKind::string: {
      auto data = read_as<std::uint64_t>(addr + field_offset(real, "str", 0));
      auto len = read_as<std::int64_t>(addr + field_offset(real, "len", 8));
      if (!data || !len) return unreadable_at(addr);
      v.base = *data;
      v.len = *len;
      const auto n = static_cast<std::size_t>(
          std::max<std::int64_t>(0, std::min<std::int64_t>(*len, cfg.max_string_len)));
      std::string s(n, '\0');
      if (n && !read(*data, std::as_writable_bytes(std::span(s.data(), n)))) {
        return unreadable_at(*data);
      }
      v.value = std::move(s);
      return;
    }
    case GoKind::slice:
    case GoKind::array: {
      const dwarf::Type* elem = real->elem;
      std::uint64_t base = addr;
      if (real->kind == GoKind::slice) {
        auto data = read_as<std::uint64_t>(addr + field_offset(real, "array", 0));
        auto len = read_as<std::int64_t>(addr + field_offset(real, "len", 8));
        auto cap = read_as<std::int64_t>(addr + field_offset(real, "cap", 16));
        if (!data || !len || !cap) return unreadable_at(addr);
        base = *data;
        v.len = *len;
        v.cap = *cap;
        if (!elem) {
          // Go's DWARF names the element through the `array` field's pointer type.
          if (const auto* f = real->field("array"); f && f->type) elem = f->type->resolved()->elem;
        }
      } else {
        v.len = v.cap = static_cast<std::int64_t>(real->count);
      }
      v.base = base;
      if (recurse > cfg.max_variable_recurse || !elem) return;
      const auto n = std::min<std::int64_t>(v.len, cfg.max_array_values);
      const auto esize = elem->resolved()->size;
      for (std::int64_t i = 0; i < n; ++i) {
        Variable child;
        child.addr = base + static_cast<std::uint64_t>(i) * esize;
        load_value(child, elem, recurse + 1, cfg);
        v.children.push_back(std::move(child));
      }
      return;
    }
    case GoKind::struct_: {
      v.len = static_cast<std::int64_t>(real->fields.size());
      if (recurse > cfg.max_variable_recurse) return;
      for (const auto& f : real->fields) {
        if (cfg.max_struct_fields >= 0 &&
            static_cast<int>(v.children.size()) >= cfg.max_struct_fields) {
          break;
        }
        Variable child;
        child.name = f.name;
        child.addr = addr + f.offset;
        load_value(child, f.type, recurse + 1, cfg);
        v.children.push_back(std::move(child));
      }
      return;
    }
    case GoKind::ptr:
    case GoKind::unsafe_pointer: {
      auto p = read_as<std::uint64_t>(addr);
      if (!p) return unreadable_at(addr);
      v.len = 1;
      Variable child;
      child.addr = *p;
      if (real->kind == GoKind::unsafe_pointer || !real->elem) {
        if (*p != 0) v.children.push_back(std::move(child));
        return;
      }
      child.type = type_name(real->elem);
      child.real_type = type_name(real->elem->resolved());
      child.kind = static_cast<int>(real->elem->resolved()->kind);
      if (cfg.follow_pointers && *p != 0) {
        const int next = child.kind == static_cast<int>(GoKind::interface) ? recurse + 1 : recurse;
        load_value(child, real->elem, next, cfg);
      } else {
        child.only_addr = true;
      }
      v.children.push_back(std::move(child));
      return;
    }
    case GoKind::map: {
      // A map variable is a pointer to runtime.hmap; count is its first field.
      auto h = read_as<std::uint64_t>(addr);
      if (!h) return unreadable_at(addr);
      v.base = *h;
      if (*h == 0) return;
      auto count = read_as<std::int64_t>(*h);
      if (!count) return unreadable_at(*h);
      v.len = *count;
      // Entries are loaded only when the config asks for elements (MaxArrayValues > 0);
      // bucket walking arrives with the full value model.
      return;
    }
    case GoKind::interface:
      return load_interface(v, real, recurse, cfg);
    case GoKind::func: {
      auto fv = read_as<std::uint64_t>(addr);
      if (!fv) return unreadable_at(addr);
      if (*fv == 0) return;
      auto entry = read_as<std::uint64_t>(*fv);
      if (!entry) return unreadable_at(*fv);
      v.base = *entry;
      v.value = function_name_at(*entry);
      return;
    }
    case GoKind::chan: {
      auto c = read_as<std::uint64_t>(addr);
      if (!c) return unreadable_at(addr);
      v.base = *c;
      return;
    }
    default:
      break;
  }
  if (is_int(real->kind) || is_uint(real->kind)) {
    std::uint64_t raw = 0;
    const auto size = std::min<std::uint64_t>(real->size ? real->size : 8, 8);
    if (!read(addr, std::as_writable_bytes(std::span(&raw, 1)).first(size))) {
      return unreadable_at(addr);
    }
    if (is_int(real->kind)) {
      const unsigned shift = static_cast<unsigned>(64 - size * 8);
      const auto sv = static_cast<std::int64_t>(raw << shift) >> shift;
      v.value = std::to_string(sv);
    } else {
      v.value = std::to_string(raw);
    }
    return;
  }
  fail("unsupported type " + real->name);
}

void ValueLoader::load_interface(Variable& v, const dwarf::Type* real, int recurse,
                                 const LoadConfig& cfg) {
  // eface {_type, data}; iface {tab *itab, data}, itab._type at offset 8.
  const bool empty = real->field("_type") != nullptr;
  const auto first_off = field_offset(real, empty ? "_type" : "tab", 0);
  const auto data_off = field_offset(real, "data", 8);
  auto first = read_as<std::uint64_t>(v.addr + first_off);
  if (!first) {
    v.unreadable = "could not read interface";
    return;
  }
  Variable data;
  data.name = "data";
  if (*first == 0) {
    v.children.push_back(std::move(data));  // kind Invalid, addr 0: "nil"
    return;
  }
  std::uint64_t rtype = *first;
  if (!empty) {
    auto t = read_as<std::uint64_t>(*first + 8);
    if (!t) {
      v.unreadable = "could not read itab";
      return;
    }
    rtype = *t;
  }
  const dwarf::Type* dyn = bi_.debug().type_by_runtime_type(rtype - bi_.load_bias());
  if (!dyn) {
    v.unreadable = "unknown dynamic type";
    return;
  }
  const dwarf::Type* rt = bi_.debug().find_type("runtime._type");
  auto kind = read_as<std::uint8_t>(rtype + field_offset(rt, "kind", 23));
  const bool direct = kind && (*kind & kKindDirectIface);
  const auto data_addr = v.addr + data_off;
  if (!direct && dyn->resolved()->kind != GoKind::ptr) {
    // The data word points at the value: the child is the pointee itself.
    auto p = read_as<std::uint64_t>(data_addr);
    if (!p) {
      v.unreadable = "could not read interface data";
      return;
    }
    data.addr = *p;
  } else {
    data.addr = data_addr;
  }
  if (recurse <= cfg.max_variable_recurse) {
    load_value(data, dyn, recurse, cfg);
  } else {
    data.type = dyn->name;
    data.real_type = dyn->resolved()->name;
    data.kind = static_cast<int>(dyn->resolved()->kind);
    data.only_addr = true;
  }
  v.children.push_back(std::move(data));
}

Variable ValueLoader::load_variable(const dwarf::Variable& var, std::uint64_t pc,
                                    std::uint64_t cfa, const RegisterFn& regs,
                                    const LoadConfig& cfg) {
  Variable v;
  v.name = var.name;
  v.flags = var.is_result ? kFlagReturnArgument : (var.is_parameter ? kFlagArgument : 0);
  v.decl_line = var.decl_line;
  auto set_unreadable = [&](std::string why) {
    v.type = type_name(var.type);
    v.real_type = var.type ? type_name(var.type->resolved()) : std::string();
    v.kind = var.type ? static_cast<int>(var.type->resolved()->kind) : 0;
    v.unreadable = std::move(why);
    return v;
  };
  auto expr = var.location.at(dwarf::FileAddr(pc - bi_.load_bias()));
  if (!expr) return set_unreadable("empty OP stack");
  dwarf::ExprContext ctx;
  ctx.read_register = regs;
  ctx.read_memory = [this](std::uint64_t a, std::span<std::byte> out) { return mem_(a, out); };
  ctx.frame_base = cfa;
  ctx.cfa = cfa;
  ctx.static_base = bi_.load_bias();
  std::vector<dwarf::Piece> pieces;
  try {
    pieces = dwarf::evaluate_location(*expr, ctx);
  } catch (const dwarf::Error& e) {
    return set_unreadable(e.what());
  }
  if (pieces.empty()) return set_unreadable("empty OP stack");
  if (pieces.size() == 1 && pieces[0].kind == dwarf::Piece::Kind::memory) {
    v.addr = pieces[0].address;
    load_value(v, var.type, 0, cfg);
    return v;
  }
  // Register-resident or split value: assemble its bytes and read it from a fake address.
  const std::uint64_t size = var.type ? var.type->resolved()->size : 8;
  std::vector<std::byte> bytes(std::max<std::uint64_t>(size, 8));
  std::uint64_t off = 0;
  for (const auto& p : pieces) {
    const std::uint64_t n = p.size ? p.size : size;
    if (off + n > bytes.size()) bytes.resize(off + n);
    switch (p.kind) {
      case dwarf::Piece::Kind::reg: {
        auto r = regs(p.regno);
        if (!r) return set_unreadable("register " + std::to_string(p.regno) + " unavailable");
        std::memcpy(bytes.data() + off, &*r, std::min<std::uint64_t>(n, 8));
        break;
      }
      case dwarf::Piece::Kind::memory:
        if (!mem_(p.address, std::span(bytes.data() + off, n))) {
          return set_unreadable("could not read piece");
        }
        break;
      case dwarf::Piece::Kind::value:
        std::memcpy(bytes.data() + off, &p.value, std::min<std::uint64_t>(n, 8));
        break;
      case dwarf::Piece::Kind::implicit:
        std::memcpy(bytes.data() + off, p.bytes.data(), std::min<std::uint64_t>(n, p.bytes.size()));
        break;
      case dwarf::Piece::Kind::empty:
        break;
    }
    off += n;
  }
  overlay_base_ = kFakeAddress;
  overlay_ = std::move(bytes);
  v.addr = kFakeAddress;
  v.flags |= kFlagFakeAddress;
  load_value(v, var.type, 0, cfg);
  overlay_.clear();
  return v;
}

}  // namespace goscope::target

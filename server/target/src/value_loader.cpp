#include "target/value_loader.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <string_view>

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

bool is_int(GoKind k) {
  return k >= GoKind::int_ && k <= GoKind::int64;
}
bool is_uint(GoKind k) {
  return k >= GoKind::uint && k <= GoKind::uintptr;
}

// Delve's api.Variable.Kind collapses sized integers: every DWARF signed integer is
// reflect.Int and every unsigned one reflect.Uint (int32 shows kind 2, byte kind 7).
int api_kind(GoKind k) {
  if (is_int(k))
    return static_cast<int>(GoKind::int_);
  if (is_uint(k))
    return static_cast<int>(GoKind::uint);
  return static_cast<int>(k);
}

// Go 1.12+ map tophash sentinels (runtime/map.go): empty cells, evacuated buckets.
constexpr std::uint8_t kEmptyRest = 0;
constexpr std::uint8_t kEmptyOne = 1;
constexpr std::uint8_t kMinTopHash = 5;
constexpr int kMaxErrCount = 3;  // Delve's maxErrCount: stop after this many bad elements

// Delve's loadFullValue: what channel internals and pprof labels are loaded with.
constexpr LoadConfig kFullLoad{true, 1, 64, 64, -1};

std::string type_name(const dwarf::Type* t) {
  return t ? t->name : std::string();
}

std::uint64_t field_offset(const dwarf::Type* t, const char* name, std::uint64_t fallback) {
  if (!t)
    return fallback;
  const auto* f = t->resolved()->field(name);
  return f ? f->offset : fallback;
}

}  // namespace

std::string const_descr(std::span<const dwarf::Constant* const> values, std::string_view type_name,
                        std::int64_t n) {
  // constantsMap.Get: names lose the package of the type (packageName(typ.String()) + ".").
  std::string_view pkg;
  {
    const auto slash = type_name.rfind('/');
    const std::size_t from = slash == std::string_view::npos ? 0 : slash;
    if (const auto dot = type_name.find('.', from); dot != std::string_view::npos)
      pkg = type_name.substr(0, dot + 1);
  }
  auto short_name = [&](const std::string& name) {
    std::string_view s = name;
    if (!pkg.empty() && s.starts_with(pkg))
      s.remove_prefix(pkg.size());
    return std::string(s);
  };
  // constantType.describe: an exact match, else an OR of the single-bit constants that
  // covers the value completely.
  for (const dwarf::Constant* c : values) {
    if (c->value == n)
      return short_name(c->name);
  }
  if (n == 0)
    return {};
  std::string fields;
  for (const dwarf::Constant* c : values) {
    if (std::popcount(static_cast<std::uint64_t>(c->value)) != 1)
      continue;
    if ((n & c->value) != 0) {
      if (!fields.empty())
        fields += '|';
      fields += short_name(c->name);
      n &= ~c->value;
    }
  }
  return n == 0 ? fields : std::string();
}

void ValueLoader::format_time(Variable& v, const dwarf::Type* real) {
  // Delve's formatTime: from the loaded children wall, ext and loc (loc.name read in full).
  const Variable* wall = nullptr;
  const Variable* ext = nullptr;
  const Variable* loc = nullptr;
  for (const auto& c : v.children) {
    if (c.name == "wall")
      wall = &c;
    else if (c.name == "ext")
      ext = &c;
    else if (c.name == "loc")
      loc = &c;
  }
  if (!wall || !ext || !wall->unreadable.empty() || !ext->unreadable.empty() ||
      wall->value.empty() || ext->value.empty()) {
    return;
  }
  std::string loc_name;
  if (loc && loc->unreadable.empty()) {
    const dwarf::Field* lf = real->field("loc");
    const dwarf::Type* lt = lf && lf->type ? lf->type->resolved() : nullptr;
    const dwarf::Type* loc_struct = lt && lt->elem ? lt->elem->resolved() : nullptr;
    const dwarf::Field* nf = loc_struct ? loc_struct->field("name") : nullptr;
    if (auto p = read_as<std::uint64_t>(loc->addr); p && *p != 0 && nf) {
      auto data = read_as<std::uint64_t>(*p + nf->offset);
      auto len = read_as<std::int64_t>(*p + nf->offset + 8);
      if (data && len && *len > 0 && *len <= 64) {
        std::string name(static_cast<std::size_t>(*len), '\0');
        if (read(*data, std::as_writable_bytes(std::span(name.data(), name.size()))))
          loc_name = std::move(name);
      }
    }
  }
  try {
    v.value = format_go_time(std::stoull(wall->value), std::stoll(ext->value), loc_name);
  } catch (const std::exception&) {
  }
}

std::string location_text(const dwarf::LocationDesc& loc, std::uint64_t file_pc, std::uint64_t pc) {
  if (!loc.is_list) {
    if (loc.expr.empty() && !loc.present)
      return {};
    return "[block] " + dwarf::pretty_print_location(loc.expr);
  }
  auto expr = loc.at(dwarf::FileAddr(file_pc));
  if (!expr)
    return {};  // Delve: no loclist entry, no description
  char head[64];
  std::snprintf(head, sizeof head, "[%#llx:%#llx] ",
                static_cast<unsigned long long>(loc.list_offset),
                static_cast<unsigned long long>(pc));
  return head + dwarf::pretty_print_location(*expr);
}

std::string format_go_float(double f, int bits) {
  if (std::isnan(f))
    return "NaN";
  if (std::isinf(f))
    return f > 0 ? "+Inf" : "-Inf";
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
  for (const auto& f : fakes_) {
    if (addr >= f.base && addr + out.size() <= f.base + f.bytes.size()) {
      std::memcpy(out.data(), f.bytes.data() + (addr - f.base), out.size());
      return true;
    }
  }
  if (addr >= kFakeAddress)
    return false;  // a fake address we no longer (or never) had
  return mem_(addr, out);
}

bool ValueLoader::is_fake(std::uint64_t addr) const {
  return addr >= kFakeAddress;
}

std::uint64_t ValueLoader::add_fake(std::vector<std::byte> bytes) {
  if (next_fake_ == 0)
    next_fake_ = kFakeAddress;
  const std::uint64_t base = next_fake_;
  next_fake_ += (std::max<std::uint64_t>(bytes.size(), 1) + 15) & ~std::uint64_t{15};
  fakes_.push_back({base, std::move(bytes)});
  return base;
}

const dwarf::Type* ValueLoader::pointer_to(const dwarf::Type* t) {
  auto& p = synthesized_.emplace_back();
  p.kind = GoKind::ptr;
  p.size = 8;
  p.elem = t;
  p.name = "*" + type_name(t);
  return &p;
}

const dwarf::Type* ValueLoader::array_of(const dwarf::Type* elem, std::uint64_t n) {
  auto& a = synthesized_.emplace_back();
  a.kind = GoKind::array;
  a.elem = elem;
  a.count = n;
  a.size = n * (elem ? elem->resolved()->size : 0);
  a.name = "[" + std::to_string(n) + "]" + type_name(elem);
  return &a;
}

const dwarf::Type* ValueLoader::slice_of(const dwarf::Type* elem) {
  auto& s = synthesized_.emplace_back();
  s.kind = GoKind::slice;
  s.size = 24;
  s.elem = elem;
  s.name = "[]" + type_name(elem);
  return &s;
}

const dwarf::Type* ValueLoader::renamed(const dwarf::Type* t, std::string name) {
  auto& r = synthesized_.emplace_back(*t->resolved());
  r.name = std::move(name);
  r.is_typedef = false;
  return &r;
}

namespace {

void add_nil_complex_parts(Variable& v) {
  // api.ConvertVar gives a complex number its two parts even without a value ("nil").
  const auto k = static_cast<GoKind>(v.kind);
  if ((k != GoKind::complex64 && k != GoKind::complex128) || !v.children.empty())
    return;
  const int part = static_cast<int>(k == GoKind::complex64 ? GoKind::float32 : GoKind::float64);
  Variable re, im;
  re.name = "real";
  im.name = "imaginary";
  re.kind = im.kind = part;
  re.value = im.value = "nil";
  v.children = {std::move(re), std::move(im)};
  v.len = 2;
}

}  // namespace

void ValueLoader::load_into(Variable& v, const dwarf::Type* type, const LoadConfig& cfg,
                            int recurse) {
  load_value(v, type, recurse, cfg);
}

template <class T>
std::optional<T> ValueLoader::read_as(std::uint64_t addr) {
  T value{};
  if (!read(addr, std::as_writable_bytes(std::span(&value, 1))))
    return std::nullopt;
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
  v.kind = api_kind(real->kind);
  const auto addr = v.addr;
  auto fail = [&](const std::string& what) {
    v.unreadable = what;
    v.children.clear();
    add_nil_complex_parts(v);
  };
  // Delve's memory errors: ptrace's EIO for the process, "read out of bounds" beyond the
  // bytes of a register-assembled (fake address) value.
  auto read_error = [&](std::uint64_t a) -> std::string {
    return is_fake(a) ? "read out of bounds" : "input/output error";
  };
  auto unreadable_at = [&](std::uint64_t a) { fail(read_error(a)); };

  switch (real->kind) {
    case GoKind::bool_: {
      auto b = read_as<std::uint8_t>(addr);
      if (!b)
        return unreadable_at(addr);
      v.value = *b ? "true" : "false";
      return;
    }
    case GoKind::float32: {
      auto f = read_as<float>(addr);
      if (!f)
        return unreadable_at(addr);
      v.value = format_go_float(*f, 32);
      return;
    }
    case GoKind::float64: {
      auto f = read_as<double>(addr);
      if (!f)
        return unreadable_at(addr);
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
        if (!a || !b)
          return unreadable_at(addr);
        re.value = format_go_float(*a, 64);
        im.value = format_go_float(*b, 64);
      } else {
        auto a = read_as<float>(addr), b = read_as<float>(addr + half);
        if (!a || !b)
          return unreadable_at(addr);
        re.value = format_go_float(*a, 32);
        im.value = format_go_float(*b, 32);
      }
      v.len = 2;
      // api.ConvertVar's value: go/constant's complex String, "(re + imi)" with each part
      // printed as %.6g.
      {
        const double a = wide ? *read_as<double>(addr) : *read_as<float>(addr);
        const double b = wide ? *read_as<double>(addr + half) : *read_as<float>(addr + half);
        char buf[96];
        std::snprintf(buf, sizeof buf, "(%.6g + %.6gi)", a, b);
        v.value = buf;
      }
      v.children = {std::move(re), std::move(im)};
      return;
    }
    case GoKind::string: {
      // Delve's readStringInfo (length first), then readStringValue.
      const auto len_at = addr + field_offset(real, "len", 8);
      const auto data_at = addr + field_offset(real, "str", 0);
      auto len = read_as<std::int64_t>(len_at);
      if (!len)
        return fail("could not read string len " + read_error(len_at));
      if (*len < 0)
        return fail("invalid length: " + std::to_string(*len));
      auto data = read_as<std::uint64_t>(data_at);
      if (!data)
        return fail("could not read string pointer " + read_error(data_at));
      if (*data == 0) {
        // Delve's readStringInfo: a nil data pointer is the empty string whatever the
        // length says (e.g. an optimized caller frame whose `str` piece is optimized out).
        v.value = std::string();
        return;
      }
      v.base = *data;
      v.len = *len;
      const auto n = static_cast<std::size_t>(
          std::max<std::int64_t>(0, std::min<std::int64_t>(*len, cfg.max_string_len)));
      std::string s(n, '\0');
      if (n && !read(*data, std::as_writable_bytes(std::span(s.data(), n)))) {
        char at[40];
        std::snprintf(at, sizeof at, "%#llx", static_cast<unsigned long long>(*data));
        return fail(std::string("could not read string at ") + at + " due to " + read_error(*data));
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
        if (!data || !len || !cap)
          return unreadable_at(addr);
        base = *data;
        v.len = *len;
        v.cap = *cap;
        if (!elem) {
          // Go's DWARF names the element through the `array` field's pointer type.
          if (const auto* f = real->field("array"); f && f->type)
            elem = f->type->resolved()->elem;
        }
      } else {
        v.len = static_cast<std::int64_t>(real->count);
        v.cap = -1;  // Delve reports -1 for arrays
      }
      v.base = base;
      if (v.len < 0)
        return fail("Negative array length");
      if (base == 0 && v.len > 0)
        return fail("non-zero length array with nil base");
      // Delve's loadArrayValues loads elements whatever the recursion level (a struct
      // element beyond it then has no children).
      if (!elem)
        return;
      const auto n = std::min<std::int64_t>(v.len, cfg.max_array_values);
      const auto esize = elem->resolved()->size;
      int errors = 0;
      for (std::int64_t i = 0; i < n; ++i) {
        Variable child;
        child.addr = base + static_cast<std::uint64_t>(i) * esize;
        load_value(child, elem, recurse + 1, cfg);
        if (!child.unreadable.empty())
          ++errors;
        v.children.push_back(std::move(child));
        if (errors > kMaxErrCount)
          break;
      }
      return;
    }
    case GoKind::struct_: {
      v.len = static_cast<std::int64_t>(real->fields.size());
      if (recurse > cfg.max_variable_recurse)
        return;
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
      if (real->name == "time.Time")
        format_time(v, real);
      return;
    }
    case GoKind::ptr:
    case GoKind::unsafe_pointer: {
      // Delve's loadPtr: always one child (the pointee), value = its address in decimal.
      auto p = read_as<std::uint64_t>(addr);
      v.len = 1;
      Variable child;
      const dwarf::Type* elem = real->kind == GoKind::ptr ? real->elem : nullptr;
      if (!p) {
        unreadable_at(addr);
        child.unreadable = "parent pointer unreadable: " + v.unreadable;
        v.children.push_back(std::move(child));
        return;
      }
      child.addr = *p;
      v.value = std::to_string(*p);
      if (!elem) {
        // unsafe.Pointer (or *void): the pointee has no type, Delve says "void".
        child.type = child.real_type = "void";
        if (cfg.follow_pointers) {
          if (*p != 0)
            child.unreadable = "unknown or unsupported kind: \"invalid\"";
        } else {
          child.only_addr = true;
        }
        v.children.push_back(std::move(child));
        return;
      }
      child.type = type_name(elem);
      child.real_type = type_name(elem->resolved());
      child.kind = api_kind(elem->resolved()->kind);
      if (elem->resolved()->kind == GoKind::array) {
        // Delve's newVariable gives an array its length before any load (a nil pointer's
        // or an unfollowed pointer's pointee included).
        child.len = static_cast<std::int64_t>(elem->resolved()->count);
        child.cap = -1;
        child.base = child.addr;
      }
      if (cfg.follow_pointers) {
        if (*p != 0) {
          // Pointers do not add a recursion level, except to interfaces (cycles).
          const int next =
              child.kind == static_cast<int>(GoKind::interface) ? recurse + 1 : recurse;
          load_value(child, elem, next, cfg);
        }
      } else {
        child.only_addr = true;
      }
      v.children.push_back(std::move(child));
      return;
    }
    case GoKind::map:
      return load_map(v, real, recurse, cfg);
    case GoKind::interface:
      return load_interface(v, real, recurse, cfg);
    case GoKind::func: {
      // Delve's readFunctionPtr: the funcval is read through the variable's own memory, so
      // a func value assembled from registers cannot be followed ("read out of bounds").
      auto fv = read_as<std::uint64_t>(addr);
      if (!fv)
        return unreadable_at(addr);
      if (*fv == 0)
        return;
      if (is_fake(addr) && !is_fake(*fv))
        return fail("read out of bounds");
      auto entry = read_as<std::uint64_t>(*fv);
      if (!entry)
        return unreadable_at(*fv);
      v.base = *entry;
      v.value = function_name_at(*entry);
      if (v.value.empty()) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "could not find function for %#llx",
                      static_cast<unsigned long long>(*entry));
        v.unreadable = buf;
      }
      return;
    }
    case GoKind::chan:
      return load_chan(v, real);
    default:
      break;
  }
  if (is_int(real->kind) || is_uint(real->kind)) {
    std::uint64_t raw = 0;
    const auto size = std::min<std::uint64_t>(real->size ? real->size : 8, 8);
    if (!read(addr, std::as_writable_bytes(std::span(&raw, 1)).first(size))) {
      return unreadable_at(addr);
    }
    std::int64_t n = 0;
    if (is_int(real->kind)) {
      const unsigned shift = static_cast<unsigned>(64 - size * 8);
      n = static_cast<std::int64_t>(raw << shift) >> shift;
      v.value = std::to_string(n);
    } else {
      n = static_cast<std::int64_t>(raw);
      v.value = std::to_string(raw);
    }
    // Delve's ConstDescr (applied by api.ConvertVar): only for user-defined types.
    if ((v.flags & kFlagConstant) == 0 && type->name.find('.') != std::string::npos &&
        !type->name.starts_with("C.")) {
      const auto consts = bi_.debug().constants_of_type(type);
      if (!consts.empty()) {
        if (auto d = const_descr(consts, type->name, n); !d.empty())
          v.value = d + " (" + v.value + ")";
      }
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
  if (*first == 0) {
    // nil interface: Delve dereferences the data word as `void` (kind Invalid, no name).
    data.type = data.real_type = "void";
    data.addr = read_as<std::uint64_t>(v.addr + data_off).value_or(0);
    if (data.addr != 0)  // loadValueInternal of a void at a non-zero address
      data.unreadable = "unknown or unsupported kind: \"invalid\"";
    v.children.push_back(std::move(data));
    return;
  }
  data.name = "data";
  std::uint64_t rtype = *first;
  if (!empty) {
    auto t = read_as<std::uint64_t>(*first + 8);
    if (!t) {
      v.unreadable = "could not resolve interface type";
      return;
    }
    rtype = *t;
  }
  const dwarf::Type* dyn = bi_.debug().type_by_runtime_type(rtype - bi_.load_bias());
  if (!dyn) {
    v.unreadable = "could not resolve interface type";
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
    data.kind = api_kind(dyn->resolved()->kind);
    data.only_addr = true;
  }
  v.children.push_back(std::move(data));
}

void ValueLoader::load_map(Variable& v, const dwarf::Type* real, int recurse,
                           const LoadConfig& cfg) {
  // A map variable is a pointer to runtime.hmap (DWARF: *hash<K,V>).
  auto h = read_as<std::uint64_t>(v.addr);
  if (!h) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "could not read %#llx", static_cast<unsigned long long>(v.addr));
    v.unreadable = buf;
    return;
  }
  v.base = *h;
  if (*h == 0)
    return;
  const dwarf::Type* hmap = real->underlying ? real->underlying->resolved() : nullptr;
  if (hmap && hmap->kind == GoKind::ptr && hmap->elem)
    hmap = hmap->elem->resolved();
  auto count = read_as<std::int64_t>(*h + field_offset(hmap, "count", 0));
  if (!count) {
    v.unreadable = "could not read map";
    return;
  }
  v.len = *count;
  // Beyond the recursion limit Delve loads only the length, so that clients know the map
  // is not empty.
  if (recurse > cfg.max_variable_recurse || v.len == 0 || cfg.max_array_values == 0)
    return;
  const auto* bfield = hmap ? hmap->field("buckets") : nullptr;
  if (!bfield || !bfield->type || !bfield->type->resolved()->elem) {
    v.unreadable = "malformed map type: buckets, oldbuckets or overflow field not a struct";
    return;
  }
  const dwarf::Type* bucket = bfield->type->resolved()->elem->resolved();
  const auto* tophash_f = bucket->field("tophash");
  const auto* keys_f = bucket->field("keys");
  const auto* values_f = bucket->field("values");
  const auto* overflow_f = bucket->field("overflow");
  if (!tophash_f || !keys_f || !values_f || !overflow_f) {
    v.unreadable = "malformed map type";
    return;
  }
  const dwarf::Type* key_t = keys_f->type->resolved()->elem;
  const dwarf::Type* val_t = values_f->type->resolved()->elem;
  const std::uint64_t slots = tophash_f->type->resolved()->count;
  const std::uint64_t ksize = key_t ? key_t->resolved()->size : 0;
  const std::uint64_t vsize = val_t ? val_t->resolved()->size : 0;
  auto b_log = read_as<std::uint8_t>(*h + field_offset(hmap, "B", 9));
  auto buckets = read_as<std::uint64_t>(*h + field_offset(hmap, "buckets", 16));
  auto oldbuckets = read_as<std::uint64_t>(*h + field_offset(hmap, "oldbuckets", 24));
  if (!b_log || !buckets || !oldbuckets) {
    v.unreadable = "could not read map";
    return;
  }
  const std::uint64_t nbuckets = std::uint64_t{1} << *b_log;
  const std::uint64_t oldmask = *b_log ? (std::uint64_t{1} << (*b_log - 1)) - 1 : 0;
  auto evacuated = [&](std::uint64_t b) {
    if (b == 0)
      return true;
    auto t0 = read_as<std::uint8_t>(b + tophash_f->offset);
    if (!t0)
      return true;
    return *t0 > kEmptyOne && *t0 < kMinTopHash;
  };
  int count_loaded = 0, errors = 0;
  auto visit_bucket = [&](std::uint64_t b) {
    // Returns false when enough entries were loaded.
    for (; b != 0; b = read_as<std::uint64_t>(b + overflow_f->offset).value_or(0)) {
      for (std::uint64_t i = 0; i < slots; ++i) {
        auto th = read_as<std::uint8_t>(b + tophash_f->offset + i);
        if (!th) {
          v.unreadable = "unreadable tophash";
          return false;
        }
        if (*th == kEmptyRest || *th == kEmptyOne)
          continue;
        Variable key, val;
        key.addr = b + keys_f->offset + i * ksize;
        val.addr = vsize ? b + values_f->offset + i * vsize : b + values_f->offset;
        load_value(key, key_t, recurse + 1, cfg);
        load_value(val, val_t, recurse + 1, cfg);
        if (!key.unreadable.empty() || !val.unreadable.empty())
          ++errors;
        v.children.push_back(std::move(key));
        v.children.push_back(std::move(val));
        ++count_loaded;
        if (errors > kMaxErrCount || count_loaded >= cfg.max_array_values ||
            count_loaded >= v.len) {
          return false;
        }
      }
    }
    return true;
  };
  const std::uint64_t bsize = bucket->size;
  for (std::uint64_t bidx = 0; bidx < nbuckets; ++bidx) {
    std::uint64_t b = *buckets + bidx * bsize;
    if (*oldbuckets != 0) {
      // Growing: an unevacuated old bucket holds the entries of two new buckets; visit it
      // once, from the first of them (runtime/map.go mapiternext, as Delve does).
      const std::uint64_t oldbidx = bidx & oldmask;
      const std::uint64_t oldb = *oldbuckets + oldbidx * bsize;
      if (!evacuated(oldb)) {
        if (oldbidx != bidx)
          continue;
        b = oldb;
      }
    }
    if (!visit_bucket(b))
      return;
  }
}

void ValueLoader::load_chan(Variable& v, const dwarf::Type* real) {
  // A chan variable is a pointer to runtime.hchan (DWARF: *hchan<T>); Delve shows the
  // hchan fields as children, always with loadFullValue, `buf` retyped as *[dataqsiz]T.
  auto c = read_as<std::uint64_t>(v.addr);
  if (!c) {
    v.unreadable = "could not read channel";
    return;
  }
  v.base = *c;
  if (*c == 0)
    return;
  const dwarf::Type* hchan = real->underlying ? real->underlying->resolved() : nullptr;
  if (hchan && hchan->kind == GoKind::ptr && hchan->elem)
    hchan = hchan->elem->resolved();
  if (!hchan || hchan->fields.size() < 2) {
    v.unreadable = "bad channel type";
    return;
  }
  auto dataqsiz = read_as<std::uint64_t>(*c + hchan->fields[1].offset);
  if (!dataqsiz) {
    v.unreadable = "unreadable length: could not read channel";
    return;
  }
  const dwarf::Type* buf_t = pointer_to(array_of(real->elem, *dataqsiz));
  v.len = static_cast<std::int64_t>(hchan->fields.size());
  for (const auto& f : hchan->fields) {
    Variable child;
    child.name = f.name;
    child.addr = *c + f.offset;
    load_value(child, f.name == "buf" ? buf_t : f.type, 1, kFullLoad);
    v.children.push_back(std::move(child));
  }
}

std::optional<std::uint64_t> ValueLoader::locate(const dwarf::Variable& var, std::uint64_t pc,
                                                 std::uint64_t cfa, const RegisterFn& regs,
                                                 bool* fake, std::string* error) {
  *fake = false;
  auto expr = var.location.at(dwarf::FileAddr(pc - bi_.load_bias()));
  if (!expr) {
    if (var.location.is_list) {
      // Delve's locationExpr: no entry of the list covers the pc.
      char buf[96];
      std::snprintf(buf, sizeof buf, "could not find loclist entry at %#llx for address %#llx",
                    static_cast<unsigned long long>(var.location.list_offset),
                    static_cast<unsigned long long>(pc));
      *error = buf;
    } else {
      *error = "empty OP stack";
    }
    return std::nullopt;
  }
  if (!var.location.present && !var.location.is_list) {
    // Delve's locationExpr: entry.Val(AttrLocation) == nil.
    *error = "no location attribute Location";
    return std::nullopt;
  }
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
    *error = e.what();
    return std::nullopt;
  }
  if (pieces.empty()) {
    *error = "empty OP stack";
    return std::nullopt;
  }
  if (pieces.size() == 1 && pieces[0].kind == dwarf::Piece::Kind::memory) {
    return pieces[0].address;
  }
  // Register-resident or split value: assemble its bytes and read it from a fake address.
  const std::uint64_t size = var.type ? var.type->resolved()->size : 8;
  std::vector<std::byte> bytes(std::max<std::uint64_t>(size, 8));
  std::uint64_t off = 0;
  for (const auto& p : pieces) {
    const std::uint64_t n = p.size ? p.size : size;
    if (off + n > bytes.size())
      bytes.resize(off + n);
    switch (p.kind) {
      case dwarf::Piece::Kind::reg: {
        auto r = regs(p.regno);
        if (!r) {
          // Delve's newCompositeMemory on a register the unwinder did not recover (no
          // bytes): the variable still has a fake address (flag), at 0.
          *error = "could not read " + std::to_string(n) + " bytes from register " +
                   std::to_string(p.regno) + " (size: 0)";
          *fake = true;
          return std::nullopt;
        }
        std::memcpy(bytes.data() + off, &*r, std::min<std::uint64_t>(n, 8));
        break;
      }
      case dwarf::Piece::Kind::memory:
        if (!mem_(p.address, std::span(bytes.data() + off, n))) {
          *error = "could not read piece";
          return std::nullopt;
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
  *fake = true;
  return add_fake(std::move(bytes));
}

const dwarf::Type* ValueLoader::resolve_parametric(const dwarf::Type* t, std::uint64_t dict) {
  if (t == nullptr || t->dict_index < 0)
    return t;
  if (dict != 0) {
    const auto entry = dict + static_cast<std::uint64_t>(t->dict_index) * 8;
    if (auto rtype = read_as<std::uint64_t>(entry); rtype && *rtype != 0) {
      if (const auto* real = bi_.debug().type_by_runtime_type(*rtype - bi_.load_bias()))
        return real;
    }
  }
  return t->elem ? t->elem : t;
}

Variable ValueLoader::load_variable(const dwarf::Variable& var_in, std::uint64_t pc,
                                    std::uint64_t cfa, const RegisterFn& regs,
                                    const LoadConfig& cfg, std::uint64_t dict) {
  const dwarf::Variable* vp = &var_in;
  std::optional<dwarf::Variable> resolved;
  if (var_in.type && var_in.type->dict_index >= 0) {
    resolved = var_in;
    resolved->type = resolve_parametric(var_in.type, dict);
    vp = &*resolved;
  }
  const dwarf::Variable& var = *vp;
  Variable v;
  v.name = var.name;
  v.flags = var.is_result ? kFlagReturnArgument : (var.is_parameter ? kFlagArgument : 0);
  v.decl_line = var.decl_line;
  // Every register-resident variable shows Delve's one fake address.
  fakes_.clear();
  next_fake_ = 0;
  if (location_text_)
    v.location_expr = location_text(var.location, pc - bi_.load_bias(), pc);
  bool fake = false;
  std::string error;
  auto addr = locate(var, pc, cfa, regs, &fake, &error);
  if (!addr) {
    v.type = type_name(var.type);
    v.real_type = var.type ? type_name(var.type->resolved()) : std::string();
    v.kind = var.type ? api_kind(var.type->resolved()->kind) : 0;
    v.unreadable = std::move(error);
    if (fake)
      v.flags |= kFlagFakeAddress;
    add_nil_complex_parts(v);
    return v;
  }
  v.addr = *addr;
  if (fake)
    v.flags |= kFlagFakeAddress;
  load_value(v, var.type, 0, cfg);
  fakes_.clear();
  next_fake_ = 0;
  return v;
}

}  // namespace goscope::target

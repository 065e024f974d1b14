// A port of the rules of Delve's service/api/prettyprint.go (single-line mode only), so
// that trace lines read exactly as dlv prints them.
#include "pretty.hpp"

#include <cstdint>
#include <cstdio>

#include "session/json_string.hpp"
#include "target/reflect_kind.hpp"

namespace goscope::session {
namespace {

using K = target::ReflectKind;

K kind_of(const target::Variable& v) {
  return static_cast<K>(v.kind);
}

std::string hex(std::uint64_t x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%#llx", static_cast<unsigned long long>(x));
  return x == 0 ? "0x0" : buf;
}

// fmt's %q of a type name containing '/' (package paths).
std::string maybe_quoted_type(const std::string& t) {
  return t.find('/') != std::string::npos ? go_quote(t) : t;
}

void write_to(std::string& out, const target::Variable& v, bool top, bool include_type);

void write_basic(std::string& out, const target::Variable& v) {
  const K k = kind_of(v);
  if (v.value.empty() && k != K::string) {
    // Go's reflect.Kind.String() names.
    static const char* const names[] = {
        "invalid", "bool",      "int",        "int8",   "int16",  "int32",         "int64",
        "uint",    "uint8",     "uint16",     "uint32", "uint64", "uintptr",       "float32",
        "float64", "complex64", "complex128", "array",  "chan",   "func",          "interface",
        "map",     "ptr",       "slice",      "string", "struct", "unsafe.Pointer"};
    out += "(unknown ";
    out += v.kind >= 0 && v.kind <= 26 ? names[v.kind] : "kind";
    out += ")";
    return;
  }
  if (k == K::complex64 || k == K::complex128) {
    out += "(" + v.children[0].value + " + " + v.children[1].value + "i)";
    return;
  }
  if (k == K::string) {
    // Delve's clients print what JSON-RPC delivered: invalid UTF-8 already U+FFFD, and the
    // "...+N more" counted on that (so it can be negative, as dlv prints it).
    std::string s = json_round_trip(v.value);
    if (static_cast<std::int64_t>(s.size()) != v.len) {
      s += "...+" + std::to_string(v.len - static_cast<std::int64_t>(s.size())) + " more";
    }
    out += go_quote(s);
    return;
  }
  out += v.value;
}

void write_slice_or_array(std::string& out, const target::Variable& v) {
  out += "[";
  for (std::size_t i = 0; i < v.children.size(); ++i) {
    write_to(out, v.children[i], false, false);
    if (i + 1 != v.children.size())
      out += ",";
  }
  if (static_cast<std::int64_t>(v.children.size()) != v.len) {
    if (!v.children.empty()) {
      out +=
          ",...+" + std::to_string(v.len - static_cast<std::int64_t>(v.children.size())) + " more";
    } else {
      out += "...";
    }
  }
  out += "]";
}

void write_struct(std::string& out, const target::Variable& v, bool include_type) {
  if (static_cast<std::int64_t>(v.children.size()) != v.len && v.children.empty()) {
    out += "(*" + maybe_quoted_type(v.type) + ")(" + hex(v.addr) + ")";
    return;
  }
  if (include_type)
    out += v.type + " ";
  out += "{";
  for (std::size_t i = 0; i < v.children.size(); ++i) {
    out += v.children[i].name + ": ";
    write_to(out, v.children[i], false, true);
    if (i + 1 != v.children.size())
      out += ", ";
  }
  if (static_cast<std::int64_t>(v.children.size()) != v.len) {
    out += ",...+" + std::to_string(v.len - static_cast<std::int64_t>(v.children.size())) + " more";
  }
  out += "}";
}

void write_map(std::string& out, const target::Variable& v, bool include_type) {
  if (include_type)
    out += v.type + " ";
  if (v.base == 0 && v.children.empty()) {
    out += "nil";
    return;
  }
  out += "[";
  for (std::size_t i = 0; i + 1 < v.children.size(); i += 2) {
    write_to(out, v.children[i], false, false);
    out += ": ";
    write_to(out, v.children[i + 1], false, false);
    if (i != v.children.size() - 1)
      out += ", ";
  }
  const auto pairs = static_cast<std::int64_t>(v.children.size() / 2);
  if (pairs != v.len) {
    if (!v.children.empty()) {
      out += ",...+" + std::to_string(v.len - pairs) + " more";
    } else {
      out += "...";
    }
  }
  out += "]";
}

void write_interface(std::string& out, const target::Variable& v, bool include_type) {
  if (v.addr == 0) {
    out += "nil";
    return;
  }
  if (v.children.empty()) {
    out += "nil";
    return;
  }
  const auto& data = v.children[0];
  if (include_type) {
    if (kind_of(data) == K::invalid) {
      out += v.type + " ";
      if (data.addr == 0) {
        out += "nil";
        return;
      }
    } else {
      out += v.type + "(" + data.type + ") ";
    }
  }
  if (kind_of(data) == K::ptr) {
    if (data.children.empty()) {
      out += "...";
    } else if (data.children[0].addr == 0) {
      out += "nil";
    } else if (data.children[0].only_addr) {
      out += hex(data.addr);
    } else {
      write_to(out, data, false, !include_type);
    }
  } else if (data.only_addr) {
    out += "*(*" + maybe_quoted_type(v.type) + ")(" + hex(v.addr) + ")";
  } else {
    write_to(out, data, false, !include_type);
  }
}

void write_to(std::string& out, const target::Variable& v, bool top, bool include_type) {
  if (!v.unreadable.empty()) {
    out += "(unreadable " + v.unreadable + ")";
    return;
  }
  if (!top && v.addr == 0 && v.value.empty()) {
    out += include_type && v.type != "void" ? v.type + " nil" : "nil";
    return;
  }
  switch (kind_of(v)) {
    case K::slice:
      if (include_type) {
        out += v.type + " len: " + std::to_string(v.len) + ", cap: " + std::to_string(v.cap) + ", ";
      }
      if (v.base == 0 && v.children.empty()) {
        out += "nil";
        return;
      }
      write_slice_or_array(out, v);
      return;
    case K::array:
      if (include_type)
        out += v.type + " ";
      write_slice_or_array(out, v);
      return;
    case K::ptr:
      if (v.type.empty() || v.children.empty()) {
        out += "nil";
      } else if (v.children[0].only_addr && v.children[0].addr != 0) {
        out += "(" + maybe_quoted_type(v.type) + ")(" + hex(v.children[0].addr) + ")";
      } else {
        out += "*";
        write_to(out, v.children[0], false, include_type);
      }
      return;
    case K::unsafe_pointer:
      out += v.children.empty() ? "unsafe.Pointer(nil)"
                                : "unsafe.Pointer(" + hex(v.children[0].addr) + ")";
      return;
    case K::chan:
      if (v.children.size() < 2) {
        out += v.type + " nil";
      } else {
        out += v.type + " " + v.children[0].value + "/" + v.children[1].value;
      }
      return;
    case K::struct_:
      if (!v.value.empty()) {
        out += v.type + "(" + v.value + ")";
        include_type = false;
      }
      write_struct(out, v, include_type);
      return;
    case K::interface:
      write_interface(out, v, include_type);
      return;
    case K::map:
      write_map(out, v, include_type);
      return;
    case K::func:
      out += v.value.empty() ? "nil" : v.value;
      return;
    default:
      write_basic(out, v);
  }
}

}  // namespace

std::string singleline_string(const target::Variable& v) {
  std::string out;
  write_to(out, v, true, true);
  return out;
}

}  // namespace goscope::session

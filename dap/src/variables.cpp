#include "variables.hpp"

#include <cctype>
#include <cstdio>

#include "session/value_text.hpp"

namespace goscope::dap {
namespace {

// Delve cuts the value of an expandable variable at 256 bytes (maxVarValueLen).
constexpr std::size_t kMaxVarValueLen = 1 << 8;
// Map keys shown as names are cut at 64 bytes and made unique with the key's address.
constexpr std::size_t kMaxMapKeyValueLen = 64;

std::string hex(std::uint64_t x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%#llx", static_cast<unsigned long long>(x));
  return x == 0 ? "0x0" : buf;
}

// fmt's %q of a type name, as Delve builds address expressions `*(*"T")(0xADDR)`.
std::string addr_expr(const api::Variable& v) {
  return "*(*" + session::go_quote_string(v.type) + ")(" + hex(v.addr) + ")";
}

bool is_scalar_key(int k) {
  return k == kind::Bool || (k >= kind::Int && k <= kind::Complex128);
}

bool is_bytes_or_runes(const api::Variable& v) {
  if (v.kind != kind::Slice && v.kind != kind::Array)
    return false;
  const auto elem = v.type.substr(v.type.find(']') + 1);
  return elem == "uint8" || elem == "byte" || elem == "int32" || elem == "rune";
}

// Reloads a value one level deeper through its address (Delve's reloadVariable).
bool reload(DapSession& s, api::Variable& v, std::int64_t goid, int frame) {
  // A value shown while the target runs (a nonstop logpoint's, a trace's) is shown as it
  // was loaded: nothing can be read until the target stops.
  if (s.running())
    return false;
  try {
    auto fresh = s.debugger().eval({goid, frame, 0}, addr_expr(v), kDapLoadConfig);
    fresh.name = v.name;
    v = std::move(fresh);
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

int indexed_count(const api::Variable& v) {
  if (v.kind == kind::Array || v.kind == kind::Slice || v.kind == kind::Map)
    return static_cast<int>(v.len);
  return 0;
}

int named_count(const api::Variable& v) {
  int n = 0;
  if (v.kind == kind::Map && v.len > 0)
    ++n;
  if (is_bytes_or_runes(v))
    ++n;
  return n;
}

void add_type_and_counts(DapSession& s, json::object& out, const api::Variable& v) {
  (void)s;
  if (const int n = named_count(v); n > 0)
    out["namedVariables"] = n;
  if (const int n = indexed_count(v); n > 0)
    out["indexedVariables"] = n;
}

Converted convert_variable(DapSession& s, api::Variable& v, const std::string& expr,
                           std::int64_t goid, int frame, bool full_value, bool no_ref) {
  Converted c;
  c.value = session::singleline_string(v);
  if (!v.unreadable.empty())
    return c;
  bool can_have_ref = false;
  switch (v.kind) {
    case kind::Uint:
    case kind::Uint + 1:
    case kind::Uint + 2:
    case kind::Uint + 3:
    case kind::Uint + 4:
    case kind::Uintptr: {
      // Delve shows unsigned values in decimal and hex ("4837184 = 0x49cf40"); the value
      // it parses is the decimal text (0 when it is not one).
      std::uint64_t n = 0;
      for (char ch : v.value) {
        if (ch < '0' || ch > '9') {
          n = 0;
          break;
        }
        n = n * 10 + static_cast<std::uint64_t>(ch - '0');
      }
      c.value += " = " + hex(n);
      break;
    }
    case kind::UnsafePointer:
      break;
    case kind::Ptr:
      if (!v.children.empty() && v.children[0].addr != 0 && v.children[0].kind != 0) {
        if (v.children[0].only_addr && v.addr != 0 && reload(s, v, goid, frame))
          c.value = session::singleline_string(v);
        if (!v.children.empty() && !v.children[0].only_addr)
          can_have_ref = true;
      }
      break;
    case kind::Slice:
    case kind::Array:
      if (v.len > static_cast<std::int64_t>(v.children.size())) {
        if (v.base != 0 && v.children.empty()) {
          if (reload(s, v, goid, frame))
            c.value = session::singleline_string(v);
        } else if (!s.client.supports_variable_paging) {
          c.value = "(loaded " + std::to_string(v.children.size()) + "/" + std::to_string(v.len) +
                    ") " + c.value;
        }
      }
      if (v.base != 0 && !v.children.empty())
        can_have_ref = true;
      break;
    case kind::Map:
      if (v.len > static_cast<std::int64_t>(v.children.size() / 2)) {
        if (v.children.empty()) {
          if (reload(s, v, goid, frame))
            c.value = session::singleline_string(v);
        } else if (!s.client.supports_variable_paging) {
          c.value = "(loaded " + std::to_string(v.children.size() / 2) + "/" +
                    std::to_string(v.len) + ") " + c.value;
        }
      }
      if (v.base != 0 && !v.children.empty())
        can_have_ref = true;
      break;
    case kind::String:
      break;
    case kind::Interface:
      if (v.addr != 0 && !v.children.empty() && v.children[0].kind != 0 &&
          v.children[0].addr != 0) {
        if (v.children[0].only_addr && reload(s, v, goid, frame))
          c.value = session::singleline_string(v);
        can_have_ref = true;
      }
      break;
    case kind::Complex64:
    case kind::Complex128: {
      // Delve shows the parts as children named real and imaginary.
      const auto part_type = v.kind == kind::Complex64 ? "float32" : "float64";
      std::string re = "0", im = "0";
      const auto& val = v.value;
      // The value is "(re + imi)".
      if (val.size() > 2 && val.front() == '(' && val.back() == ')') {
        const auto inner = val.substr(1, val.size() - 2);
        const auto plus = inner.find(" + ");
        if (plus != std::string::npos) {
          re = inner.substr(0, plus);
          im = inner.substr(plus + 3);
          if (!im.empty() && im.back() == 'i')
            im.pop_back();
        }
      }
      v.children.clear();
      for (const auto& [name, text] : {std::pair{"real", re}, std::pair{"imaginary", im}}) {
        api::Variable part;
        part.name = name;
        part.type = part_type;
        part.kind = v.kind == kind::Complex64 ? kind::Float32 : kind::Float64;
        part.value = text;
        v.children.push_back(std::move(part));
      }
      can_have_ref = true;
      break;
    }
    default:  // struct, func, chan and scalars
      if (!v.children.empty())
        can_have_ref = true;
      break;
  }
  if (can_have_ref && !no_ref) {
    VarRef ref;
    ref.var = v;
    ref.expr = expr;
    ref.goid = goid;
    ref.frame = frame;
    c.ref = s.new_var_ref(std::move(ref));
  }
  if (!full_value && can_have_ref && c.value.size() > kMaxVarValueLen)
    c.value = c.value.substr(0, kMaxVarValueLen) + "...";
  return c;
}

namespace {

json::object make_var(DapSession& s, const std::string& name, const std::string& eval_name,
                      api::Variable& v, const std::string& type, std::int64_t goid, int frame,
                      Converted* pre = nullptr) {
  Converted c = pre != nullptr ? *pre : convert_variable(s, v, eval_name, goid, frame);
  json::object out{{"name", name}, {"value", c.value}};
  if (s.client.supports_variable_type)
    out["type"] = type;
  out["presentationHint"] = json::object{};
  if (!eval_name.empty())
    out["evaluateName"] = eval_name;
  out["variablesReference"] = c.ref;
  add_type_and_counts(s, out, v);
  return out;
}

// Reloads the window [start, start+count) of a slice, array or map (Delve's variables
// request with filter "indexed").
void load_window(DapSession& s, VarRef& ref, int start, int count) {
  auto& v = ref.var;
  if (count <= 0)
    return;
  api::LoadConfig cfg = kDapLoadConfig;
  std::string expr;
  if (v.kind == kind::Map) {
    cfg.max_array_values = count;
    expr = "(" + addr_expr(v) + ")[" + std::to_string(start) + ":]";
  } else {
    expr = "(" + addr_expr(v) + ")[" + std::to_string(start) + ":" + std::to_string(start + count) +
           "]";
  }
  auto fresh = s.debugger().eval({ref.goid, ref.frame, 0}, expr, cfg);
  v.children = std::move(fresh.children);
  ref.start_index = start;
}

}  // namespace

json::array children_of(DapSession& s, VarRef& ref, const std::string& filter, int start,
                        int count) {
  json::array out;
  auto& v = ref.var;
  const auto& expr = ref.expr;
  if (ref.registers) {
    // Delve: names lower case, right-aligned to 6; evaluateName the register's
    // pseudo-variable (_RAX); the value unquoted; a constant's type (reflect.Kind of
    // proc.VariableConstant, which Go prints as "int16").
    for (const auto& c : v.children) {
      std::string name;
      std::string upper;
      for (char ch : c.name) {
        name += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        upper += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      }
      if (name.size() < 6)
        name.insert(0, 6 - name.size(), ' ');
      json::object o{{"name", name}, {"value", c.value}};
      if (s.client.supports_variable_type)
        o["type"] = "int16";
      o["presentationHint"] = json::object{};
      o["evaluateName"] = "_" + upper;
      o["variablesReference"] = 0;
      out.push_back(std::move(o));
    }
    return out;
  }
  const auto type_of = [](const api::Variable& c) { return c.type; };
  const bool indexed_kind = v.kind == kind::Slice || v.kind == kind::Array || v.kind == kind::Map;
  if (filter == "indexed" && indexed_kind && !ref.is_scope)
    load_window(s, ref, start, count);
  // Pseudo-children first (filter "named" or none).
  if (filter != "indexed" && !ref.is_scope) {
    if (v.kind == kind::Map && v.len > 0) {
      out.push_back(json::object{{"name", "len()"},
                                 {"value", std::to_string(v.len)},
                                 {"type", "int"},
                                 {"presentationHint", json::object{}},
                                 {"evaluateName", "len(" + expr + ")"},
                                 {"variablesReference", 0}});
      if (!s.client.supports_variable_type)
        out.back().as_object().erase("type");
    }
    if (is_bytes_or_runes(v)) {
      std::string text;
      for (const auto& c : v.children) {
        const auto n = std::strtoull(c.value.c_str(), nullptr, 10);
        if (v.type.find("int32") != std::string::npos || v.type.find("rune") != std::string::npos) {
          // UTF-8 encode the rune.
          const auto r = static_cast<char32_t>(n);
          if (r < 0x80) {
            text += static_cast<char>(r);
          } else if (r < 0x800) {
            text += static_cast<char>(0xC0 | (r >> 6));
            text += static_cast<char>(0x80 | (r & 0x3F));
          } else if (r < 0x10000) {
            text += static_cast<char>(0xE0 | (r >> 12));
            text += static_cast<char>(0x80 | ((r >> 6) & 0x3F));
            text += static_cast<char>(0x80 | (r & 0x3F));
          } else {
            text += static_cast<char>(0xF0 | (r >> 18));
            text += static_cast<char>(0x80 | ((r >> 12) & 0x3F));
            text += static_cast<char>(0x80 | ((r >> 6) & 0x3F));
            text += static_cast<char>(0x80 | (r & 0x3F));
          }
        } else {
          text += static_cast<char>(n);
        }
      }
      json::object str{{"name", "string()"}, {"value", session::go_quote_string(text)}};
      if (s.client.supports_variable_type)
        str["type"] = "string";
      str["presentationHint"] = json::object{};
      str["evaluateName"] = "string(" + expr + ")";
      str["variablesReference"] = 0;
      out.push_back(std::move(str));
    }
  }
  if (filter == "named" && indexed_kind && !ref.is_scope)
    return out;
  switch (ref.is_scope ? kind::Struct : v.kind) {
    case kind::Map:
      for (std::size_t i = 0; i + 1 < v.children.size(); i += 2) {
        auto& key = v.children[i];
        auto& val = v.children[i + 1];
        const int kv_index = static_cast<int>(i / 2) + ref.start_index;
        const std::string key_expr =
            "(*(*" + session::go_quote_string(key.type) + ")(" + hex(key.addr) + "))";
        std::string val_expr = expr + "[" + key_expr + "]";
        if (is_scalar_key(key.kind)) {
          val_expr = expr + "[" + key.value + "]";
        } else if (key.kind == kind::String &&
                   key.len == static_cast<std::int64_t>(key.value.size())) {
          val_expr = expr + "[" + session::go_quote_string(key.value) + "]";
        }
        auto kc = convert_variable(s, key, key_expr, ref.goid, ref.frame);
        auto vc = convert_variable(s, val, val_expr, ref.goid, ref.frame);
        if (kc.ref > 0 && vc.ref > 0) {
          out.push_back(make_var(s, "[key " + std::to_string(kv_index) + "]", key_expr, key,
                                 type_of(key), ref.goid, ref.frame, &kc));
          out.push_back(make_var(s, "[val " + std::to_string(kv_index) + "]", val_expr, val,
                                 type_of(val), ref.goid, ref.frame, &vc));
        } else {
          std::string kv_type = val.type;
          if (!key.type.empty() && !val.type.empty())
            kv_type = key.type + ": " + val.type;
          json::object o{{"name", kc.value}, {"value", vc.value}};
          if (s.client.supports_variable_type)
            o["type"] = kv_type;
          o["presentationHint"] = json::object{};
          o["evaluateName"] = val_expr;
          if (kc.ref != 0) {
            if (kc.value.size() > kMaxMapKeyValueLen)
              o["name"] = kc.value.substr(0, kMaxMapKeyValueLen) + "... @ " + hex(key.addr);
            o["variablesReference"] = kc.ref;
            add_type_and_counts(s, o, key);
          } else {
            o["variablesReference"] = vc.ref;
            if (vc.ref != 0)
              add_type_and_counts(s, o, val);
          }
          out.push_back(std::move(o));
        }
      }
      break;
    case kind::Slice:
    case kind::Array:
      for (std::size_t i = 0; i < v.children.size(); ++i) {
        const auto idx = std::to_string(ref.start_index + static_cast<int>(i));
        const std::string child_expr = expr + "[" + idx + "]";
        out.push_back(make_var(s, "[" + idx + "]", child_expr, v.children[i],
                               type_of(v.children[i]), ref.goid, ref.frame));
      }
      break;
    default:
      for (auto& c : v.children) {
        std::string child_expr = expr + "." + c.name;
        // ~r0 (unnamed results), .closure fields and the synthetic "(return) x" values of
        // a step have no expression that names them.
        if (!c.name.empty() && (c.name[0] == '~' || c.name[0] == '.' || c.name[0] == '('))
          child_expr.clear();
        else if (ref.is_scope)
          child_expr = c.name;
        else if (expr.empty())
          child_expr.clear();
        else if (v.kind == kind::Interface)
          child_expr = expr + ".(" + c.name + ")";
        else if (v.kind == kind::Ptr)
          child_expr = "(*" + expr + ")";
        else if (v.kind == kind::Complex64 || v.kind == kind::Complex128)
          child_expr.clear();
        std::string name = c.name;
        constexpr std::uint16_t kShadowed = 2;  // Delve's VariableShadowed flag
        if ((c.flags & kShadowed) != 0)
          name = "(" + name + ")";
        out.push_back(make_var(s, name, child_expr, c, type_of(c), ref.goid, ref.frame));
      }
      break;
  }
  return out;
}

}  // namespace goscope::dap

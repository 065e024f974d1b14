#include "session/value_text.hpp"

#include "pretty.hpp"

namespace goscope::session {
namespace {

target::Variable from_api(const api::Variable& v) {
  target::Variable out;
  out.name = v.name;
  out.addr = v.addr;
  out.only_addr = v.only_addr;
  out.type = v.type;
  out.real_type = v.real_type;
  out.flags = v.flags;
  out.kind = v.kind;
  out.value = v.value;
  out.len = v.len;
  out.cap = v.cap;
  out.base = v.base;
  out.unreadable = v.unreadable;
  out.location_expr = v.location_expr;
  out.decl_line = v.decl_line;
  out.children.reserve(v.children.size());
  for (const auto& c : v.children) out.children.push_back(from_api(c));
  return out;
}

}  // namespace

std::string singleline_string(const api::Variable& v) {
  return singleline_string(from_api(v));
}

std::string go_quote_string(std::string_view s) {
  return go_quote(s);
}

}  // namespace goscope::session

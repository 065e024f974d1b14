// variables (children with Delve's names, paging) and setVariable (dap.md §8.3, §9).
#include "../variables.hpp"
#include "../args.hpp"
#include "../errors.hpp"
#include "../session.hpp"
#include "handler.hpp"

namespace goscope::dap {
namespace {

std::optional<json::value> variables(DapSession& s, const json::object& a) {
  const auto id = args::get_int(a, "variablesReference");
  // A trace line's values were loaded at the hit: they can be shown while the target runs.
  if (id < DapSession::kFirstTraceHandle)
    s.require_stopped("variables");
  auto* ref = s.var_ref(id);
  if (ref == nullptr)
    throw std::runtime_error("unknown reference " + std::to_string(id));
  const auto filter = args::get_string(a, "filter");
  const auto start = static_cast<int>(args::get_int(a, "start"));
  const auto count = static_cast<int>(args::get_int(a, "count"));
  // children_of may add references (and so move the handle vector): work on a copy.
  VarRef copy = *ref;
  auto out = children_of(s, copy, filter, start, count);
  return json::object{{"variables", std::move(out)}};
}

std::optional<json::value> set_variable(DapSession& s, const json::object& a) {
  const auto id = args::get_int(a, "variablesReference");
  const auto name = args::get_string(a, "name");
  const auto value = args::get_string(a, "value");
  auto* ref = s.var_ref(id);
  if (ref == nullptr)
    throw std::runtime_error("unknown reference " + std::to_string(id));
  VarRef copy = *ref;
  // Find the child by its display name; its evaluateName is what gets assigned.
  auto children = children_of(s, copy, "", 0, 0);
  std::string eval_name;
  bool found = false;
  for (const auto& c : children) {
    const auto& o = c.as_object();
    if (o.at("name").as_string() == name) {
      found = true;
      if (const auto* e = o.if_contains("evaluateName"))
        eval_name = std::string(e->as_string());
      break;
    }
  }
  if (!found)
    throw std::runtime_error("could not find variable " + name);
  if (eval_name.empty())
    throw std::runtime_error("cannot set the variable without evaluate name");
  // The reference's own goroutine and frame (upstream's fix of 1.20.2's topmost frame).
  s.debugger().set_variable({copy.goid, copy.frame, 0}, eval_name, value);
  return json::object{{"value", value}};
}

}  // namespace

extern const HandlerSpec kVariablesHandler{
    "variables", error_id::unable_to_lookup_variable, "Unable to lookup variable", false, false,
    &variables};
extern const HandlerSpec kSetVariableHandler{
    "setVariable", error_id::unable_to_set_variable, "Unable to set variable", false, true,
    &set_variable};

}  // namespace goscope::dap

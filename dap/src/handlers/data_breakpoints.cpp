// dataBreakpointInfo and setDataBreakpoints (beyond dlv 1.20.2; as Delve 1.26.2 has them):
// "Break on Value Change" on the hardware watchpoints. A data id is "<goid>,<frame>,<expr>":
// the expression that names the variable in the frame it was offered from.
#include "../args.hpp"
#include "../errors.hpp"
#include "../session.hpp"
#include "handler.hpp"

namespace goscope::dap {
namespace {

std::optional<json::value> info(DapSession& s, const json::object& a) {
  const auto ref_id = args::get_int(a, "variablesReference");
  const auto name = args::get_string(a, "name");
  auto fail = [](const std::string& why) -> DapError {
    return DapError(error_id::unable_to_get_data_breakpoint_info,
                    "Could not get data breakpoint info", why);
  };
  std::int64_t goid = -1;
  int frame = 0;
  std::string expr, descr;
  if (auto* ref = s.var_ref(ref_id)) {
    const api::Variable* child = nullptr;
    for (const auto& c : ref->var.children) {
      if (c.name == name) {
        child = &c;
        break;
      }
    }
    if (child == nullptr)
      throw fail("field " + name + " not found");
    if (!child->unreadable.empty())
      throw fail("field " + name + " is unreadable: " + child->unreadable);
    goid = ref->goid;
    frame = ref->frame;
    // The child's evaluateName, as the variables response gives it.
    if (ref->registers || name.empty() || name[0] == '~' || name[0] == '.' || name[0] == '(')
      throw fail(name + " cannot be watched: no expression names it");
    if (ref->is_scope)
      expr = ref->expr.empty() ? name : ref->expr + "." + name;
    else if (!ref->expr.empty() && ref->var.kind == 25 /* struct */)
      expr = ref->expr + "." + name;
    else
      throw fail(name + " cannot be watched: only variables and struct fields can");
    descr = (ref->var.name.empty() ? std::string() : ref->var.name + ".") + name;
  } else {
    if (ref_id != 0)
      throw fail("variable reference " + std::to_string(ref_id) + " unknown");
    if (const auto fid = args::opt_int(a, "frameId")) {
      if (const auto f = s.frame_of(*fid)) {
        goid = f->first;
        frame = f->second;
      }
    }
    expr = name;
    descr = expr;
  }
  std::string why;
  if (!session::Debugger::hardware_watchpoints_available(&why)) {
    // DAP's way to say "not here": no data id, the reason as the description.
    return json::object{{"dataId", nullptr}, {"description", why}};
  }
  return json::object{
      {"dataId", std::to_string(goid) + "," + std::to_string(frame) + "," + expr},
      {"description", descr},
      {"accessTypes", json::array{"read", "write", "readWrite"}},
      {"canPersist", false},
  };
}

std::optional<json::value> set(DapSession& s, const json::object& a) {
  auto& d = s.debugger();
  QuietHalt halt(s);
  std::map<std::string, int> existing = s.data_bps;
  std::map<std::string, int> kept;
  json::array out;
  if (const auto* list = args::opt_array(a, "breakpoints")) {
    for (const auto& e : *list) {
      if (!e.is_object())
        throw ArgumentError("cannot unmarshal " + args::json_kind(e) +
                            " into \"breakpoints\" of type dap.DataBreakpoint");
      const auto& b = e.as_object();
      const auto data_id = args::get_string(b, "dataId");
      const auto access = args::get_string(b, "accessType", "write");
      const auto key = data_id + " " + access;
      json::object r;
      try {
        if (kept.contains(key))
          throw std::runtime_error("breakpoint already exists");
        api::Breakpoint got;
        if (const auto it = existing.find(key); it != existing.end()) {
          got = d.get_breakpoint(it->second, "");
          existing.erase(it);
        } else {
          const auto c1 = data_id.find(',');
          const auto c2 = c1 == std::string::npos ? c1 : data_id.find(',', c1 + 1);
          if (c2 == std::string::npos)
            throw std::runtime_error("malformed data ID: \"" + data_id + "\"");
          std::int64_t goid = 0, frame = 0;
          try {
            goid = static_cast<std::int64_t>(parse_go_int(data_id.substr(0, c1)));
            frame = static_cast<std::int64_t>(parse_go_int(data_id.substr(c1 + 1, c2 - c1 - 1)));
          } catch (const std::exception&) {
            throw std::runtime_error("malformed data ID: \"" + data_id + "\"");
          }
          int type = 0;
          if (access == "read")
            type = 1;
          else if (access == "write")
            type = 2;
          else if (access == "readWrite")
            type = 3;
          else
            throw std::runtime_error("unknown access type: \"" + access + "\"");
          got =
              d.create_watchpoint({goid, static_cast<int>(frame), 0}, data_id.substr(c2 + 1), type);
        }
        got.cond = args::get_string(b, "condition");
        got.hit_cond = args::get_string(b, "hitCondition");
        d.amend_breakpoint(got);
        kept[key] = got.id;
        r["id"] = got.id;
        r["verified"] = true;
        r["line"] = got.line;
        if (!got.file.empty())
          r["source"] = json::object{{"path", s.to_client_path(got.file)}};
      } catch (const std::exception& ex) {
        r = json::object{{"verified", false}, {"message", ex.what()}};
      }
      out.push_back(std::move(r));
    }
  }
  for (const auto& [key, id] : existing) {
    try {
      d.clear_breakpoint(id, "");
    } catch (const std::exception&) {
    }
  }
  s.data_bps = kept;
  return json::object{{"breakpoints", std::move(out)}};
}

}  // namespace

extern const HandlerSpec kDataBreakpointInfoHandler{"dataBreakpointInfo",
                                                    error_id::unable_to_get_data_breakpoint_info,
                                                    "Could not get data breakpoint info",
                                                    false,
                                                    true,
                                                    &info};
extern const HandlerSpec kSetDataBreakpointsHandler{"setDataBreakpoints",
                                                    error_id::unable_to_set_breakpoints,
                                                    "Unable to set or clear breakpoints",
                                                    false,
                                                    false,
                                                    &set};

}  // namespace goscope::dap

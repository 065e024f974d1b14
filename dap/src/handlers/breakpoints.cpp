// setBreakpoints, setFunctionBreakpoints, setInstructionBreakpoints, setExceptionBreakpoints
// (dap.md §10). Each request replaces its whole set; a breakpoint that stays keeps its id and
// is amended. On a multi-client headless server a breakpoint another client left at the same
// place is taken over (amended) rather than refused.
// Served while the target runs: halt, apply, resume (dlv's behaviour, no stopped event).
#include <algorithm>
#include <filesystem>

#include "../args.hpp"
#include "../errors.hpp"
#include "../session.hpp"
#include "../stop_reason.hpp"
#include "../variables.hpp"
#include "handler.hpp"

namespace goscope::dap {
namespace {

struct Wanted {
  std::string cond, hit_cond, log_message;
};

// A breakpoint's source as the client names it (substitutePath, server to client).
json::object source_of(const DapSession& s, const std::string& server_path) {
  const auto path = s.to_client_path(server_path);
  return json::object{{"name", std::filesystem::path(path).filename().string()}, {"path", path}};
}

// The user breakpoint already at `req`'s place (its file and line, or its address), or 0.
int same_place(session::Debugger& d, const api::Breakpoint& req) {
  for (const auto& bp : d.breakpoints(false)) {
    if (bp.id <= 0)
      continue;
    if (!req.file.empty() && bp.file == req.file && bp.line == req.line)
      return bp.id;
    if (req.addr != 0 && (bp.addr == req.addr ||
                          std::find(bp.addrs.begin(), bp.addrs.end(), req.addr) != bp.addrs.end()))
      return bp.id;
  }
  return 0;
}

// Creates or amends one breakpoint; returns its DAP form.
json::object apply_one(DapSession& s, api::Breakpoint req, const Wanted& w,
                       std::map<std::string, int>& existing, const std::string& key,
                       const std::string& loc_expr, std::map<std::string, int>& kept) {
  auto& d = s.debugger();
  json::object out;
  try {
    // A bad format is refused before anything is created. A logpoint's expressions are
    // the breakpoint's `variables`, read by the hitting thread alone (beyond dlv: its hits
    // never stop the other goroutines).
    const bool logpoint = !w.log_message.empty();
    if (logpoint)
      req.variables = parse_log_message(w.log_message).exprs;
    req.cond = w.cond;
    req.hit_cond = w.hit_cond;
    req.tracepoint = logpoint;
    api::Breakpoint got;
    const auto amend = [&](int id) {
      got = d.get_breakpoint(id, "");
      got.cond = w.cond;
      got.hit_cond = w.hit_cond;
      got.tracepoint = req.tracepoint;
      got.variables = req.variables;
      d.amend_breakpoint(got);
    };
    if (auto it = existing.find(key); it != existing.end()) {
      amend(it->second);
      existing.erase(it);
    } else {
      try {
        got = d.create_breakpoint(req, loc_expr, false);
      } catch (const std::exception& e) {
        const auto other = s.server_debugger() != nullptr ? same_place(d, req) : 0;
        if (other == 0)
          throw;
        amend(other);
      }
    }
    kept[key] = got.id;
    d.set_breakpoint_nonstop(got.id, logpoint, kDapLoadConfig);
    if (logpoint)
      s.watch_trace_events();
    if (!w.log_message.empty())
      s.log_messages[got.id] = w.log_message;
    else
      s.log_messages.erase(got.id);
    out["id"] = got.id;
    out["verified"] = true;
    out["source"] = source_of(s, got.file);
    out["line"] = got.line;
  } catch (const std::exception& e) {
    out["verified"] = false;
    out["message"] = e.what();
  }
  return out;
}

Wanted wanted_of(const json::object& b) {
  return {args::get_string(b, "condition"), args::get_string(b, "hitCondition"),
          args::get_string(b, "logMessage")};
}

std::optional<json::value> set_breakpoints(DapSession& s, const json::object& a) {
  const auto* src = args::opt_object(a, "source");
  const std::string path = src != nullptr ? args::get_string(*src, "path") : "";
  if (path.empty())
    throw std::runtime_error("empty file path");
  auto& d = s.debugger();
  QuietHalt halt(s);
  // Current breakpoints of this file, keyed by line.
  std::map<std::string, int> existing = s.source_bps[path];
  std::map<std::string, int> kept;
  json::array out;
  std::set<std::int64_t> seen;
  if (const auto* list = args::opt_array(a, "breakpoints")) {
    for (const auto& e : *list) {
      if (!e.is_object())
        throw ArgumentError("cannot unmarshal " + args::json_kind(e) +
                            " into \"breakpoints\" of type dap.SourceBreakpoint");
      const auto& b = e.as_object();
      const auto line = args::get_int(b, "line");
      if (!seen.insert(line).second) {
        out.push_back(json::object{{"verified", false}, {"message", "breakpoint already exists"}});
        continue;
      }
      api::Breakpoint req;
      req.file = s.to_server_path(path);
      req.line = static_cast<int>(line);
      out.push_back(apply_one(s, req, wanted_of(b), existing, std::to_string(line), "", kept));
    }
  }
  for (const auto& [key, id] : existing) {
    try {
      d.clear_breakpoint(id, "");
    } catch (const std::exception&) {
    }
    s.log_messages.erase(id);
  }
  s.source_bps[path] = kept;
  return json::object{{"breakpoints", std::move(out)}};
}

std::optional<json::value> set_function_breakpoints(DapSession& s, const json::object& a) {
  auto& d = s.debugger();
  QuietHalt halt(s);
  std::map<std::string, int> existing = s.function_bps;
  std::map<std::string, int> kept;
  json::array out;
  if (const auto* list = args::opt_array(a, "breakpoints")) {
    for (const auto& e : *list) {
      if (!e.is_object())
        throw ArgumentError("cannot unmarshal " + args::json_kind(e) +
                            " into \"breakpoints\" of type dap.FunctionBreakpoint");
      const auto& b = e.as_object();
      const auto name = args::get_string(b, "name");
      if (name.empty() || name[0] == '.' || name[0] == '/' || name[0] == '+' || name[0] == '-' ||
          name[0] == '*') {
        out.push_back(json::object{{"verified", false},
                                   {"message", "breakpoint name \"" + name +
                                                   "\" could not be parsed as a function name"}});
        continue;
      }
      // Resolve to the function's entry; the name tags the breakpoint so it can be amended.
      api::Breakpoint req;
      std::vector<api::Location> locs;
      try {
        locs = d.find_location({-1, 0, 0}, name, false);
      } catch (const std::exception& ex) {
        out.push_back(json::object{{"verified", false}, {"message", ex.what()}});
        continue;
      }
      if (locs.empty() || (locs[0].pcs.empty() && locs[0].pc == 0)) {
        out.push_back(
            json::object{{"verified", false}, {"message", "location \"" + name + "\" not found"}});
        continue;
      }
      req.addrs = locs[0].pcs.empty() ? std::vector<std::uint64_t>{locs[0].pc} : locs[0].pcs;
      auto res = apply_one(s, req, wanted_of(b), existing, name, "", kept);
      out.push_back(std::move(res));
    }
  }
  for (const auto& [key, id] : existing) {
    try {
      d.clear_breakpoint(id, "");
    } catch (const std::exception&) {
    }
    s.function_bp_ids.erase(id);
  }
  s.function_bps = kept;
  for (const auto& [key, id] : kept) s.function_bp_ids.insert(id);
  return json::object{{"breakpoints", std::move(out)}};
}

// Instruction breakpoints (the Disassembly view): `instructionReference` is a PC, hex or
// decimal as Go's strconv.ParseInt(s, 0, 64) reads it; offsets are ignored, as by dlv.
std::optional<json::value> set_instruction_breakpoints(DapSession& s, const json::object& a) {
  auto& d = s.debugger();
  QuietHalt halt(s);
  std::map<std::string, int> existing = s.instruction_bps;
  std::map<std::string, int> kept;
  json::array out;
  std::set<std::string> seen;
  if (const auto* list = args::opt_array(a, "breakpoints")) {
    for (const auto& e : *list) {
      if (!e.is_object())
        throw ArgumentError("cannot unmarshal " + args::json_kind(e) +
                            " into \"breakpoints\" of type dap.InstructionBreakpoint");
      const auto& b = e.as_object();
      const auto ref = args::get_string(b, "instructionReference");
      if (!seen.insert(ref).second) {
        out.push_back(json::object{{"verified", false}, {"message", "breakpoint already exists"}});
        continue;
      }
      std::uint64_t addr = 0;
      try {
        addr = parse_go_int(ref);
      } catch (const std::exception& ex) {
        out.push_back(json::object{{"verified", false}, {"message", ex.what()}});
        continue;
      }
      api::Breakpoint req;
      req.addr = addr;
      Wanted w = wanted_of(b);
      w.log_message.clear();  // instruction breakpoints do not log
      out.push_back(apply_one(s, req, w, existing, ref, "", kept));
    }
  }
  for (const auto& [key, id] : existing) {
    try {
      d.clear_breakpoint(id, "");
    } catch (const std::exception&) {
    }
    s.instruction_bp_ids.erase(id);
  }
  s.instruction_bps = kept;
  for (const auto& [key, id] : kept) s.instruction_bp_ids.insert(id);
  return json::object{{"breakpoints", std::move(out)}};
}

std::optional<json::value> set_exception_breakpoints(DapSession&, const json::object&) {
  // dlv 1.20.2: panics and fatal throws always stop; the request is a no-op.
  return json::object{};
}

}  // namespace

extern const HandlerSpec kSetBreakpointsHandler{"setBreakpoints",
                                                error_id::unable_to_set_breakpoints,
                                                "Unable to set or clear breakpoints",
                                                false,
                                                false,
                                                &set_breakpoints};
extern const HandlerSpec kSetFunctionBreakpointsHandler{"setFunctionBreakpoints",
                                                        error_id::unable_to_set_breakpoints,
                                                        "Unable to set or clear breakpoints",
                                                        false,
                                                        false,
                                                        &set_function_breakpoints};
extern const HandlerSpec kSetInstructionBreakpointsHandler{"setInstructionBreakpoints",
                                                           error_id::unable_to_set_breakpoints,
                                                           "Unable to set or clear breakpoints",
                                                           false,
                                                           false,
                                                           &set_instruction_breakpoints};
extern const HandlerSpec kSetExceptionBreakpointsHandler{"setExceptionBreakpoints",
                                                         error_id::unable_to_set_breakpoints,
                                                         "Unable to set or clear breakpoints",
                                                         false,
                                                         false,
                                                         &set_exception_breakpoints};

}  // namespace goscope::dap

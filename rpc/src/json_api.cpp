#include "rpc/json_api.hpp"

#include <cctype>

#include "rpc/codec.hpp"

namespace goscope::rpc {
namespace json = boost::json;

namespace {

bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size())
    return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

json::value u64(std::uint64_t v) {
  return json::value(v);
}

json::array u64s(const std::vector<std::uint64_t>& vs) {
  json::array a;
  for (auto v : vs) a.push_back(u64(v));
  return a;
}

[[noreturn]] void type_error(std::string_view key, const char* want) {
  throw CodecError("json: cannot unmarshal into field " + std::string(key) + " of type " + want);
}

}  // namespace

json::value to_json(const api::LoadConfig& c) {
  return json::object{{"FollowPointers", c.follow_pointers},
                      {"MaxVariableRecurse", c.max_variable_recurse},
                      {"MaxStringLen", c.max_string_len},
                      {"MaxArrayValues", c.max_array_values},
                      {"MaxStructFields", c.max_struct_fields}};
}

json::value to_json(const api::Variable& v) {
  json::object o;
  o["name"] = v.name;
  o["addr"] = u64(v.addr);
  o["onlyAddr"] = v.only_addr;
  o["type"] = v.type;
  o["realType"] = v.real_type;
  o["flags"] = v.flags;
  o["kind"] = v.kind;
  o["value"] = v.value;
  o["len"] = v.len;
  o["cap"] = v.cap;
  // Delve builds the real/imaginary parts of a complex value by hand, without children
  // (null on the wire); every other Variable gets a (possibly empty) array.
  const bool complex = v.kind == 15 || v.kind == 16;
  json::array children;
  for (const auto& c : v.children) {
    json::value cj = to_json(c);
    if (complex)
      cj.as_object()["children"] = nullptr;
    children.push_back(std::move(cj));
  }
  o["children"] = std::move(children);
  o["base"] = u64(v.base);
  o["unreadable"] = v.unreadable;
  o["LocationExpr"] = v.location_expr;
  o["DeclLine"] = v.decl_line;
  return o;
}

json::value to_json(const std::vector<api::Variable>& vs) {
  json::array a;
  for (const auto& v : vs) a.push_back(to_json(v));
  return a;
}

json::value to_json(const api::Function& f) {
  return json::object{{"name", f.name},
                      {"value", u64(f.value)},
                      {"type", 0},
                      {"goType", 0},
                      {"optimized", f.optimized}};
}

namespace {
void put_location(json::object& o, const api::Location& l) {
  o["pc"] = u64(l.pc);
  o["file"] = l.file;
  o["line"] = l.line;
  if (l.function)
    o["function"] = to_json(*l.function);
  if (!l.pcs.empty())
    o["pcs"] = u64s(l.pcs);
}
}  // namespace

json::value to_json(const api::Location& l) {
  json::object o;
  put_location(o, l);
  return o;
}

json::value to_json(const api::Stackframe& f) {
  json::object o;
  put_location(o, f.location);
  // Locals/Arguments are nil in Delve unless they were loaded (Stacktrace with Full).
  o["Locals"] = f.vars_loaded ? to_json(f.locals) : json::value(nullptr);
  o["Arguments"] = f.vars_loaded ? to_json(f.arguments) : json::value(nullptr);
  o["FrameOffset"] = f.frame_offset;
  o["FramePointerOffset"] = f.frame_pointer_offset;
  o["Defers"] = json::array();  // Delve always sends a (possibly empty) list
  if (f.bottom)
    o["Bottom"] = true;
  o["Err"] = f.err;
  return o;
}

json::value to_json(const api::Goroutine& g) {
  json::object o;
  o["id"] = g.id;
  o["currentLoc"] = to_json(g.current_loc);
  o["userCurrentLoc"] = to_json(g.user_current_loc);
  o["goStatementLoc"] = to_json(g.go_statement_loc);
  o["startLoc"] = to_json(g.start_loc);
  o["threadID"] = g.thread_id;
  o["status"] = u64(g.status);
  o["waitSince"] = g.wait_since;
  o["waitReason"] = g.wait_reason;
  o["unreadable"] = g.unreadable;
  if (!g.labels.empty()) {
    json::object labels;
    for (const auto& [k, v] : g.labels) labels[k] = v;
    o["labels"] = std::move(labels);
  }
  return o;
}

json::value to_json(const api::Breakpoint& b) {
  json::object o;
  o["id"] = b.id;
  o["name"] = b.name;
  o["addr"] = u64(b.addr);
  o["addrs"] = u64s(b.addrs);
  json::array pids;
  for (auto p : b.addrpid) pids.push_back(p);
  o["addrpid"] = std::move(pids);
  o["file"] = b.file;
  o["line"] = b.line;
  if (!b.function_name.empty())
    o["functionName"] = b.function_name;
  o["Cond"] = b.cond;
  o["HitCond"] = b.hit_cond;
  o["HitCondPerG"] = b.hit_cond_per_g;
  o["continue"] = b.tracepoint;
  o["traceReturn"] = b.trace_return;
  o["goroutine"] = b.goroutine;
  o["stacktrace"] = b.stacktrace;
  if (!b.variables.empty()) {
    json::array vars;
    for (const auto& v : b.variables) vars.push_back(json::value(v));
    o["variables"] = std::move(vars);
  }
  o["LoadArgs"] = b.load_args ? to_json(*b.load_args) : json::value(nullptr);
  o["LoadLocals"] = b.load_locals ? to_json(*b.load_locals) : json::value(nullptr);
  o["WatchExpr"] = b.watch_expr;
  o["WatchType"] = b.watch_type;
  json::object hits;
  for (const auto& [g, n] : b.hit_count) hits[g] = u64(n);
  o["hitCount"] = std::move(hits);
  o["totalHitCount"] = u64(b.total_hit_count);
  o["disabled"] = b.disabled;
  return o;
}

json::value to_json(const api::BreakpointInfo& i) {
  json::object o;
  if (!i.stacktrace.empty()) {
    json::array st;
    for (const auto& f : i.stacktrace) st.push_back(to_json(f));
    o["stacktrace"] = std::move(st);
  }
  if (i.goroutine)
    o["goroutine"] = to_json(*i.goroutine);
  if (!i.variables.empty())
    o["variables"] = to_json(i.variables);
  if (!i.arguments.empty())
    o["arguments"] = to_json(i.arguments);
  if (!i.locals.empty())
    o["locals"] = to_json(i.locals);
  return o;
}

json::value to_json(const api::Thread& t) {
  json::object o;
  o["id"] = t.id;
  o["pc"] = u64(t.pc);
  o["file"] = t.file;
  o["line"] = t.line;
  if (t.function)
    o["function"] = to_json(*t.function);
  o["goroutineID"] = t.goroutine_id;
  if (t.breakpoint)
    o["breakPoint"] = to_json(*t.breakpoint);
  if (t.breakpoint_info)
    o["breakPointInfo"] = to_json(*t.breakpoint_info);
  o["ReturnValues"] = t.return_values ? to_json(*t.return_values) : json::value(nullptr);
  o["CallReturn"] = t.call_return;
  return o;
}

json::value to_json(const api::DebuggerState& s) {
  json::object o;
  o["Pid"] = s.pid;
  o["TargetCommandLine"] = s.target_command_line;
  o["Running"] = s.running;
  o["Recording"] = false;
  o["CoreDumping"] = false;
  if (s.current_thread)
    o["currentThread"] = to_json(*s.current_thread);
  if (s.selected_goroutine)
    o["currentGoroutine"] = to_json(*s.selected_goroutine);
  if (s.threads) {
    json::array ts;
    for (const auto& t : *s.threads) ts.push_back(to_json(t));
    o["Threads"] = std::move(ts);
  } else {
    o["Threads"] = nullptr;
  }
  o["NextInProgress"] = s.next_in_progress;
  o["WatchOutOfScope"] = nullptr;
  o["exited"] = s.exited;
  o["exitStatus"] = s.exit_status;
  o["When"] = "";
  return o;
}

const json::value* member(const json::value& obj, std::string_view key) {
  const auto* o = obj.if_object();
  if (o == nullptr)
    return nullptr;
  if (auto it = o->find(key); it != o->end())
    return &it->value();
  for (const auto& kv : *o) {
    if (iequal(kv.key(), key))
      return &kv.value();
  }
  return nullptr;
}

std::int64_t get_int(const json::value& obj, std::string_view key, std::int64_t def) {
  const auto* v = member(obj, key);
  if (v == nullptr || v->is_null())
    return def;
  if (v->is_int64())
    return v->get_int64();
  if (v->is_uint64())
    return static_cast<std::int64_t>(v->get_uint64());
  if (v->is_double())
    return static_cast<std::int64_t>(v->get_double());
  type_error(key, "int");
}

std::uint64_t get_uint(const json::value& obj, std::string_view key) {
  const auto* v = member(obj, key);
  if (v == nullptr || v->is_null())
    return 0;
  if (v->is_uint64())
    return v->get_uint64();
  if (v->is_int64() && v->get_int64() >= 0)
    return static_cast<std::uint64_t>(v->get_int64());
  if (v->is_double() && v->get_double() >= 0)
    return static_cast<std::uint64_t>(v->get_double());
  type_error(key, "uint64");
}

bool get_bool(const json::value& obj, std::string_view key) {
  const auto* v = member(obj, key);
  if (v == nullptr || v->is_null())
    return false;
  if (v->is_bool())
    return v->get_bool();
  type_error(key, "bool");
}

std::string get_string(const json::value& obj, std::string_view key) {
  const auto* v = member(obj, key);
  if (v == nullptr || v->is_null())
    return {};
  if (v->is_string())
    return std::string(v->get_string());
  type_error(key, "string");
}

std::vector<std::string> get_strings(const json::value& obj, std::string_view key) {
  std::vector<std::string> out;
  const auto* v = member(obj, key);
  if (v == nullptr || v->is_null())
    return out;
  if (!v->is_array())
    type_error(key, "[]string");
  for (const auto& e : v->get_array()) {
    if (!e.is_string())
      type_error(key, "[]string");
    out.emplace_back(e.get_string());
  }
  return out;
}

std::optional<api::LoadConfig> load_config_from_json(const json::value* v) {
  if (v == nullptr || v->is_null())
    return std::nullopt;
  if (!v->is_object())
    type_error("LoadConfig", "object");
  api::LoadConfig c;
  c.follow_pointers = get_bool(*v, "FollowPointers");
  c.max_variable_recurse = static_cast<int>(get_int(*v, "MaxVariableRecurse"));
  c.max_string_len = static_cast<int>(get_int(*v, "MaxStringLen"));
  c.max_array_values = static_cast<int>(get_int(*v, "MaxArrayValues"));
  c.max_struct_fields = static_cast<int>(get_int(*v, "MaxStructFields"));
  return c;
}

api::EvalScope eval_scope_from_json(const json::value* v) {
  api::EvalScope s;
  if (v == nullptr || v->is_null())
    return s;
  s.goroutine_id = get_int(*v, "GoroutineID");
  s.frame = static_cast<int>(get_int(*v, "Frame"));
  s.deferred_call = static_cast<int>(get_int(*v, "DeferredCall"));
  return s;
}

api::Breakpoint breakpoint_from_json(const json::value& v) {
  api::Breakpoint b;
  if (v.is_null())
    return b;
  if (!v.is_object())
    type_error("Breakpoint", "object");
  b.id = static_cast<int>(get_int(v, "id"));
  b.name = get_string(v, "name");
  b.addr = get_uint(v, "addr");
  if (const auto* a = member(v, "addrs"); a && a->is_array()) {
    for (const auto& e : a->get_array()) {
      if (e.is_uint64())
        b.addrs.push_back(e.get_uint64());
      else if (e.is_int64())
        b.addrs.push_back(static_cast<std::uint64_t>(e.get_int64()));
      else
        type_error("addrs", "[]uint64");
    }
  }
  b.file = get_string(v, "file");
  b.line = static_cast<int>(get_int(v, "line"));
  b.function_name = get_string(v, "functionName");
  b.cond = get_string(v, "Cond");
  b.hit_cond = get_string(v, "HitCond");
  b.hit_cond_per_g = get_bool(v, "HitCondPerG");
  b.tracepoint = get_bool(v, "continue");
  b.trace_return = get_bool(v, "traceReturn");
  b.goroutine = get_bool(v, "goroutine");
  b.stacktrace = static_cast<int>(get_int(v, "stacktrace"));
  b.variables = get_strings(v, "variables");
  b.load_args = load_config_from_json(member(v, "LoadArgs"));
  b.load_locals = load_config_from_json(member(v, "LoadLocals"));
  b.watch_expr = get_string(v, "WatchExpr");
  b.watch_type = static_cast<int>(get_int(v, "WatchType"));
  b.disabled = get_bool(v, "disabled");
  return b;
}

api::DebuggerCommand command_from_json(const json::value& v) {
  api::DebuggerCommand c;
  c.name = get_string(v, "name");
  c.thread_id = static_cast<int>(get_int(v, "threadID"));
  c.goroutine_id = get_int(v, "goroutineID");
  c.return_info_load_config = load_config_from_json(member(v, "ReturnInfoLoadConfig"));
  c.expr = get_string(v, "expr");
  c.unsafe_call = get_bool(v, "unsafeCall");
  return c;
}

}  // namespace goscope::rpc

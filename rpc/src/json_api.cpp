#include "rpc/json_api.hpp"

#include <cctype>
#include <charconv>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <type_traits>

#include "rpc/codec.hpp"
#include "session/json_string.hpp"

namespace goscope::rpc {
namespace json = boost::json;

namespace {

// Every api type is written once, by an emitter template over two sinks: TextOut writes
// Go's encoding/json text straight into a string (the hot path: a State per stop), ValueOut
// builds the boost::json::value that to_json() returns. Both see the same calls in the same
// order, so go_json(to_json(x)) == write_json(x) byte for byte.

/// Go-JSON text. A separator is due unless the text ends where a value starts ('{', '[',
/// ':' or ','): values end in '"', '}', ']', a digit or a letter. Each token goes in with
/// its separator in one append (a State is a few hundred tokens).
class TextOut {
 public:
  explicit TextOut(std::string& s) : s_(s) {}
  void begin_object() { put('{'); }
  void end_object() { s_ += '}'; }
  void begin_array() { put('['); }
  void end_array() { s_ += ']'; }
  void key(std::string_view k) {
    sep();
    session::append_json_string(s_, k);
    s_ += ':';
  }
  /// A key spelled in this file: plain ASCII that needs no escape.
  template <std::size_t N>
  void key(const char (&k)[N]) {
    char buf[N + 3];  // ,"k":
    buf[0] = ',';
    buf[1] = '"';
    std::memcpy(buf + 2, k, N - 1);
    buf[N + 1] = '"';
    buf[N + 2] = ':';
    const std::size_t skip = sep_due() ? 0 : 1;
    s_.append(buf + skip, sizeof buf - skip);
  }
  /// Appends again the text written at [from, to) (an identical value), without a copy.
  void repeat(std::size_t from, std::size_t to) {
    sep();
    const std::size_t at = s_.size();
    s_.resize(at + (to - from));  // no reallocation after this: the source stays put
    std::memcpy(s_.data() + at, s_.data() + from, to - from);
  }
  std::size_t size() const { return s_.size(); }
  void str(std::string_view v) {
    sep();
    session::append_json_string(s_, v);
  }
  void i64(std::int64_t v) { number(v); }
  void u64(std::uint64_t v) { number(v); }
  void boolean(bool b) {
    const bool comma = sep_due();
    const std::string_view t = b ? ",true" : ",false";
    s_.append(t.substr(comma ? 0 : 1));
  }
  void null() {
    const bool comma = sep_due();
    s_.append(std::string_view(",null").substr(comma ? 0 : 1));
  }

 private:
  bool sep_due() const {
    if (s_.empty())
      return false;
    const char c = s_.back();
    return c != '{' && c != '[' && c != ':' && c != ',';
  }
  void sep() {
    if (sep_due())
      s_ += ',';
  }
  void put(char c) {
    if (sep_due()) {
      const char two[2] = {',', c};
      s_.append(two, 2);
    } else {
      s_ += c;
    }
  }
  template <class T>
  void number(T v) {
    char buf[24];
    buf[0] = ',';
    const auto r = std::to_chars(buf + 1, buf + sizeof buf, v);
    const std::size_t skip = sep_due() ? 0 : 1;
    s_.append(buf + skip, r.ptr);
  }
  std::string& s_;
};

/// A boost::json::value with the same shape.
class ValueOut {
 public:
  void begin_object() { stack_.push_back(&put(json::object())); }
  void end_object() { stack_.pop_back(); }
  void begin_array() { stack_.push_back(&put(json::array())); }
  void end_array() { stack_.pop_back(); }
  void key(std::string_view k) { key_ = k; }
  template <std::size_t N>
  void key(const char (&k)[N]) {
    key_.assign(k, N - 1);
  }
  void str(std::string_view v) { put(json::string(v)); }
  void i64(std::int64_t v) { put(json::value(v)); }
  void u64(std::uint64_t v) { put(json::value(v)); }
  void boolean(bool b) { put(json::value(b)); }
  void null() { put(json::value(nullptr)); }
  json::value take() { return std::move(root_); }

 private:
  json::value& put(json::value v) {
    if (stack_.empty()) {
      root_ = std::move(v);
      return root_;
    }
    json::value& top = *stack_.back();
    if (auto* o = top.if_object())
      return o->insert_or_assign(key_, std::move(v)).first->value();
    return top.as_array().emplace_back(std::move(v));
  }
  json::value root_;
  std::vector<json::value*> stack_;  // open containers; a parent is not touched while a
                                     // child is open, so the pointers stay valid
  std::string key_;
};

template <class O>
void emit(O& o, const api::LoadConfig& c) {
  o.begin_object();
  o.key("FollowPointers");
  o.boolean(c.follow_pointers);
  o.key("MaxVariableRecurse");
  o.i64(c.max_variable_recurse);
  o.key("MaxStringLen");
  o.i64(c.max_string_len);
  o.key("MaxArrayValues");
  o.i64(c.max_array_values);
  o.key("MaxStructFields");
  o.i64(c.max_struct_fields);
  o.end_object();
}

// `null_children`: a part of a complex value, which Delve builds by hand without children.
template <class O>
void emit(O& o, const api::Variable& v, bool null_children = false) {
  o.begin_object();
  o.key("name");
  o.str(v.name);
  o.key("addr");
  o.u64(v.addr);
  o.key("onlyAddr");
  o.boolean(v.only_addr);
  o.key("type");
  o.str(v.type);
  o.key("realType");
  o.str(v.real_type);
  o.key("flags");
  o.u64(v.flags);
  o.key("kind");
  o.i64(v.kind);
  o.key("value");
  o.str(v.value);
  o.key("len");
  o.i64(v.len);
  o.key("cap");
  o.i64(v.cap);
  // Delve builds the real/imaginary parts of a complex value by hand, without children
  // (null on the wire); every other Variable gets a (possibly empty) array.
  o.key("children");
  if (null_children) {
    o.null();
  } else {
    const bool complex = v.kind == 15 || v.kind == 16;
    o.begin_array();
    for (const auto& c : v.children) emit(o, c, complex);
    o.end_array();
  }
  o.key("base");
  o.u64(v.base);
  o.key("unreadable");
  o.str(v.unreadable);
  o.key("LocationExpr");
  o.str(v.location_expr);
  o.key("DeclLine");
  o.i64(v.decl_line);
  o.end_object();
}

template <class O>
void emit(O& o, const std::vector<api::Variable>& vs) {
  o.begin_array();
  for (const auto& v : vs) emit(o, v);
  o.end_array();
}

// Delve's api.TracepointResult (functionName, inputParams and returnParams omitempty).
template <class O>
void emit(O& o, const api::TracepointResult& r) {
  o.begin_object();
  o.key("addr");
  o.u64(r.addr);
  o.key("file");
  o.str(r.file);
  o.key("line");
  o.i64(r.line);
  o.key("is_ret");
  o.boolean(r.is_ret);
  if (!r.function_name.empty()) {
    o.key("functionName");
    o.str(r.function_name);
  }
  o.key("goroutineID");
  o.i64(r.goroutine_id);
  if (!r.input_params.empty()) {
    o.key("inputParams");
    emit(o, r.input_params);
  }
  if (!r.return_params.empty()) {
    o.key("returnParams");
    emit(o, r.return_params);
  }
  o.end_object();
}

template <class O>
void emit(O& o, const api::Function& f) {
  o.begin_object();
  o.key("name");
  o.str(f.name);
  o.key("value");
  o.u64(f.value);
  o.key("type");
  o.i64(0);
  o.key("goType");
  o.i64(0);
  o.key("optimized");
  o.boolean(f.optimized);
  o.end_object();
}

template <class O>
void emit_u64s(O& o, const std::vector<std::uint64_t>& vs) {
  o.begin_array();
  for (auto v : vs) o.u64(v);
  o.end_array();
}

// The members of a Location (flattened into a Stackframe).
template <class O>
void emit_location_members(O& o, const api::Location& l) {
  o.key("pc");
  o.u64(l.pc);
  o.key("file");
  o.str(l.file);
  o.key("line");
  o.i64(l.line);
  if (l.function) {
    o.key("function");
    emit(o, *l.function);
  }
  if (!l.pcs.empty()) {
    o.key("pcs");
    emit_u64s(o, l.pcs);
  }
  if (!l.pc_pids.empty()) {
    o.key("pcpids");
    o.begin_array();
    for (auto pid : l.pc_pids) o.i64(pid);
    o.end_array();
  }
}

template <class O>
void emit(O& o, const api::Location& l) {
  o.begin_object();
  emit_location_members(o, l);
  o.end_object();
}

template <class O>
void emit(O& o, const api::Stackframe& f) {
  o.begin_object();
  emit_location_members(o, f.location);
  // Locals/Arguments are nil in Delve unless they were loaded (Stacktrace with Full).
  o.key("Locals");
  if (f.vars_loaded)
    emit(o, f.locals);
  else
    o.null();
  o.key("Arguments");
  if (f.vars_loaded)
    emit(o, f.arguments);
  else
    o.null();
  o.key("FrameOffset");
  o.i64(f.frame_offset);
  o.key("FramePointerOffset");
  o.i64(f.frame_pointer_offset);
  o.key("Defers");  // Delve always sends a (possibly empty) list
  o.begin_array();
  for (const auto& d : f.defers) {
    o.begin_object();
    o.key("DeferredLoc");
    emit(o, d.deferred_loc);
    o.key("DeferLoc");
    emit(o, d.defer_loc);
    o.key("SP");
    o.u64(d.sp);
    o.key("Unreadable");
    o.str(d.unreadable);
    o.end_object();
  }
  o.end_array();
  if (f.bottom) {
    o.key("Bottom");
    o.boolean(true);
  }
  o.key("Err");
  o.str(f.err);
  o.end_object();
}

template <class O>
void emit(O& o, const api::Goroutine& g) {
  o.begin_object();
  o.key("id");
  o.i64(g.id);
  o.key("currentLoc");
  emit(o, g.current_loc);
  o.key("userCurrentLoc");
  emit(o, g.user_current_loc);
  o.key("goStatementLoc");
  emit(o, g.go_statement_loc);
  o.key("startLoc");
  emit(o, g.start_loc);
  o.key("threadID");
  o.i64(g.thread_id);
  o.key("status");
  o.u64(g.status);
  o.key("waitSince");
  o.i64(g.wait_since);
  o.key("waitReason");
  o.i64(g.wait_reason);
  o.key("unreadable");
  o.str(g.unreadable);
  if (!g.labels.empty()) {
    o.key("labels");
    o.begin_object();
    for (const auto& [k, v] : g.labels) {
      o.key(k);
      o.str(v);
    }
    o.end_object();
  }
  o.end_object();
}

template <class O>
void emit(O& o, const api::Breakpoint& b) {
  o.begin_object();
  o.key("id");
  o.i64(b.id);
  o.key("name");
  o.str(b.name);
  o.key("addr");
  o.u64(b.addr);
  // Delve fills both from the physical breakpoints: nil (null) when there are none.
  o.key("addrs");
  if (b.addrs.empty())
    o.null();
  else
    emit_u64s(o, b.addrs);
  o.key("addrpid");
  if (b.addrpid.empty()) {
    o.null();
  } else {
    o.begin_array();
    for (auto p : b.addrpid) o.i64(p);
    o.end_array();
  }
  o.key("file");
  o.str(b.file);
  o.key("line");
  o.i64(b.line);
  if (!b.function_name.empty()) {
    o.key("functionName");
    o.str(b.function_name);
  }
  o.key("Cond");
  o.str(b.cond);
  o.key("HitCond");
  o.str(b.hit_cond);
  o.key("HitCondPerG");
  o.boolean(b.hit_cond_per_g);
  o.key("continue");
  o.boolean(b.tracepoint);
  o.key("traceReturn");
  o.boolean(b.trace_return);
  o.key("goroutine");
  o.boolean(b.goroutine);
  o.key("stacktrace");
  o.i64(b.stacktrace);
  if (!b.variables.empty()) {
    o.key("variables");
    o.begin_array();
    for (const auto& v : b.variables) o.str(v);
    o.end_array();
  }
  o.key("LoadArgs");
  if (b.load_args)
    emit(o, *b.load_args);
  else
    o.null();
  o.key("LoadLocals");
  if (b.load_locals)
    emit(o, *b.load_locals);
  else
    o.null();
  o.key("WatchExpr");
  o.str(b.watch_expr);
  o.key("WatchType");
  o.i64(b.watch_type);
  if (!b.verbose_descr.empty()) {
    o.key("VerboseDescr");
    o.begin_array();
    for (const auto& d : b.verbose_descr) o.str(d);
    o.end_array();
  }
  o.key("hitCount");
  if (b.no_logical) {
    o.null();
  } else {
    o.begin_object();
    for (const auto& [g, n] : b.hit_count) {
      o.key(g);
      o.u64(n);
    }
    o.end_object();
  }
  o.key("totalHitCount");
  o.u64(b.total_hit_count);
  o.key("disabled");
  o.boolean(b.disabled);
  o.end_object();
}

template <class O>
void emit(O& o, const api::BreakpointInfo& i) {
  o.begin_object();
  if (!i.stacktrace.empty()) {
    o.key("stacktrace");
    o.begin_array();
    for (const auto& f : i.stacktrace) emit(o, f);
    o.end_array();
  }
  if (i.goroutine) {
    o.key("goroutine");
    emit(o, *i.goroutine);
  }
  if (!i.variables.empty()) {
    o.key("variables");
    emit(o, i.variables);
  }
  if (!i.arguments.empty()) {
    o.key("arguments");
    emit(o, i.arguments);
  }
  if (!i.locals.empty()) {
    o.key("locals");
    emit(o, i.locals);
  }
  o.end_object();
}

template <class O>
void emit(O& o, const api::Thread& t) {
  o.begin_object();
  o.key("id");
  o.i64(t.id);
  o.key("pc");
  o.u64(t.pc);
  o.key("file");
  o.str(t.file);
  o.key("line");
  o.i64(t.line);
  if (t.function) {
    o.key("function");
    emit(o, *t.function);
  }
  o.key("goroutineID");
  o.i64(t.goroutine_id);
  if (t.breakpoint) {
    o.key("breakPoint");
    emit(o, *t.breakpoint);
  }
  if (t.breakpoint_info) {
    o.key("breakPointInfo");
    emit(o, *t.breakpoint_info);
  }
  o.key("ReturnValues");
  if (t.return_values)
    emit(o, *t.return_values);
  else
    o.null();
  o.key("CallReturn");
  o.boolean(t.call_return);
  o.end_object();
}

template <class O>
void emit(O& o, const api::DebuggerState& s) {
  o.begin_object();
  o.key("Pid");
  o.i64(s.pid);
  o.key("Running");
  o.boolean(s.running);
  o.key("Recording");
  o.boolean(false);
  o.key("CoreDumping");
  o.boolean(false);
  // The current thread is also one of Threads: its text is written once and copied (the
  // text sink only; a thread equal to it gives the same text).
  std::size_t current_from = 0, current_to = 0;
  if (s.current_thread) {
    o.key("currentThread");
    if constexpr (std::is_same_v<O, TextOut>)
      current_from = o.size();
    emit(o, *s.current_thread);
    if constexpr (std::is_same_v<O, TextOut>)
      current_to = o.size();
  }
  if (s.selected_goroutine) {
    o.key("currentGoroutine");
    emit(o, *s.selected_goroutine);
  }
  o.key("Threads");
  if (s.threads) {
    o.begin_array();
    bool copied = false;
    for (const auto& t : *s.threads) {
      if constexpr (std::is_same_v<O, TextOut>) {
        if (!copied && current_to > current_from && t.id == s.current_thread->id &&
            t == *s.current_thread) {
          o.repeat(current_from, current_to);
          copied = true;
          continue;
        }
      }
      emit(o, t);
    }
    o.end_array();
  } else {
    o.null();
  }
  o.key("NextInProgress");
  o.boolean(s.next_in_progress);
  o.key("WatchOutOfScope");
  if (s.watch_out_of_scope.empty()) {
    o.null();
  } else {
    o.begin_array();
    for (const auto& b : s.watch_out_of_scope) emit(o, b);
    o.end_array();
  }
  o.key("exited");
  o.boolean(s.exited);
  o.key("exitStatus");
  o.i64(s.exit_status);
  o.key("When");
  o.str("");
  o.end_object();
}

// Delve's rpc2.ListGoroutinesOut: the page of goroutines (10,000 of them are 8 MB of text,
// written straight into the reply by write_json), its groups and the next start.
template <class O>
void emit(O& o, const api::GoroutineList& l) {
  o.begin_object();
  o.key("Goroutines");
  o.begin_array();
  for (const auto& g : l.goroutines) emit(o, g);
  o.end_array();
  o.key("Nextg");
  o.i64(l.nextg);
  o.key("Groups");
  if (l.groups) {
    o.begin_array();
    for (const auto& g : *l.groups) {
      o.begin_object();
      o.key("Name");
      o.str(g.name);
      o.key("Offset");
      o.i64(g.offset);
      o.key("Count");
      o.i64(g.count);
      o.key("Total");
      o.i64(g.total);
      o.end_object();
    }
    o.end_array();
  } else {
    o.null();
  }
  o.key("TooManyGroups");
  o.boolean(l.too_many_groups);
  o.end_object();
}

template <class T>
json::value value_of(const T& x) {
  ValueOut o;
  emit(o, x);
  return o.take();
}

}  // namespace

json::value to_json(const api::LoadConfig& c) {
  return value_of(c);
}
json::value to_json(const api::Variable& v) {
  return value_of(v);
}
json::value to_json(const std::vector<api::Variable>& vs) {
  return value_of(vs);
}
json::value to_json(const api::Function& f) {
  return value_of(f);
}
json::value to_json(const api::Location& l) {
  return value_of(l);
}
json::value to_json(const api::Stackframe& f) {
  return value_of(f);
}
json::value to_json(const api::Goroutine& g) {
  return value_of(g);
}
json::value to_json(const api::GoroutineList& l) {
  return value_of(l);
}
json::value to_json(const api::Breakpoint& b) {
  return value_of(b);
}
json::value to_json(const api::BreakpointInfo& i) {
  return value_of(i);
}
json::value to_json(const api::Thread& t) {
  return value_of(t);
}
json::value to_json(const api::DebuggerState& s) {
  return value_of(s);
}

void write_json(std::string& out, const api::Breakpoint& b) {
  TextOut o(out);
  emit(o, b);
}
void write_json(std::string& out, const api::Thread& t) {
  TextOut o(out);
  emit(o, t);
}
void write_json(std::string& out, const api::DebuggerState& s) {
  TextOut o(out);
  emit(o, s);
}
void write_buffered_tracepoints(std::string& out, const std::vector<api::TracepointResult>& rs,
                                std::uint64_t dropped) {
  out.reserve(out.size() + 64 + rs.size() * 512);  // about 480 bytes a result
  TextOut o(out);
  o.begin_object();
  o.key("TracepointResults");
  if (rs.empty()) {
    o.null();  // Go's nil slice
  } else {
    o.begin_array();
    for (const auto& r : rs) emit(o, r);
    o.end_array();
  }
  o.key("Dropped");
  o.u64(dropped);
  o.end_object();
}

void write_json(std::string& out, const api::GoroutineList& l) {
  // About 790 bytes a goroutine (four locations with their functions): one allocation
  // instead of a dozen doublings of an 8 MB string, each copying what was written.
  out.reserve(out.size() + 1024 * (l.goroutines.size() + 1));
  TextOut o(out);
  emit(o, l);
}

const json::value* member(const json::value& obj, std::string_view key) {
  const auto* o = obj.if_object();
  if (o == nullptr)
    return nullptr;
  // Go assigns each key to the field it names (exactly or case-insensitively) in document
  // order, so of several keys naming one field the last counts.
  const json::value* found = nullptr;
  for (const auto& kv : *o) {
    if (go_fold_equal(kv.key(), key))
      found = &kv.value();
  }
  return found;
}

namespace {

[[noreturn]] void unmarshal_error(const json::value& v, std::string_view key,
                                  std::string_view type) {
  throw CodecError("json: cannot unmarshal " + json_value_kind(v, true) + " into Go struct field " +
                   std::string(key) + " of type " + std::string(type));
}

/// The field's value, or nullptr when it is absent or null (Go leaves the field zero).
const json::value* field(const json::value& obj, std::string_view key) {
  const auto* v = member(obj, key);
  return v == nullptr || v->is_null() ? nullptr : v;
}

bool is_go_string(const json::value& v) {
  return v.is_string() && !number_literal(v);
}

std::int64_t as_int64(const json::value& v, std::string_view key, std::string_view type) {
  if (v.is_int64())
    return v.get_int64();
  if (const auto lit = number_literal(v); lit && *lit == "-0")
    return 0;  // strconv.ParseInt("-0") is 0
  unmarshal_error(v, key, type);
}

std::uint64_t as_uint64(const json::value& v, std::string_view key, std::string_view type) {
  if (v.is_uint64())
    return v.get_uint64();
  if (v.is_int64() && v.get_int64() >= 0)
    return static_cast<std::uint64_t>(v.get_int64());
  unmarshal_error(v, key, type);  // strconv.ParseUint refuses "-0" too
}

int saturate(std::int64_t v) {
  if (v > std::numeric_limits<int>::max())
    return std::numeric_limits<int>::max();
  if (v < std::numeric_limits<int>::min())
    return std::numeric_limits<int>::min();
  return static_cast<int>(v);
}

}  // namespace

bool go_fold_equal(std::string_view key, std::string_view name) {
  // encoding/json's foldFunc: ASCII letters fold; 'k' also matches the Kelvin sign U+212A
  // and 's' the long s U+017F. `name` is a plain ASCII field name.
  std::size_t i = 0;
  for (const char n : name) {
    if (i >= key.size())
      return false;
    const char lower = static_cast<char>(std::tolower(static_cast<unsigned char>(n)));
    if (lower == 'k' && key.substr(i, 3) == "\xe2\x84\xaa") {
      i += 3;
      continue;
    }
    if (lower == 's' && key.substr(i, 2) == "\xc5\xbf") {
      i += 2;
      continue;
    }
    if (std::tolower(static_cast<unsigned char>(key[i])) != lower)
      return false;
    ++i;
  }
  return i == key.size();
}

std::int64_t get_int(const json::value& obj, std::string_view key, std::int64_t def) {
  const auto* v = field(obj, key);
  return v == nullptr ? def : as_int64(*v, key, "int");
}

int get_int_sat(const json::value& obj, std::string_view key) {
  return saturate(get_int(obj, key));
}

int get_id(const json::value& obj, std::string_view key, std::string_view not_found) {
  const auto id = get_int(obj, key);
  if (id < std::numeric_limits<int>::min() || id > std::numeric_limits<int>::max())
    throw std::runtime_error(std::string(not_found) + std::to_string(id));
  return static_cast<int>(id);
}

std::uint64_t get_uint(const json::value& obj, std::string_view key) {
  const auto* v = field(obj, key);
  return v == nullptr ? 0 : as_uint64(*v, key, "uint64");
}

unsigned get_uint_bits(const json::value& obj, std::string_view key, unsigned bits,
                       std::string_view type) {
  const auto* v = field(obj, key);
  if (v == nullptr)
    return 0;
  const auto u = as_uint64(*v, key, type);
  if (bits < 64 && u >> bits != 0)
    unmarshal_error(*v, key, type);
  return static_cast<unsigned>(u);
}

bool get_bool(const json::value& obj, std::string_view key) {
  const auto* v = field(obj, key);
  if (v == nullptr)
    return false;
  if (v->is_bool())
    return v->get_bool();
  unmarshal_error(*v, key, "bool");
}

std::string get_string(const json::value& obj, std::string_view key) {
  const auto* v = field(obj, key);
  if (v == nullptr)
    return {};
  if (is_go_string(*v))
    return std::string(v->get_string());
  unmarshal_error(*v, key, "string");
}

std::vector<std::string> get_strings(const json::value& obj, std::string_view key) {
  std::vector<std::string> out;
  const auto* v = field(obj, key);
  if (v == nullptr)
    return out;
  if (!v->is_array())
    unmarshal_error(*v, key, "[]string");
  for (const auto& e : v->get_array()) {
    if (e.is_null())
      out.emplace_back();  // null leaves the element ""
    else if (is_go_string(e))
      out.emplace_back(e.get_string());
    else
      unmarshal_error(e, key, "string");
  }
  return out;
}

std::optional<api::LoadConfig> load_config_from_json(const json::value* v) {
  if (v == nullptr || v->is_null())
    return std::nullopt;
  if (!v->is_object())
    unmarshal_error(*v, "LoadConfig", "api.LoadConfig");
  api::LoadConfig c;
  c.follow_pointers = get_bool(*v, "FollowPointers");
  // Limits: a value beyond int's range means the same as int's extreme.
  c.max_variable_recurse = get_int_sat(*v, "MaxVariableRecurse");
  c.max_string_len = get_int_sat(*v, "MaxStringLen");
  c.max_array_values = get_int_sat(*v, "MaxArrayValues");
  c.max_struct_fields = get_int_sat(*v, "MaxStructFields");
  return c;
}

api::EvalScope eval_scope_from_json(const json::value* v) {
  api::EvalScope s;
  if (v == nullptr || v->is_null())
    return s;
  if (!v->is_object())
    unmarshal_error(*v, "Scope", "api.EvalScope");
  s.goroutine_id = get_int(*v, "GoroutineID");
  s.frame = get_int_sat(*v, "Frame");
  s.deferred_call = get_int_sat(*v, "DeferredCall");
  return s;
}

api::Breakpoint breakpoint_from_json(const json::value& v, BreakpointUse use) {
  api::Breakpoint b;
  if (v.is_null())
    return b;
  if (!v.is_object())
    unmarshal_error(v, "Breakpoint", "api.Breakpoint");
  const auto id = get_int(v, "id");
  b.name = get_string(v, "name");
  b.addr = get_uint(v, "addr");
  if (const auto* a = field(v, "addrs")) {
    if (!a->is_array())
      unmarshal_error(*a, "addrs", "[]uint64");
    for (const auto& e : a->get_array())
      b.addrs.push_back(e.is_null() ? 0 : as_uint64(e, "addrs", "uint64"));
  }
  if (const auto* a = field(v, "addrpid")) {
    if (!a->is_array())
      unmarshal_error(*a, "addrpid", "[]int");
    for (const auto& e : a->get_array()) {
      if (!e.is_null())
        b.addrpid.push_back(saturate(as_int64(e, "addrpid", "int")));
    }
  }
  b.file = get_string(v, "file");
  b.line = get_int_sat(v, "line");
  b.function_name = get_string(v, "functionName");
  b.cond = get_string(v, "Cond");
  b.hit_cond = get_string(v, "HitCond");
  b.hit_cond_per_g = get_bool(v, "HitCondPerG");
  b.tracepoint = get_bool(v, "continue");
  b.trace_return = get_bool(v, "traceReturn");
  b.goroutine = get_bool(v, "goroutine");
  b.stacktrace = get_int_sat(v, "stacktrace");
  b.variables = get_strings(v, "variables");
  b.load_args = load_config_from_json(member(v, "LoadArgs"));
  b.load_locals = load_config_from_json(member(v, "LoadLocals"));
  b.watch_expr = get_string(v, "WatchExpr");
  b.watch_type = static_cast<int>(get_uint_bits(v, "WatchType", 8, "api.WatchType"));
  b.disabled = get_bool(v, "disabled");
  // Breakpoint ids are ints in the session: an id beyond them names no breakpoint (Go's
  // int is 64 bits; Delve looks it up and finds none).
  if (id < std::numeric_limits<int>::min() || id > std::numeric_limits<int>::max()) {
    if (use == BreakpointUse::amend)
      throw std::runtime_error("no breakpoint with id " + std::to_string(id));
    throw std::runtime_error("breakpoint id " + std::to_string(id) + " is out of range");
  }
  b.id = static_cast<int>(id);
  return b;
}

api::DebuggerCommand command_from_json(const json::value& v) {
  api::DebuggerCommand c;
  c.name = get_string(v, "name");
  const auto tid = get_int(v, "threadID");
  c.goroutine_id = get_int(v, "goroutineID");
  c.return_info_load_config = load_config_from_json(member(v, "ReturnInfoLoadConfig"));
  c.expr = get_string(v, "expr");
  c.unsafe_call = get_bool(v, "unsafeCall");
  // Thread ids are ints in the session; a larger one is no thread (switchThread's error;
  // the other commands do not read it).
  if (c.name == "switchThread" &&
      (tid < std::numeric_limits<int>::min() || tid > std::numeric_limits<int>::max()))
    throw std::runtime_error("invalid thread " + std::to_string(tid));
  c.thread_id = saturate(tid);
  return c;
}

}  // namespace goscope::rpc

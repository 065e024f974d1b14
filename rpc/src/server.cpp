#include "rpc/server.hpp"

#include <atomic>
#include <cstdio>
#include <ctime>
#include <deque>
#include <functional>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "log/log.hpp"
#include "rpc/codec.hpp"
#include "rpc/json_api.hpp"
#include "rpc_log.hpp"
#include "session/debugger.hpp"

namespace goscope::rpc {
namespace json = boost::json;

namespace {

/// How a deferred method answers, later and from any thread (implemented by the server).
class DeferredReply {
 public:
  virtual ~DeferredReply() = default;
  /// The "setup done" signal (the connection may dispatch its next request); idempotent.
  virtual void setup_done() = 0;
  /// Answers with the JSON text of `result`, or an error message.
  virtual void respond(std::string result_json, std::optional<std::string> error) = 0;
  /// Answers with a whole response line, starting with `head`.
  virtual void respond_line(std::string_view line) = 0;
  /// `{"id":<the request's id>,"result":`, the start of a successful response line.
  std::string head;
};

/// What a method sees: the debugger, the server's settings, and (async methods) the
/// "setup done" signal that lets the connection read its next request.
struct MethodContext {
  session::Debugger& dbg;
  const ProtocolConfig& cfg;
  std::function<void()> setup_done;
  bool shutdown_after_reply = false;  ///< set by Detach: the server stops after the reply
  /// Deferred methods answer through this (setup_done() is reply->setup_done()).
  std::shared_ptr<DeferredReply> reply;
};

using Handler = std::function<json::value(MethodContext&, const json::value& args)>;
using DeferredHandler = std::function<void(MethodContext&, const json::value& args)>;
/// A sync method that appends its result's JSON text to the reply line itself (a big
/// result, ListGoroutines', written once, without a boost::json::value of it first).
using TextHandler = std::function<void(MethodContext&, const json::value& args, std::string& out)>;
struct Method {
  enum class Kind {
    sync,      ///< runs on a pool thread; the connection's next request waits for its reply
    async,     ///< runs on a pool thread; the next request waits for its setup_done
    deferred,  ///< started on the event loop, answered by whoever finishes it (the
               ///< Debugger's tracer thread) through respond(); the next request waits for
               ///< setup_done
  };
  Kind kind = Kind::sync;
  Handler fn;
  DeferredHandler deferred_fn;
  TextHandler text_fn;  ///< instead of fn (Kind::sync)
  /// Gets a pool thread even when every thread waits for the target (Detach, Restart: they
  /// halt it first, which ends those waits).
  bool overtake = false;
};

/// The message of an exception a method ended with, as the response's error.
std::string error_text(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  } catch (...) {
    return "Internal debugger error: unknown exception";
  }
}

/// A Debugger callback that answers with `{"State": ...}`: the whole response line is
/// written into one buffer of the answering thread (the tracer thread), kept between
/// replies, and handed to the socket from there (no copy of the State text).
session::Debugger::StateCallback state_reply(MethodContext& c) {
  return [reply = c.reply](const api::DebuggerState* st, std::exception_ptr err) {
    if (st == nullptr) {
      reply->respond({}, error_text(err));
      return;
    }
    thread_local std::string line;
    line.clear();
    line.reserve(8192);
    line += reply->head;
    line += "{\"State\":";
    write_json(line, *st);
    line += "},\"error\":null}\n";
    reply->respond_line(line);
  };
}

json::array strings(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) a.push_back(json::value(s));
  return a;
}

std::string base64(const std::vector<std::byte>& data) {
  static const char* tbl = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  auto b = [&](std::size_t k) { return std::to_integer<unsigned>(data[k]); };
  for (; i + 2 < data.size(); i += 3) {
    const unsigned n = (b(i) << 16) | (b(i + 1) << 8) | b(i + 2);
    out += tbl[(n >> 18) & 63];
    out += tbl[(n >> 12) & 63];
    out += tbl[(n >> 6) & 63];
    out += tbl[n & 63];
  }
  if (i + 1 == data.size()) {
    const unsigned n = b(i) << 16;
    out += tbl[(n >> 18) & 63];
    out += tbl[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == data.size()) {
    const unsigned n = (b(i) << 16) | (b(i + 1) << 8);
    out += tbl[(n >> 18) & 63];
    out += tbl[(n >> 12) & 63];
    out += tbl[(n >> 6) & 63];
    out += '=';
  }
  return out;
}

std::string rfc3339_nano(std::int64_t ns) {
  const std::time_t secs = static_cast<std::time_t>(ns / 1'000'000'000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out = buf;
  auto frac = ns % 1'000'000'000;
  if (frac != 0) {
    char fb[16];
    std::snprintf(fb, sizeof fb, ".%09lld", static_cast<long long>(frac));
    std::string f = fb;
    while (f.back() == '0') f.pop_back();
    out += f;
  }
  return out + "Z";
}

constexpr std::string_view kNoBreakpoint = "no breakpoint with id ";

api::LoadConfig cfg_or_default(const json::value& args, std::string_view key) {
  return load_config_from_json(member(args, key)).value_or(api::kDefaultLoadConfig);
}

const std::unordered_map<std::string, Method>& method_table() {
  static const std::unordered_map<std::string, Method> table = [] {
    std::unordered_map<std::string, Method> m;
    using K = Method::Kind;
    auto sync = [&](const std::string& name, Handler h) {
      m["RPCServer." + name] = {K::sync, std::move(h), {}, {}};
    };
    auto async = [&](const std::string& name, Handler h) {
      m["RPCServer." + name] = {K::async, std::move(h), {}, {}};
    };
    auto sync_text = [&](const std::string& name, TextHandler h) {
      m["RPCServer." + name] = {K::sync, {}, {}, std::move(h)};
    };
    auto deferred = [&](const std::string& name, DeferredHandler h) {
      m["RPCServer." + name] = {K::deferred, {}, std::move(h), {}};
    };
    auto unsupported = [&](const std::string& name, const std::string& why) {
      sync(name, [why](MethodContext&, const json::value&) -> json::value {
        throw session::DebuggerError(why);
      });
    };

    // ---- session / process control
    sync("GetVersion", [](MethodContext& c, const json::value&) -> json::value {
      return json::object{{"DelveVersion", "Version: 1.20.2\nBuild: goscope " + c.cfg.version},
                          {"APIVersion", 2},
                          {"Backend", c.dbg.is_core() ? "core" : "native"},
                          {"TargetGoVersion", c.dbg.target_go_version()},
                          {"MinSupportedVersionOfGo", "1.18.0"},
                          {"MaxSupportedVersionOfGo", "1.20.0"}};
    });
    sync("SetApiVersion", [](MethodContext&, const json::value& a) -> json::value {
      const auto v = get_int(a, "APIVersion");
      if (v != 2)
        throw session::DebuggerError("unknown API version");
      return json::object{};
    });
    sync("IsMulticlient", [](MethodContext& c, const json::value&) -> json::value {
      return json::object{{"IsMulticlient", c.cfg.accept_multiclient}};
    });
    sync("ProcessPid", [](MethodContext& c, const json::value&) -> json::value {
      return json::object{{"Pid", c.dbg.pid()}};
    });
    sync("AttachedToExistingProcess", [](MethodContext& c, const json::value&) -> json::value {
      return json::object{{"Answer", c.dbg.attached_to_existing_process()}};
    });
    sync("Recorded", [](MethodContext& c, const json::value&) -> json::value {
      // Delve counts a core file as a recording (core.process.Recorded).
      return json::object{{"Recorded", c.dbg.is_core()}, {"TraceDirectory", ""}};
    });
    sync("LastModified", [](MethodContext& c, const json::value&) -> json::value {
      return json::object{{"Time", rfc3339_nano(c.dbg.last_modified_ns())}};
    });
    sync("CancelNext", [](MethodContext& c, const json::value&) -> json::value {
      c.dbg.cancel_next();
      return json::object{};
    });
    sync("Detach", [](MethodContext& c, const json::value& a) -> json::value {
      c.dbg.detach(get_bool(a, "Kill"));
      c.shutdown_after_reply = true;
      return json::object{};
    });
    m["RPCServer.Detach"].overtake = true;
    // State and Command are answered by the Debugger's tracer thread itself when the
    // target has stopped: no thread waits for them, no hand-off back.
    deferred("State", [](MethodContext& c, const json::value& a) {
      const bool nb = get_bool(a, "NonBlocking");
      c.setup_done();
      c.dbg.state_async(nb, state_reply(c));
    });
    deferred("Command", [](MethodContext& c, const json::value& a) {
      const auto cmd = command_from_json(a);
      c.dbg.command_async(cmd, c.setup_done, state_reply(c));
    });
    async("Restart", [](MethodContext& c, const json::value& a) -> json::value {
      c.setup_done();
      std::optional<std::vector<std::string>> args;
      if (get_bool(a, "ResetArgs"))
        args = get_strings(a, "NewArgs");
      json::array out;
      for (const auto& d : c.dbg.restart(args)) {
        out.push_back(json::object{{"Breakpoint", to_json(d.breakpoint)}, {"Reason", d.reason}});
      }
      return json::object{{"DiscardedBreakpoints", std::move(out)}};
    });
    m["RPCServer.Restart"].overtake = true;

    // ---- breakpoints
    sync("CreateBreakpoint", [](MethodContext& c, const json::value& a) -> json::value {
      const auto* bp = member(a, "Breakpoint");
      auto req = breakpoint_from_json(bp ? *bp : json::value(json::object{}));
      auto out = c.dbg.create_breakpoint(req, get_string(a, "LocExpr"), get_bool(a, "Suspended"));
      return json::object{{"Breakpoint", to_json(out)}};
    });
    sync("ClearBreakpoint", [](MethodContext& c, const json::value& a) -> json::value {
      const auto name = get_string(a, "Name");  // a name wins over the id
      auto bp = c.dbg.clear_breakpoint(name.empty() ? get_id(a, "Id", kNoBreakpoint) : 0, name);
      return json::object{{"Breakpoint", to_json(bp)}};
    });
    sync("ToggleBreakpoint", [](MethodContext& c, const json::value& a) -> json::value {
      const auto name = get_string(a, "Name");
      auto bp = c.dbg.toggle_breakpoint(name.empty() ? get_id(a, "Id", kNoBreakpoint) : 0, name);
      return json::object{{"Breakpoint", to_json(bp)}};
    });
    sync("GetBreakpoint", [](MethodContext& c, const json::value& a) -> json::value {
      const auto name = get_string(a, "Name");
      auto bp = c.dbg.get_breakpoint(name.empty() ? get_id(a, "Id", kNoBreakpoint) : 0, name);
      return json::object{{"Breakpoint", to_json(bp)}};
    });
    sync("AmendBreakpoint", [](MethodContext& c, const json::value& a) -> json::value {
      const auto* bp = member(a, "Breakpoint");
      c.dbg.amend_breakpoint(
          breakpoint_from_json(bp ? *bp : json::value(json::object{}), BreakpointUse::amend));
      return json::object{};
    });
    sync("ListBreakpoints", [](MethodContext& c, const json::value& a) -> json::value {
      json::array out;
      for (const auto& bp : c.dbg.breakpoints(get_bool(a, "All"))) out.push_back(to_json(bp));
      return json::object{{"Breakpoints", std::move(out)}};
    });
    sync("FunctionReturnLocations", [](MethodContext& c, const json::value& a) -> json::value {
      json::array out;
      for (auto addr : c.dbg.function_return_locations(get_string(a, "FnName"))) {
        out.push_back(json::value(addr));
      }
      return json::object{{"Addrs", std::move(out)}};
    });
    sync("CreateWatchpoint", [](MethodContext& c, const json::value& a) -> json::value {
      // CreateWatchpointOut embeds *api.Breakpoint: its fields are the result itself.
      return to_json(
          c.dbg.create_watchpoint(eval_scope_from_json(member(a, "Scope")), get_string(a, "Expr"),
                                  static_cast<int>(get_uint_bits(a, "Type", 8, "api.WatchType"))));
    });
    // Delve's eBPF tracepoints, on goscope's non-stop trace engine (docs/tracing-engines.md,
    // "Buffered tracepoints"). The reply's Breakpoint is always Delve's zero value.
    sync("CreateEBPFTracepoint", [](MethodContext& c, const json::value& a) -> json::value {
      c.dbg.create_ebpf_tracepoint(get_string(a, "FunctionName"));
      return json::object{{"Breakpoint", to_json(api::Breakpoint{})}};
    });
    // Answered while a continue runs (dlv trace --ebpf polls from another goroutine). Beyond
    // Delve's reply: Dropped, the results the bounded buffer dropped since the previous call
    // (Go clients ignore a field they do not know).
    sync_text("GetBufferedTracepoints", [](MethodContext& c, const json::value&, std::string& out) {
      // The results go into the reply line as text (no value tree per result).
      std::uint64_t dropped = 0;
      const auto results = c.dbg.buffered_tracepoints(&dropped);
      write_buffered_tracepoints(out, results, dropped);
    });

    // ---- inspection
    sync("ListThreads", [](MethodContext& c, const json::value&) -> json::value {
      json::array out;
      for (const auto& t : c.dbg.threads()) out.push_back(to_json(t));
      return json::object{{"Threads", std::move(out)}};
    });
    sync("GetThread", [](MethodContext& c, const json::value& a) -> json::value {
      return json::object{{"Thread", to_json(c.dbg.thread(get_id(a, "Id", "no thread with id ")))}};
    });
    sync_text("ListGoroutines", [](MethodContext& c, const json::value& a, std::string& out) {
      std::vector<api::GoroutineFilter> filters;
      if (const auto* fs = member(a, "Filters"); fs != nullptr && !fs->is_null()) {
        if (!fs->is_array())
          throw CodecError("json: cannot unmarshal into field Filters");
        for (const auto& f : fs->get_array()) {
          filters.push_back({static_cast<int>(get_uint_bits(f, "Kind", 8, "api.GoroutineField")),
                             get_string(f, "Arg"), get_bool(f, "Negated")});
        }
      }
      api::GoroutineGrouping grouping;
      grouping.group_by = static_cast<int>(get_uint_bits(a, "GroupBy", 8, "api.GoroutineField"));
      grouping.group_by_key = get_string(a, "GroupByKey");
      grouping.max_group_members = get_int_sat(a, "MaxGroupMembers");
      grouping.max_groups = get_int_sat(a, "MaxGroups");
      const auto list =
          c.dbg.goroutines(get_int_sat(a, "Start"), get_int_sat(a, "Count"), filters, grouping);
      write_json(out, list);
    });
    sync("Stacktrace", [](MethodContext& c, const json::value& a) -> json::value {
      json::array out;
      // Delve's StacktraceReadDefers is Opts bit 0; the older Defers bool means the same.
      const unsigned opts =
          get_uint_bits(a, "Opts", 16, "api.StacktraceOptions") | (get_bool(a, "Defers") ? 1u : 0u);
      const auto frames =
          c.dbg.stacktrace(get_int(a, "Id"), get_int_sat(a, "Depth"), get_bool(a, "Full"),
                           load_config_from_json(member(a, "Cfg")), opts);
      for (const auto& f : frames) out.push_back(to_json(f));
      return json::object{{"Locations", std::move(out)}};
    });
    sync("ListLocalVars", [](MethodContext& c, const json::value& a) -> json::value {
      auto vs =
          c.dbg.local_vars(eval_scope_from_json(member(a, "Scope")), cfg_or_default(a, "Cfg"));
      return json::object{{"Variables", to_json(vs)}};
    });
    sync("ListFunctionArgs", [](MethodContext& c, const json::value& a) -> json::value {
      auto vs =
          c.dbg.function_args(eval_scope_from_json(member(a, "Scope")), cfg_or_default(a, "Cfg"));
      return json::object{{"Args", to_json(vs)}};
    });
    sync("ListPackageVars", [](MethodContext& c, const json::value& a) -> json::value {
      auto vs = c.dbg.package_vars(get_string(a, "Filter"), cfg_or_default(a, "Cfg"));
      return json::object{{"Variables", to_json(vs)}};
    });
    sync("Eval", [](MethodContext& c, const json::value& a) -> json::value {
      auto v = c.dbg.eval(eval_scope_from_json(member(a, "Scope")), get_string(a, "Expr"),
                          cfg_or_default(a, "Cfg"));
      return json::object{{"Variable", to_json(v)}};
    });
    sync("Set", [](MethodContext& c, const json::value& a) -> json::value {
      c.dbg.set_variable(eval_scope_from_json(member(a, "Scope")), get_string(a, "Symbol"),
                         get_string(a, "Value"));
      return json::object{};
    });
    sync("ListRegisters", [](MethodContext& c, const json::value& a) -> json::value {
      std::optional<api::EvalScope> scope;
      if (const auto* sc = member(a, "Scope"); sc != nullptr && !sc->is_null())
        scope = eval_scope_from_json(sc);
      const auto regs = c.dbg.registers(get_id(a, "ThreadID", "couldn't find thread "),
                                        get_bool(a, "IncludeFp"), scope);
      // Delve's api.Registers.String(): names right-aligned to the longest one.
      std::size_t width = 0;
      for (const auto& r : regs) width = std::max(width, r.name.size());
      std::string text;
      json::array out;
      for (const auto& r : regs) {
        text.append(width - r.name.size(), ' ');
        text += r.name;
        text += " = ";
        text += r.value;
        text += '\n';
        out.push_back(
            json::object{{"Name", r.name}, {"Value", r.value}, {"DwarfNumber", r.dwarf_number}});
      }
      return json::object{{"Registers", text}, {"Regs", std::move(out)}};
    });
    sync("ExamineMemory", [](MethodContext& c, const json::value& a) -> json::value {
      const auto address = get_uint(a, "Address");
      // Length is a Go int: all 64 bits count. rpc2's limit in 1.20.2 (HEAD allows 65536).
      const auto length = get_int(a, "Length");
      if (length > 1000)
        throw std::runtime_error("len must be less than or equal to 1000");
      auto mem = c.dbg.examine_memory(address, length < 0 ? -1 : static_cast<int>(length));
      return json::object{{"Mem", base64(mem)}, {"IsLittleEndian", true}};
    });
    sync("FindLocation", [](MethodContext& c, const json::value& a) -> json::value {
      json::array out;
      for (const auto& l :
           c.dbg.find_location(eval_scope_from_json(member(a, "Scope")), get_string(a, "Loc"),
                               get_bool(a, "IncludeNonExecutableLines"))) {
        out.push_back(to_json(l));
      }
      return json::object{{"Locations", std::move(out)}};  // 1.20.2: no SubstituteLocExpr
    });
    sync("ListSources", [](MethodContext& c, const json::value& a) -> json::value {
      return json::object{{"Sources", strings(c.dbg.sources(get_string(a, "Filter")))}};
    });
    sync("ListFunctions", [](MethodContext& c, const json::value& a) -> json::value {
      return json::object{{"Funcs", strings(c.dbg.functions(get_string(a, "Filter")))}};
    });
    sync("ListTypes", [](MethodContext& c, const json::value& a) -> json::value {
      return json::object{{"Types", strings(c.dbg.types(get_string(a, "Filter")))}};
    });
    sync("ListDynamicLibraries", [](MethodContext&, const json::value&) -> json::value {
      return json::object{{"List", json::array{}}};
    });
    sync("ListPackagesBuildInfo", [](MethodContext& c, const json::value& a) -> json::value {
      json::array out;
      for (const auto& p : c.dbg.packages_build_info(get_bool(a, "IncludeFiles"))) {
        out.push_back(json::object{
            {"ImportPath", p.import_path},
            {"DirectoryPath", p.directory_path},
            {"Files", p.files.empty() ? json::value(nullptr) : json::value(strings(p.files))}});
      }
      return json::object{{"List", std::move(out)}};
    });
    sync("Disassemble", [](MethodContext& c, const json::value& a) -> json::value {
      json::array out;
      for (const auto& in :
           c.dbg.disassemble(eval_scope_from_json(member(a, "Scope")), get_uint(a, "StartPC"),
                             get_uint(a, "EndPC"), get_int_sat(a, "Flavour"))) {
        out.push_back(
            json::object{{"Loc", to_json(in.loc)},
                         {"DestLoc", in.dest_loc ? to_json(*in.dest_loc) : json::value(nullptr)},
                         {"Text", in.text},
                         {"Bytes", base64(in.bytes)},
                         {"Breakpoint", in.breakpoint},
                         {"AtPC", in.at_pc}});
      }
      return json::object{{"Disassemble", std::move(out)}};
    });
    unsupported("Ancestors", "Ancestors is not supported yet");
    unsupported("Checkpoint", "checkpoints are only supported on recordings");
    sync("ListCheckpoints", [](MethodContext&, const json::value&) -> json::value {
      return json::object{{"Checkpoints", json::array{}}};
    });
    unsupported("ClearCheckpoint", "checkpoints are only supported on recordings");
    unsupported("StopRecording", "not a recording");
    // ---- Delve's core dump of the stopped process (session/src/debugger_dump.cpp)
    const auto dump_state = [](const session::DumpState& d) -> json::value {
      return json::object{{"State", json::object{{"Dumping", d.dumping},
                                                 {"AllDone", d.all_done},
                                                 {"ThreadsDone", d.threads_done},
                                                 {"ThreadsTotal", d.threads_total},
                                                 {"MemDone", d.mem_done},
                                                 {"MemTotal", d.mem_total},
                                                 {"Err", d.err}}}};
    };
    sync("DumpStart", [dump_state](MethodContext& c, const json::value& a) -> json::value {
      return dump_state(c.dbg.dump_start(get_string(a, "Destination")));
    });
    sync("DumpWait", [dump_state](MethodContext& c, const json::value& a) -> json::value {
      return dump_state(c.dbg.dump_wait(get_int_sat(a, "Wait")));
    });
    sync("DumpCancel", [](MethodContext& c, const json::value&) -> json::value {
      c.dbg.dump_cancel();
      return json::object{};
    });
    unsupported("BuildID", "BuildID is not supported yet");
    return m;
  }();
  return table;
}

// ------------------------------------------------------------------------ connections

/// One JSON-RPC connection. Requests are decoded on the event loop (on_data); the one
/// being set up runs elsewhere (a pool thread, the tracer thread) and says so through
/// finished(), from whatever thread it is on.
///
/// Delve reads a request once the previous one is set up, but its reader goes on reading
/// the socket meanwhile; so does this one: reading is held only while a decoded request
/// waits (back-pressure: one read chunk of requests at most), never while one is being set
/// up. That keeps the event loop out of the round trip: a Continue's setup ends on the
/// tracer thread without waking the loop unless a request is already waiting for it.
class RpcConnection final : public net::ProtocolHandler,
                            public std::enable_shared_from_this<RpcConnection> {
 public:
  RpcConnection(std::shared_ptr<net::Connection> c, session::Debugger& d,
                std::shared_ptr<const ProtocolConfig> pc)
      : conn_(std::move(c)), dbg_(d), cfgp_(std::move(pc)), cfg_(*cfgp_) {}

  void on_data(std::string_view bytes) override {
    if (closed_)
      return;
    std::vector<json::value> got;
    bool broke = false;
    try {
      got = decoder_.feed(bytes);
    } catch (const CodecError&) {
      // Go's codec gives up on the connection after what it decoded before.
      broke = true;
    }
    {
      std::lock_guard lock(mu_);
      if (broken_)
        return;
      for (auto& v : got) queue_.push_back(std::move(v));
      broken_ = broke;
    }
    pump();
  }

  void on_end_of_input(net::Connection&) override {
    {
      std::lock_guard lock(mu_);
      input_ended_ = true;
    }
    pump();
  }

  void on_close() override {
    closed_ = true;
    std::lock_guard lock(mu_);
    queue_.clear();
  }

 private:
  /// A deferred method's answer: its request id and connection.
  struct Reply final : DeferredReply {
    Reply(std::shared_ptr<RpcConnection> h, const json::value& request_id)
        : self(std::move(h)), id(request_id) {
      head = "{\"id\":";
      head += id_json(id);
      head += ",\"result\":";
    }
    void setup_done() override {
      if (!once.exchange(true))
        self->finished();
    }
    // The reply goes out before the setup ends: a request that waited for this one is
    // answered after it.
    void respond(std::string result, std::optional<std::string> error) override {
      self->send(error ? encode_response(id, nullptr, error) : encode_response_text(id, result));
      setup_done();
    }
    void respond_line(std::string_view line) override {
      self->send(std::string(line));
      setup_done();
    }
    std::shared_ptr<RpcConnection> self;
    json::value id;
    std::atomic<bool> once{false};
  };

  // Event loop only. Dispatches queued requests while none is being set up and the client
  // reads its replies; reading is held while a decoded request waits.
  void pump() {
    if (closed_)
      return;
    for (;;) {
      json::value v;
      {
        std::lock_guard lock(mu_);
        if (busy_ || queue_.empty())
          break;
        if (conn_->backlogged()) {
          if (!waiting_writable_) {
            waiting_writable_ = true;
            conn_->when_writable([s = shared_from_this()] {
              s->waiting_writable_ = false;
              s->pump();
            });
          }
          break;
        }
        v = std::move(queue_.front());
        queue_.pop_front();
        busy_ = true;
      }
      bool ok = true;
      try {
        dispatch(parse_request(std::move(v)));
      } catch (const CodecError&) {
        ok = false;
      }
      if (!ok) {
        std::lock_guard lock(mu_);
        broken_ = true;
        busy_ = false;
        queue_.clear();
      }
    }
    bool want_hold = false;
    bool done = false;
    {
      std::lock_guard lock(mu_);
      // What the client sent before its end of stream (or before a codec error) has been
      // set up, as Delve sees the end of the stream only after the last method's setup.
      done = (broken_ || input_ended_) && !busy_ && queue_.empty();
      want_hold = !queue_.empty() || broken_;
    }
    if (done) {
      closed_ = true;
      conn_->close();
      return;
    }
    if (want_hold && !held_) {
      held_ = true;
      conn_->hold();
    } else if (!want_hold && held_) {
      held_ = false;
      conn_->resume();
    }
  }

  // Every response goes out here, so that --log-output=rpc sees each one.
  void send(std::string line) {
    log_.response(line);
    conn_->send(std::move(line));
  }

  // Any thread: the request being set up is; the next may be dispatched. The event loop is
  // woken only when something waits for this (a queued request, the end of input, a codec
  // error).
  void finished() {
    bool wake = false;
    {
      std::lock_guard lock(mu_);
      busy_ = false;
      wake = !queue_.empty() || input_ended_ || broken_;
    }
    if (wake)
      conn_->post([self = shared_from_this()] { self->pump(); });
  }

  // The one place where method errors become error strings. Event loop; busy_ is set.
  void dispatch(const Request& req) {
    const auto& table = method_table();
    auto it = table.find(req.method);
    log_.request(req, it != table.end());
    if (it == table.end()) {
      send(encode_response(req.id, nullptr, "unknown method: " + req.method));
      std::lock_guard lock(mu_);
      busy_ = false;
      return;
    }
    const Method& m = it->second;
    if (m.kind == Method::Kind::deferred) {
      auto reply = std::make_shared<Reply>(shared_from_this(), req.id);
      // The lambda holds `reply` itself (it fits std::function's local buffer: no
      // allocation), so setup_done stays valid whoever outlives whom.
      MethodContext ctx{dbg_, cfg_, [reply] { reply->setup_done(); }, false, reply};
      try {
        m.deferred_fn(ctx, req.params);
      } catch (const CodecError&) {
        reply->setup_done();
        std::lock_guard lock(mu_);
        broken_ = true;
      } catch (const std::exception& e) {
        reply->respond({}, std::string(e.what()));
      } catch (...) {
        reply->respond({}, "Internal debugger error: unknown exception");
      }
      return;
    }
    // sync and async: on a pool thread. The next request waits for the reply (sync) or for
    // setup_done (async).
    auto once = std::make_shared<std::atomic<bool>>(false);
    auto done = [self = shared_from_this(), once] {
      if (!once->exchange(true))
        self->finished();
    };
    auto job = [self = shared_from_this(), req, &m, done]() {
      const bool async = m.kind == Method::Kind::async;
      MethodContext ctx{self->dbg_, self->cfg_, async ? std::function<void()>(done) : [] {}, false,
                        nullptr};
      std::string reply;
      bool codec_error = false;
      try {
        if (m.text_fn) {
          reply = "{\"id\":";
          reply += id_json(req.id);
          reply += ",\"result\":";
          m.text_fn(ctx, req.params, reply);
          reply += ",\"error\":null}\n";
        } else {
          reply = encode_response(req.id, m.fn(ctx, req.params), std::nullopt);
        }
      } catch (const CodecError&) {
        codec_error = true;
      } catch (const std::exception& e) {
        reply = encode_response(req.id, nullptr, std::string(e.what()));
      } catch (...) {
        reply = encode_response(req.id, nullptr, "Internal debugger error: unknown exception");
      }
      if (codec_error) {
        std::lock_guard lock(self->mu_);
        self->broken_ = true;
      } else {
        self->send(std::move(reply));
      }
      done();
      if (ctx.shutdown_after_reply)
        self->conn_->server().stop();
    };
    if (!conn_->server().pool().submit(std::move(job), m.overtake)) {
      // Shutting down: nobody will serve it.
      std::lock_guard lock(mu_);
      busy_ = false;
    }
  }

  std::shared_ptr<net::Connection> conn_;
  session::Debugger& dbg_;
  std::shared_ptr<const ProtocolConfig> cfgp_;  // outlives the server (replies may come late)
  const ProtocolConfig& cfg_;
  RpcLog log_;  ///< --log-output=rpc: this connection's requests and responses

  // Event loop only.
  StreamDecoder decoder_;
  bool held_ = false;
  bool closed_ = false;
  bool waiting_writable_ = false;

  // Shared with the thread that sets a request up (finished()).
  std::mutex mu_;
  std::deque<json::value> queue_;
  bool busy_ = false;         ///< a request is not set up yet
  bool broken_ = false;       ///< a codec error: close once what came before is served
  bool input_ended_ = false;  ///< the client sends no more: close once what it sent is served
};

}  // namespace

net::Protocol json_rpc_protocol(session::Debugger& dbg, ProtocolConfig cfg) {
  auto shared = std::make_shared<const ProtocolConfig>(std::move(cfg));
  net::Protocol p;
  p.name = "json-rpc";
  p.sniff = [](std::string_view) { return net::Sniff::match; };
  p.open = [&dbg, shared](const std::shared_ptr<net::Connection>& c) {
    log::debug(log::Layer::rpc, "serving JSON-RPC on new connection");
    auto h = std::make_shared<RpcConnection>(c, dbg, shared);
    return std::static_pointer_cast<net::ProtocolHandler>(h);
  };
  return p;
}

}  // namespace goscope::rpc

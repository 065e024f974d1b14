#include "rpc/server.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio.hpp>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <deque>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>
#include <thread>
#include <unordered_map>

#include "rpc/codec.hpp"
#include "rpc/json_api.hpp"
#include "session/debugger.hpp"

namespace goscope::rpc {
namespace json = boost::json;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

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
  const ServerConfig& cfg;
  std::function<void()> setup_done;
  bool shutdown_after_reply = false;  ///< set by Detach: the server stops after the reply
  /// Deferred methods answer through this (setup_done() is reply->setup_done()).
  std::shared_ptr<DeferredReply> reply;
};

using Handler = std::function<json::value(MethodContext&, const json::value& args)>;
using DeferredHandler = std::function<void(MethodContext&, const json::value& args)>;
struct Method {
  enum class Kind {
    sync,      ///< runs on the connection's reader; the next request waits for it
    async,     ///< runs on a pool thread; the next request waits for its setup_done
    deferred,  ///< started on the reader, answered by whoever finishes it (the Debugger's
               ///< tracer thread) through respond(); the next request waits for setup_done
  };
  Kind kind = Kind::sync;
  Handler fn;
  DeferredHandler deferred_fn;
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
      m["RPCServer." + name] = {K::sync, std::move(h), {}};
    };
    auto async = [&](const std::string& name, Handler h) {
      m["RPCServer." + name] = {K::async, std::move(h), {}};
    };
    auto deferred = [&](const std::string& name, DeferredHandler h) {
      m["RPCServer." + name] = {K::deferred, {}, std::move(h)};
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
                          {"Backend", "native"},
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
    sync("Recorded", [](MethodContext&, const json::value&) -> json::value {
      return json::object{{"Recorded", false}, {"TraceDirectory", ""}};
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
    unsupported("CreateEBPFTracepoint", "could not create eBPF tracepoint: not supported");
    sync("GetBufferedTracepoints", [](MethodContext&, const json::value&) -> json::value {
      return json::object{{"TracepointResults", nullptr}};
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
    sync("ListGoroutines", [](MethodContext& c, const json::value& a) -> json::value {
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
      json::array out;
      for (const auto& g : list.goroutines) out.push_back(to_json(g));
      json::value groups = nullptr;
      if (list.groups) {
        json::array gs;
        for (const auto& g : *list.groups) {
          gs.push_back(json::object{
              {"Name", g.name}, {"Offset", g.offset}, {"Count", g.count}, {"Total", g.total}});
        }
        groups = std::move(gs);
      }
      return json::object{{"Goroutines", std::move(out)},
                          {"Nextg", list.nextg},
                          {"Groups", std::move(groups)},
                          {"TooManyGroups", list.too_many_groups}};
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
    unsupported("DumpStart", "core dumps are not supported yet");
    unsupported("DumpWait", "core dumps are not supported yet");
    unsupported("DumpCancel", "core dumps are not supported yet");
    unsupported("BuildID", "BuildID is not supported yet");
    return m;
  }();
  return table;
}

}  // namespace

// ------------------------------------------------------------------------ connections

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
  explicit Impl(ServerConfig c) : cfg(std::move(c)), acceptor(io), signals(io, SIGINT, SIGTERM) {}

  ServerConfig cfg;
  asio::io_context io;
  tcp::acceptor acceptor;
  asio::signal_set signals;
  session::Debugger* dbg = nullptr;
  std::atomic<bool> stopping{false};

  /// One client socket, a plain blocking fd taken out of Asio (its reactor would wake the
  /// io thread at every request for nothing). The reader thread reads it; replies come
  /// from the reader (synchronous methods), from pool threads (Restart) and from the
  /// Debugger's tracer thread (State, Command). A reply is written without blocking its
  /// writer: what the socket does not take at once is queued in `out` and written by a
  /// pool thread (`draining`), so the tracer thread never waits for a slow client and
  /// replies keep their order. `mu` is only held for non-blocking work. The fd is closed
  /// by the destructor, when no thread can use it any more (no reuse of a closed fd).
  struct Connection {
    int fd = -1;
    std::mutex mu;
    bool closed = false;
    std::string out;
    bool draining = false;

    // Async methods whose setup is not done: the next request is dispatched after it, as
    // Delve reads the next request once setupDone is closed.
    std::mutex gate_mu;
    std::condition_variable gate_cv;
    int setups_pending = 0;

    explicit Connection(int f) : fd(f) {}
    ~Connection() {
      if (fd >= 0)
        ::close(fd);
    }
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    /// Wakes a reader blocked in recv and a drain blocked in send.
    void shutdown() {
      std::lock_guard lock(mu);
      if (!closed)
        ::shutdown(fd, SHUT_RDWR);
    }
    void close() {
      std::lock_guard lock(mu);
      if (!closed)
        ::shutdown(fd, SHUT_RDWR);
      closed = true;
      out.clear();
    }

    void begin_setup() {
      std::lock_guard lock(gate_mu);
      ++setups_pending;
    }
    void end_setup() {
      {
        std::lock_guard lock(gate_mu);
        --setups_pending;
      }
      gate_cv.notify_all();
    }
    void wait_setups() {
      std::unique_lock lock(gate_mu);
      gate_cv.wait(lock, [&] { return setups_pending == 0; });
    }
  };

  // Every thread the server starts (connection readers, async methods, reply drains) comes
  // from one pool and is joined at the end of run(), so that none of them is inside the
  // Debugger when its owner destroys it. A finished job's thread waits for the next one
  // instead of exiting: an async method costs a wake-up, not a thread creation. A job
  // never waits behind another: when no thread is idle, a new one is started (a
  // connection's `halt` must run while its `continue` still blocks a thread).
  std::mutex workers_mu;
  std::condition_variable workers_cv;
  std::deque<std::function<void()>> jobs;
  std::vector<std::thread> workers;
  std::size_t idle_workers = 0;
  bool workers_quit = false;
  std::vector<std::weak_ptr<Connection>> conns;

  void worker_loop() {
    std::unique_lock lock(workers_mu);
    for (;;) {
      while (jobs.empty() && !workers_quit) {
        ++idle_workers;
        workers_cv.wait(lock);
        --idle_workers;
      }
      if (jobs.empty())
        return;
      auto fn = std::move(jobs.front());
      jobs.pop_front();
      lock.unlock();
      fn();
      fn = nullptr;  // release captured connections before sleeping
      lock.lock();
    }
  }

  void spawn(std::function<void()> fn) {
    std::unique_lock lock(workers_mu);
    jobs.push_back(std::move(fn));
    // Idle threads that were notified but have not woken yet are still counted as idle, so
    // this never leaves a job without a thread.
    if (idle_workers >= jobs.size() && !workers_quit) {
      lock.unlock();
      workers_cv.notify_one();
      return;
    }
    workers.emplace_back([this] { worker_loop(); });
  }

  /// spawn(), unless shut_down() has joined the pool for the last time (callers that are
  /// not joined themselves, the tracer thread, may come later).
  bool try_spawn(std::function<void()> fn) {
    std::unique_lock lock(workers_mu);
    if (workers_quit)
      return false;
    lock.unlock();
    spawn(std::move(fn));
    return true;
  }

  void stop() {
    if (stopping.exchange(true))
      return;
    asio::post(io, [self = shared_from_this()] {
      boost::system::error_code ec;
      self->acceptor.close(ec);
      self->signals.cancel(ec);
      self->io.stop();
    });
  }

  // Writes a reply without blocking the caller (see Connection). Only what the socket does
  // not take at once is copied.
  void send(const std::shared_ptr<Connection>& c, std::string_view bytes) {
    std::unique_lock lock(c->mu);
    if (c->closed)
      return;
    if (!c->draining) {
      std::size_t done = 0;
      while (done < bytes.size()) {
        const ssize_t n =
            ::send(c->fd, bytes.data() + done, bytes.size() - done, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
          done += static_cast<std::size_t>(n);
          continue;
        }
        if (n < 0 && errno == EINTR)
          continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
          break;
        return;  // the peer is gone; its reader sees it
      }
      if (done == bytes.size())
        return;
      bytes.remove_prefix(done);
    }
    c->out += bytes;
    if (c->draining)
      return;
    c->draining = true;
    lock.unlock();
    if (!try_spawn([self = shared_from_this(), c] { self->drain(c); })) {
      std::lock_guard again(c->mu);
      c->draining = false;
      c->out.clear();  // the server has shut down: nobody will read it
    }
  }

  // A pool thread writing what a connection's socket did not take at once.
  void drain(const std::shared_ptr<Connection>& c) {
    std::unique_lock lock(c->mu);
    while (!c->out.empty() && !c->closed) {
      std::string chunk = std::move(c->out);
      c->out.clear();
      lock.unlock();
      std::size_t done = 0;
      bool failed = false;
      while (done < chunk.size()) {
        const ssize_t n = ::send(c->fd, chunk.data() + done, chunk.size() - done, MSG_NOSIGNAL);
        if (n > 0) {
          done += static_cast<std::size_t>(n);
        } else if (n < 0 && errno == EINTR) {
          continue;
        } else {
          failed = true;
          break;
        }
      }
      lock.lock();
      if (failed)
        c->out.clear();
    }
    c->draining = false;
  }

  // After io.run(): Delve's ServerImpl.Stop (halt, detach, kill a launched target), then
  // every connection is shut down and every thread joined.
  void shut_down() {
    boost::system::error_code ec;
    acceptor.close(ec);
    try {
      dbg->detach(!dbg->attached_to_existing_process());
    } catch (const std::exception& e) {
      std::fprintf(stderr, "goscope: %s\n", e.what());
    }
    for (;;) {
      std::vector<std::thread> joining;
      {
        std::lock_guard lock(workers_mu);
        for (auto& w : conns) {
          if (auto c = w.lock())
            c->shutdown();
        }
        workers_quit = true;
        joining.swap(workers);
      }
      workers_cv.notify_all();
      if (joining.empty())
        break;
      // A reader may still start an async method while we join: loop until none left
      // (spawn() starts a thread for a job queued after the pool was told to quit).
      for (auto& t : joining) t.join();
    }
  }

  /// A deferred method's answer: its request id and connection.
  struct Reply final : DeferredReply {
    Reply(std::shared_ptr<Impl> s, std::shared_ptr<Connection> c, const json::value& request_id)
        : self(std::move(s)), conn(std::move(c)), id(request_id) {
      head = "{\"id\":";
      head += id_json(id);
      head += ",\"result\":";
    }
    void setup_done() override {
      if (!once.exchange(true))
        conn->end_setup();
    }
    void respond(std::string result, std::optional<std::string> error) override {
      setup_done();
      self->send(conn,
                 error ? encode_response(id, nullptr, error) : encode_response_text(id, result));
    }
    void respond_line(std::string_view line) override {
      setup_done();
      self->send(conn, line);
    }
    std::shared_ptr<Impl> self;
    std::shared_ptr<Connection> conn;
    json::value id;
    std::atomic<bool> once{false};
  };

  // The one place where method errors become error strings.
  void dispatch(const std::shared_ptr<Connection>& conn, const Request& req) {
    const auto& table = method_table();
    auto it = table.find(req.method);
    if (it == table.end()) {
      send(conn, encode_response(req.id, nullptr, "unknown method: " + req.method));
      return;
    }
    const Method& m = it->second;
    if (m.kind == Method::Kind::deferred) {
      // The reader goes on reading at once; the next request waits for setup_done.
      conn->begin_setup();
      auto reply = std::make_shared<Reply>(shared_from_this(), conn, req.id);
      // The lambda holds `reply` itself (it fits std::function's local buffer: no
      // allocation), so setup_done stays valid whoever outlives whom.
      MethodContext ctx{*dbg, cfg, [reply] { reply->setup_done(); }, false, reply};
      try {
        m.deferred_fn(ctx, req.params);
      } catch (const CodecError&) {
        reply->setup_done();
        throw;
      } catch (const std::exception& e) {
        reply->respond({}, std::string(e.what()));
      } catch (...) {
        reply->respond({}, "Internal debugger error: unknown exception");
      }
      return;
    }
    auto invoke = [self = shared_from_this(), conn, req, &m](std::function<void()> setup_done) {
      MethodContext ctx{*self->dbg, self->cfg, std::move(setup_done), false, nullptr};
      std::string reply;
      try {
        reply = encode_response(req.id, m.fn(ctx, req.params), std::nullopt);
      } catch (const CodecError&) {
        ctx.setup_done();
        throw;
      } catch (const std::exception& e) {
        reply = encode_response(req.id, nullptr, std::string(e.what()));
      } catch (...) {
        reply = encode_response(req.id, nullptr, "Internal debugger error: unknown exception");
      }
      ctx.setup_done();
      self->send(conn, std::move(reply));
      if (ctx.shutdown_after_reply)
        self->stop();
    };
    if (m.kind == Method::Kind::sync) {
      invoke([] {});
      return;
    }
    // Async: runs on a pool thread; the next request waits for its setup.
    conn->begin_setup();
    auto once = std::make_shared<std::atomic<bool>>(false);
    auto done = [conn, once] {
      if (!once->exchange(true))
        conn->end_setup();
    };
    spawn([invoke, done]() mutable {
      try {
        invoke(done);
      } catch (...) {
        done();
      }
    });
  }

  void serve(const std::shared_ptr<Connection>& conn) {
    StreamDecoder decoder;
    std::array<char, 64 * 1024> buf{};
    try {
      for (;;) {
        const ssize_t n = ::recv(conn->fd, buf.data(), buf.size(), 0);
        if (n < 0 && errno == EINTR)
          continue;
        if (n <= 0 || stopping)
          break;
        for (auto& v : decoder.feed(std::string_view(buf.data(), static_cast<std::size_t>(n)))) {
          // Delve reads a request once the previous async method's setup is done.
          conn->wait_setups();
          const auto req = parse_request(std::move(v));
          dispatch(conn, req);
          if (stopping)
            break;
        }
        if (stopping)
          break;
      }
    } catch (const CodecError& e) {
      // Go's codec gives up on the connection.
    } catch (const std::exception& e) {
      std::fprintf(stderr, "goscope rpc: %s\n", e.what());
    }
    // What the client sent before it left has started (as Delve, which sees the end of the
    // stream only after the last method's setup).
    conn->wait_setups();
    conn->close();
    // Single client gone: the server stops (run() halts, detaches and kills a launched
    // target), as Delve does.
    if (!cfg.accept_multiclient)
      stop();
  }

  void accept_next() {
    acceptor.async_accept([self = shared_from_this()](boost::system::error_code ec, tcp::socket s) {
      if (ec || self->stopping)
        return;
      bool ok = true;
      if (self->cfg.only_same_user) {
        boost::system::error_code pec;
        const auto peer = s.remote_endpoint(pec);
        boost::system::error_code lec;
        const auto local = s.local_endpoint(lec);
        ok = !pec && !lec &&
             peer_is_same_user(peer.address().to_string(), peer.port(), local.address().to_string(),
                               local.port());
        if (!ok) {
          std::fprintf(stderr,
                       "closing connection from different user (%s:%u): connections to "
                       "localhost are only accepted from the same UNIX user for security "
                       "reasons\n",
                       peer.address().to_string().c_str(), static_cast<unsigned>(peer.port()));
        }
      }
      if (!ok) {
        boost::system::error_code cec;
        s.close(cec);
        self->accept_next();
        return;
      }
      // Out of Asio's reactor, blocking, no Nagle delay on the replies.
      boost::system::error_code rec;
      const int fd = s.release(rec);
      if (rec) {
        self->accept_next();
        return;
      }
      const int flags = ::fcntl(fd, F_GETFL);
      if (flags >= 0 && (flags & O_NONBLOCK) != 0)
        ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      auto conn = std::make_shared<Connection>(fd);
      {
        std::lock_guard lock(self->workers_mu);
        std::erase_if(self->conns, [](const auto& w) { return w.expired(); });
        self->conns.push_back(conn);
      }
      self->spawn([self, conn] { self->serve(conn); });
      // Without --accept-multiclient Delve serves exactly one connection.
      if (self->cfg.accept_multiclient)
        self->accept_next();
    });
  }
};

Server::Server(ServerConfig cfg) : impl_(std::make_shared<Impl>(std::move(cfg))) {}
Server::~Server() {
  stop();
}

std::string Server::listen() {
  const auto& l = impl_->cfg.listen;
  const auto colon = l.rfind(':');
  if (colon == std::string::npos)
    throw std::runtime_error("invalid listen address: " + l);
  std::string host = l.substr(0, colon);
  if (host.size() > 1 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty() || host == "localhost")
    host = "127.0.0.1";
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec) {
    tcp::resolver resolver(impl_->io);
    auto results = resolver.resolve(host, "", ec);
    if (ec || results.empty())
      throw std::runtime_error("listen tcp " + l + ": " + ec.message());
    addr = results.begin()->endpoint().address();
  }
  unsigned long port = 0;
  try {
    port = std::stoul(l.substr(colon + 1));
  } catch (const std::exception&) {
    throw std::runtime_error("listen tcp " + l + ": invalid port");
  }
  if (port > 65535)
    throw std::runtime_error("listen tcp " + l + ": invalid port");
  tcp::endpoint ep(addr, static_cast<unsigned short>(port));
  impl_->acceptor.open(ep.protocol());
  impl_->acceptor.set_option(tcp::acceptor::reuse_address(true));
  impl_->acceptor.bind(ep, ec);
  if (ec)
    throw std::runtime_error("listen tcp " + l + ": bind: " + ec.message());
  impl_->acceptor.listen(asio::socket_base::max_listen_connections);
  const auto bound = impl_->acceptor.local_endpoint();
  const auto a = bound.address();
  return (a.is_v6() ? "[" + a.to_string() + "]" : a.to_string()) + ":" +
         std::to_string(bound.port());
}

void Server::run(session::Debugger& dbg) {
  impl_->dbg = &dbg;
  impl_->signals.async_wait([impl = impl_](boost::system::error_code ec, int) {
    if (!ec)
      impl->stop();
  });
  impl_->accept_next();
  impl_->io.run();
  impl_->shut_down();
}

void Server::stop() {
  impl_->stop();
}

bool peer_is_same_user(const std::string& peer_addr, unsigned short peer_port,
                       const std::string& local_addr, unsigned short local_port) {
  boost::system::error_code ec;
  const auto addr = asio::ip::make_address(peer_addr, ec);
  if (ec)
    return false;
  const auto ours = asio::ip::make_address(local_addr, ec);
  if (ec)
    return false;
  if (!addr.is_loopback() &&
      !(addr.is_v6() && addr.to_v6().is_v4_mapped() &&
        asio::ip::make_address_v4(asio::ip::v4_mapped, addr.to_v6()).is_loopback())) {
    return true;
  }
  // /proc/net/tcp prints addresses as the raw in-memory words in host byte order.
  auto hex_words = [](const unsigned char* bytes, std::size_t n) {
    std::string out;
    char b[3];
    for (std::size_t w = 0; w < n; w += 4) {
      for (int k = 3; k >= 0; --k) {
        std::snprintf(b, sizeof b, "%02X", bytes[w + static_cast<std::size_t>(k)]);
        out += b;
      }
    }
    return out;
  };
  auto port_hex = [](unsigned short port) {
    char b[8];
    std::snprintf(b, sizeof b, ":%04X", port);
    return std::string(b);
  };
  // As /proc/net/tcp (v4) or /proc/net/tcp6 (v6, v4 addresses mapped) prints `a:port`.
  auto v4 = [&](const asio::ip::address& a, unsigned short port) {
    const auto bytes = a.to_v4().to_bytes();
    return hex_words(bytes.data(), 4) + port_hex(port);
  };
  auto v6 = [&](const asio::ip::address& a, unsigned short port) {
    const auto bytes = a.is_v4()
                           ? asio::ip::make_address_v6(asio::ip::v4_mapped, a.to_v4()).to_bytes()
                           : a.to_v6().to_bytes();
    return hex_words(bytes.data(), 16) + port_hex(port);
  };
  struct Candidate {
    const char* file;
    std::string client_local, client_remote;  // the client socket's own view
  };
  std::vector<Candidate> candidates;
  if (addr.is_v4() && ours.is_v4())
    candidates.push_back({"/proc/net/tcp", v4(addr, peer_port), v4(ours, local_port)});
  candidates.push_back({"/proc/net/tcp6", v6(addr, peer_port), v6(ours, local_port)});
  for (const auto& c : candidates) {
    std::ifstream in(c.file);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string sl, local_field, remote_field, st, queues, tr, retr, uid;
      fields >> sl >> local_field >> remote_field >> st >> queues >> tr >> retr >> uid;
      if (local_field == c.client_local && remote_field == c.client_remote)
        return std::stoul(uid) == getuid();
    }
  }
  return false;
}

}  // namespace goscope::rpc

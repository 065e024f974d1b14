// The Debugger: one tracer thread owns the process; everything else posts work to it.
#include "session/debugger.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <string_view>
#include <thread>
#include <unordered_map>

#include "dwarf/debug_info.hpp"
#include "dwarf/elf_file.hpp"
#include "dwarf/expr.hpp"
#include "event_hub.hpp"
#include "goroutine_query.hpp"
#include "log/log.hpp"
#include "output_reader.hpp"
#include "proc/error.hpp"
#include "proc/process.hpp"
#include "proc/watch_probe.hpp"
#include "target/binary_info.hpp"
#include "target/build_info.hpp"
#include "target/disassemble.hpp"
#include "target/fncall.hpp"
#include "target/readers.hpp"
#include "target/register_view.hpp"
#include "target/stepper.hpp"
#include "target/target.hpp"
#include "target/value_loader.hpp"

namespace goscope::session {
namespace {

constexpr int kUnrecoveredPanicId = -1;
constexpr int kFatalThrowId = -2;

api::Variable to_api(const target::Variable& v) {
  api::Variable out;
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
  for (const auto& c : v.children) out.children.push_back(to_api(c));
  return out;
}

std::vector<api::Variable> to_api(const std::vector<target::Variable>& vs) {
  std::vector<api::Variable> out;
  out.reserve(vs.size());
  for (const auto& v : vs) out.push_back(to_api(v));
  return out;
}

target::LoadConfig to_target(const api::LoadConfig& c) {
  return {c.follow_pointers, c.max_variable_recurse, c.max_string_len, c.max_array_values,
          c.max_struct_fields};
}

std::string hex(std::uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(v));
  return buf;
}

// A user's filter in Go's regexp syntax (RE2: no recursion, linear time), refused in
// Delve's words.
target::GoRegexp make_filter(const std::string& filter) {
  try {
    return target::GoRegexp(filter);
  } catch (const target::RegexpError& e) {
    throw DebuggerError("invalid filter argument: " + std::string(e.what()));
  }
}

// strconv.Atoi: an optional sign and decimal digits, in int64's range; nullopt otherwise.
std::optional<std::int64_t> go_atoi(std::string_view t) {
  const bool neg = !t.empty() && t[0] == '-';
  if (!t.empty() && (t[0] == '+' || t[0] == '-'))
    t.remove_prefix(1);
  if (t.empty())
    return std::nullopt;
  std::uint64_t v = 0;
  for (char c : t) {
    if (c < '0' || c > '9')
      return std::nullopt;
    const auto d = static_cast<std::uint64_t>(c - '0');
    if (v > (std::uint64_t{1} << 63) / 10 || v * 10 > (std::uint64_t{1} << 63) - d)
      return std::nullopt;
    v = v * 10 + d;
  }
  if (!neg && v > static_cast<std::uint64_t>(INT64_MAX))
    return std::nullopt;
  return neg ? static_cast<std::int64_t>(0 - v) : static_cast<std::int64_t>(v);
}

// An integer's text (decimal, optionally negative) as a uint64 the way Delve turns a
// constant into an address: modulo 2^64. Nullopt when it is not an integer.
std::optional<std::uint64_t> wrapped_u64(std::string_view t) {
  const bool neg = !t.empty() && t[0] == '-';
  if (neg)
    t.remove_prefix(1);
  if (t.empty())
    return std::nullopt;
  std::uint64_t v = 0;
  for (char c : t) {
    if (c < '0' || c > '9')
      return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');  // unsigned: wraps modulo 2^64
  }
  return neg ? 0 - v : v;
}

// Delve's api.ValidBreakpointName: not a number (strconv.Atoi), letters and digits only.
bool valid_bp_name(const std::string& name, std::string& why) {
  if (name.empty())
    return true;
  std::size_t digits_from = name[0] == '+' || name[0] == '-' ? 1 : 0;
  bool all_digits = name.size() > digits_from && name.size() - digits_from <= 18;
  for (std::size_t i = digits_from; i < name.size(); ++i)
    all_digits &= name[i] >= '0' && name[i] <= '9';
  if (all_digits) {
    why = "breakpoint name can not be a number";
    return false;
  }
  for (unsigned char c : name) {
    // Non-ASCII runes are taken as letters (unicode.IsLetter for the common cases).
    if (!(std::isalnum(c) || c >= 0x80)) {
      why = std::string("invalid character in breakpoint name '") + static_cast<char>(c) + "'";
      return false;
    }
  }
  return true;
}

// "OP N" hit conditions (Delve's HitCond).
bool hit_cond_matches(const std::string& cond, std::uint64_t count) {
  std::string op = "==";
  std::string num = cond;
  const auto first = cond.find_first_not_of(' ');
  if (first == std::string::npos)
    return true;
  num = cond.substr(first);
  for (const char* o : {"==", "!=", ">=", "<=", ">", "<", "%"}) {
    if (num.starts_with(o)) {
      op = o;
      num = num.substr(std::strlen(o));
      break;
    }
  }
  std::uint64_t n = 0;
  try {
    n = std::stoull(num);
  } catch (const std::exception&) {
    return true;
  }
  if (op == "==")
    return count == n;
  if (op == "!=")
    return count != n;
  if (op == ">=")
    return count >= n;
  if (op == "<=")
    return count <= n;
  if (op == ">")
    return count > n;
  if (op == "<")
    return count < n;
  return n != 0 && count % n == 0;
}

struct LogicalBreakpoint {
  api::Breakpoint bp;
  std::string loc_expr;
  // Watchpoints (bp.watch_type != 0): the hardware slot, and for a variable on a goroutine's
  // stack its offset from stack.hi and the sentinel trap where its frame returns (Delve's
  // WatchOutOfScope breakpoint: goroutine scope_goid back in the frame at scope_frameoff).
  int watch_slot = -1;
  std::int64_t watch_stack_off = 0;
  std::uint64_t scope_trap = 0;
  std::int64_t scope_goid = 0;
  std::int64_t scope_frameoff = 0;
  /// Stack watchpoint: the RET of runtime.copystack, where the goroutine's stack has moved
  /// and the watched address follows it (Delve's StackResizeBreakpoint).
  std::uint64_t resize_trap = 0;
  bool is_watchpoint() const { return bp.watch_type != 0; }
};

// Go's %q for the strings Delve quotes in messages and VerboseDescr.
std::string go_quote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

// Go's %#x of a signed value: -0x178, 0x0.
std::string go_hex_signed(std::int64_t v) {
  char buf[32];
  if (v < 0) {
    std::snprintf(buf, sizeof buf, "-%#llx", 0ULL - static_cast<unsigned long long>(v));
  } else if (v == 0) {
    return "0x0";
  } else {
    std::snprintf(buf, sizeof buf, "%#llx", static_cast<unsigned long long>(v));
  }
  return buf;
}

// The "OP N" of a hit condition as Delve's HitCond struct prints with %v ("&{== 5}"), or
// "<nil>" when there is none.
std::string hit_cond_verbose(const std::string& cond) {
  const auto first = cond.find_first_not_of(' ');
  if (first == std::string::npos)
    return "<nil>";
  std::string rest = cond.substr(first);
  std::string op = "==";
  for (const char* o : {"==", "!=", ">=", "<=", ">", "<", "%"}) {
    if (rest.starts_with(o)) {
      op = o;
      rest = rest.substr(std::strlen(o));
      break;
    }
  }
  const auto digits = rest.find_first_not_of(' ');
  return "&{" + op + " " + (digits == std::string::npos ? rest : rest.substr(digits)) + "}";
}

// Reads the Go version a binary was built with from its .go.buildinfo section (Go >= 1.18
// writes it inline: magic, pointer size, flags & 2, then varint-prefixed strings).
std::string buildinfo_version(const dwarf::ElfFile& elf) {
  const auto data = elf.section_data(".go.buildinfo");
  if (!data || data->size() < 33)
    return {};
  static constexpr char kMagic[] = "\xff Go buildinf:";
  if (std::memcmp(data->data(), kMagic, sizeof kMagic - 1) != 0)
    return {};
  const auto flags = std::to_integer<unsigned>((*data)[15]);
  if ((flags & 2) == 0)
    return {};  // Go < 1.18: pointers into the data segment
  std::size_t pos = 32;
  std::uint64_t len = 0;
  for (unsigned shift = 0; pos < data->size() && shift < 64; shift += 7) {
    const auto b = std::to_integer<std::uint64_t>((*data)[pos++]);
    len |= (b & 0x7f) << shift;
    if ((b & 0x80) == 0)
      break;
  }
  if (len == 0 || pos + len > data->size())
    return {};
  return std::string(reinterpret_cast<const char*>(data->data()) + pos, len);
}

/// Why the last stop happened on a thread (what State reports for it).
struct ThreadStop {
  int breakpoint_id = 0;  ///< 0: none
  std::optional<api::BreakpointInfo> info;
  std::optional<std::vector<api::Variable>> return_values;
  /// The breakpoint's condition could not be evaluated (Delve's CondError): the thread
  /// stops and the command that resumed reports the error.
  std::optional<std::string> cond_error;
};

}  // namespace

namespace {

// A breakpoint as the API shows it. Delve takes a disabled breakpoint's traps out of the
// process and with them its addresses: addr 0 and no addrs until it is enabled again (a
// watchpoint keeps its slot: Delve refuses to disable one).
api::Breakpoint shown(const api::Breakpoint& b) {
  if (!b.disabled || b.watch_type != 0)
    return b;
  api::Breakpoint out = b;
  out.addr = 0;
  out.addrs.clear();
  out.addrpid.clear();
  return out;
}

// A logical breakpoint without its physical ones (Delve's ConvertLogicalBreakpoint, as
// Restart reports a discarded one): no addresses and no watch expression.
api::Breakpoint logical_only(const api::Breakpoint& b) {
  api::Breakpoint out = b;
  out.addr = 0;
  out.addrs.clear();
  out.addrpid.clear();
  out.watch_expr.clear();
  out.watch_type = 0;
  out.verbose_descr.clear();
  return out;
}

}  // namespace

struct Debugger::Impl {
  explicit Impl(DebuggerConfig c) : cfg(std::move(c)) {}

  DebuggerConfig cfg;

  // ---- job queue to the tracer thread ----
  std::thread thread;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::function<void()>> jobs;
  bool quit = false;

  // ---- cross-thread flags ----
  std::atomic<proc::Process*> live{nullptr};
  std::atomic<bool> running{false};
  std::atomic<bool> halt_requested{false};
  std::atomic<int> pid{0};
  std::atomic<bool> is_detached{false};
  /// Set by detach() and the destructor before they halt: no command may resume the target
  /// once the session is ending (a continue queued behind the detach would run unhalted).
  std::atomic<bool> closing{false};
  std::mutex halt_mu;

  // ---- tracer thread only ----
  std::unique_ptr<target::Target> tgt;
  /// Symbol names for disassembly, indexed on first use (start() drops them).
  std::optional<target::AsmSymbols> asm_symbols;
  proc::Process* p = nullptr;
  const target::BinaryInfo* bi = nullptr;
  bool exited = false;
  int exit_status = 0;
  std::map<int, LogicalBreakpoint> bps;
  std::unordered_map<std::uint64_t, int> site_owner;
  int next_id = 1;
  pid_t current_tid = 0;
  std::int64_t selected_goid = 0;
  std::deque<proc::StopEvent> pending;
  std::map<pid_t, ThreadStop> stops;
  std::unique_ptr<target::Stepper> stepper;
  /// Goroutine id of each thread, valid while the process stays stopped (invalidate()).
  std::unordered_map<pid_t, std::int64_t> goid_cache;
  /// pc -> file/line/function, for the life of the binary (start() clears it).
  mutable std::unordered_map<std::uint64_t, api::Location> location_cache;
  const api::LoadConfig* step_ret_cfg = nullptr;
  std::optional<api::LoadConfig> step_ret_cfg_storage;
  /// Results loaded at the RET of a step that went on past runtime.deferreturn/a wrapper.
  std::optional<std::vector<target::Variable>> step_ret_values;
  /// Stack watchpoints that went out of scope in the last continue (State.WatchOutOfScope).
  std::vector<api::Breakpoint> watch_out_of_scope;
  /// Out-of-scope sentinel traps: address -> watchpoint id.
  std::multimap<std::uint64_t, int> scope_traps;
  /// Stack-resize sentinel traps: address -> watchpoint id.
  std::multimap<std::uint64_t, int> resize_traps;

  // ---- events (see the "events" section) ----
  std::shared_ptr<EventHub> hub = std::make_shared<EventHub>();
  /// The target's stdout/stderr pipes (cfg.capture_output).
  std::unique_ptr<OutputReader> output;
  CommandKind running_command = CommandKind::continue_;
  bool ran = false;            ///< the command under way let the target run
  bool exit_reported = false;  ///< ExitedEvent sent for this process

  // ---- any thread (GetVersion answers while a command runs, as Delve) ----
  mutable std::mutex version_mu;
  std::string go_version;  ///< from .go.buildinfo, "go1.19.8"; "" when unknown

  void loop() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return quit || !jobs.empty(); });
        if (jobs.empty())
          return;
        job = std::move(jobs.front());
        jobs.pop_front();
      }
      job();
      diff_breakpoints();
    }
  }

  /// Queues `job` for the tracer thread without waiting (moved from only when queued);
  /// false when shutting down.
  template <class F>
  bool post(F& job) {
    {
      std::lock_guard lock(mu);
      if (quit)
        return false;
      jobs.emplace_back(std::move(job));
    }
    cv.notify_one();
    return true;
  }

  template <class F>
  auto call(F&& f) -> decltype(f()) {
    using R = decltype(f());
    auto task = std::make_shared<std::packaged_task<R()>>(std::forward<F>(f));
    auto fut = task->get_future();
    {
      std::lock_guard lock(mu);
      if (quit)
        throw DebuggerError("debugger is shutting down");
      jobs.push_back([task] { (*task)(); });
    }
    cv.notify_one();
    return fut.get();
  }

  // ---------------------------------------------------------------- process lifetime
  void start() {
    std::unique_ptr<target::BinaryInfo> b;
    const std::string path =
        cfg.attach_pid ? "/proc/" + std::to_string(*cfg.attach_pid) + "/exe" : cfg.executable;
    try {
      b = target::BinaryInfo::load(path);
    } catch (const target::BinaryError& e) {
      throw DebuggerError(
          std::string(cfg.attach_pid ? "could not attach to pid " + std::to_string(*cfg.attach_pid)
                                     : "could not launch process") +
          ": " + e.what());
    }
    std::unique_ptr<proc::Process> pr;
    try {
      if (cfg.attach_pid) {
        log::info(log::Layer::debugger, "attaching to pid " + std::to_string(*cfg.attach_pid));
        pr = proc::Process::attach(*cfg.attach_pid);
      } else {
        proc::LaunchOptions lo;
        lo.path = cfg.executable;
        lo.args = cfg.args;
        lo.working_dir = cfg.working_dir;
        lo.disable_aslr = cfg.disable_aslr;
        lo.stdin_path = cfg.stdin_path;
        lo.stdout_path = cfg.stdout_path;
        lo.stderr_path = cfg.stderr_path;
        lo.tty_path = cfg.tty;
        lo.new_process_group = cfg.new_process_group;
        if (log::enabled(log::Layer::debugger)) {
          std::string argv = "[" + cfg.executable;
          for (const auto& a : cfg.args) argv += " " + a;
          log::info(log::Layer::debugger, "launching process with args: " + argv + "]");
        }
        lo.env = cfg.env;
        prepare_output(lo);
        pr = proc::Process::launch(lo);
        start_output();
      }
    } catch (const proc::Error& e) {
      throw DebuggerError(
          std::string(cfg.attach_pid ? "could not attach to pid " + std::to_string(*cfg.attach_pid)
                                     : "could not launch process") +
          ": " + e.what());
    }
    pr->set_signal_passthrough(SIGURG, true);
    pid = pr->pid();
    try {
      b->relocate_for(pid);  // position-independent executables are slid by ASLR
    } catch (const target::BinaryError& e) {
      throw DebuggerError(std::string("could not launch process: ") + e.what());
    }
    {
      std::lock_guard lock(version_mu);
      go_version = buildinfo_version(b->elf());
    }
    tgt = std::make_unique<target::Target>(std::move(pr), std::move(b));
    p = &tgt->process();
    bi = &tgt->binary();
    live = p;
    exited = false;
    exit_status = 0;
    exit_reported = false;
    // No other code of this program waits for children while the target lives (`go build`
    // runs before, dlv is exec'd by `connect` only): one waitpid per event, not two.
    p->set_exclusive_children(true);
    // All-stop: a stop reads g, m and stack words of every thread, a few pages in all.
    p->set_stopped_read_cache(true);
    // Idle threads (futex, sleep, netpoll) stay in their system calls across stops.
    p->set_park_blocked(true);
    pending.clear();
    stops.clear();
    goid_cache.clear();
    location_cache.clear();
    asm_symbols.reset();
    watch_out_of_scope.clear();
    scope_traps.clear();
    resize_traps.clear();
    const auto threads = p->threads();
    current_tid = threads.empty() ? 0 : threads.front();
    selected_goid = 0;
    if (current_tid != 0)
      selected_goid = goid_of(current_tid);
  }

  void release_process() {
    live = nullptr;
    stepper.reset();
    tgt.reset();
    p = nullptr;
    bi = nullptr;
  }

  void invalidate() {
    if (tgt)
      tgt->invalidate();
    goid_cache.clear();
  }

  [[noreturn]] void throw_exited() const {
    throw DebuggerError("Process " + std::to_string(pid.load()) + " has exited with status " +
                        std::to_string(exit_status));
  }
  void require_live() const {
    if (is_detached)
      throw DebuggerError("detached from the process");
    if (exited || p == nullptr)
      throw_exited();
  }

  // ---------------------------------------------------------------- locations
  api::Function function_of(const dwarf::Function& fn) const {
    return {fn.name, bi->to_virt(fn.low_pc).value(), fn.optimized};
  }

  /// The cached entry: valid until the next call (the cache may be emptied when it grows).
  const api::Location& location(std::uint64_t pc) const {
    if (auto it = location_cache.find(pc); it != location_cache.end())
      return it->second;
    if (location_cache.size() > 65536)
      location_cache.clear();
    api::Location loc;
    loc.pc = pc;
    if (auto l = bi->debug().lines().find(bi->to_file(proc::VirtAddr(pc)))) {
      loc.file = l->file;
      loc.line = static_cast<int>(l->line);
    }
    if (const auto* fn = bi->function_at(proc::VirtAddr(pc)))
      loc.function = function_of(*fn);
    return location_cache.emplace(pc, std::move(loc)).first->second;
  }

  std::int64_t goid_of(pid_t tid) {
    if (auto it = goid_cache.find(tid); it != goid_cache.end())
      return it->second;
    std::int64_t goid = 0;
    try {
      goid = target::goroutine_id_of(*p, *bi, tid, p->registers(tid));
    } catch (const proc::Error&) {
      return 0;
    }
    goid_cache.emplace(tid, goid);
    return goid;
  }

  /// The thread running goroutine `goid` (the current thread first), 0 when none does.
  pid_t thread_of(std::int64_t goid) {
    if (goid == 0)
      return 0;
    if (current_tid != 0 && goid_of(current_tid) == goid)
      return current_tid;
    for (pid_t tid : p->threads()) {
      if (goid_of(tid) == goid)
        return tid;
    }
    return 0;
  }

  // Every thread is stopped: brings the words goid_of() and the selected goroutine read
  // (each thread's TLS g slot, then g.goid/g.m of those g's) into the process' page cache
  // with two system calls, instead of one or more per thread, and reads every thread's
  // goroutine id from there (goid_cache), so that a later call finds nothing to do.
  void prefetch_goroutines() { prefetch_goroutines(p->threads()); }
  void prefetch_goroutines(const std::vector<pid_t>& tids) {
    std::vector<proc::VirtAddr> slots;
    for (pid_t tid : tids) {
      if (goid_cache.contains(tid))
        continue;
      try {
        const auto fs = p->registers(tid).gp.fs_base;
        if (fs != 0)
          slots.emplace_back(fs - 8);  // Go's TLS g slot on linux/amd64
      } catch (const proc::Error&) {
      }
    }
    if (slots.empty())
      return;
    p->prefetch(slots);
    std::vector<proc::VirtAddr> gs;
    gs.reserve(2 * slots.size());
    for (auto slot : slots) {
      try {
        const auto g = p->read<std::uint64_t>(slot);
        if (g != 0) {
          gs.emplace_back(g + bi->goid_offset());
          gs.emplace_back(g + bi->g_m_offset());
        }
      } catch (const proc::Error&) {
      }
    }
    p->prefetch(gs);
    for (pid_t tid : tids) goid_of(tid);
  }

  // `with_info`: the breakpoint information collected at the stop. Delve sends it only in
  // the replies of Commands that ran the target (not State, ListThreads, GetThread, halt or
  // switchThread/switchGoroutine).
  api::Thread make_thread(pid_t tid, bool with_info = false) {
    api::Thread t;
    t.id = tid;
    const auto& loc = location(p->registers(tid).gp.rip);
    t.pc = loc.pc;
    t.file = loc.file;
    t.line = loc.line;
    t.function = loc.function;
    t.goroutine_id = goid_of(tid);
    if (auto it = stops.find(tid); it != stops.end()) {
      if (auto b = bps.find(it->second.breakpoint_id); b != bps.end()) {
        t.breakpoint = b->second.bp;
        if (with_info)
          t.breakpoint_info = it->second.info;
      }
      t.return_values = it->second.return_values;
    }
    return t;
  }

  api::Goroutine make_goroutine(std::int64_t goid, pid_t tid) {
    try {
      // The thread is known: read its goroutine only (goroutine() tries every thread).
      if (tid != 0) {
        if (auto g = tgt->goroutine_of_thread(tid); g && g->id == goid)
          return convert(*g);
      }
      if (auto g = tgt->goroutine(goid))
        return convert(*g);
    } catch (const std::exception&) {
    }
    api::Goroutine g;
    g.id = goid;
    if (tid != 0) {
      g.current_loc = location(p->registers(tid).gp.rip);
      g.user_current_loc = g.current_loc;
      g.thread_id = tid;
      g.status = 2;  // _Grunning
    }
    return g;
  }

  api::Location convert(const target::Location& l) const {
    api::Location out;
    out.pc = l.pc;
    out.file = l.file;
    out.line = l.line;
    if (l.function) {
      out.function = function_of(*l.function);
      // Delve's appendInlineCalls: an inlined frame's function is the inlined one's name
      // with the physical function's entry.
      if (l.inlined)
        out.function->name = l.inlined->name;
    }
    return out;
  }
  api::Goroutine convert(const target::Goroutine& g) const {
    api::Goroutine out;
    out.id = g.id;
    out.current_loc = convert(g.current);
    out.user_current_loc = convert(g.user_current);
    out.go_statement_loc = convert(g.go_statement);
    out.start_loc = convert(g.start);
    out.thread_id = g.thread_id;
    out.status = g.status;
    out.wait_since = g.wait_since;
    out.wait_reason = g.wait_reason;
    out.labels = g.labels;
    return out;
  }
  api::Stackframe convert(const target::Frame& f) const {
    api::Stackframe out;
    // Delve reports a caller's CALL line (frame.Call) with the return address as its pc.
    out.location = convert(f.call);
    out.location.pc = f.current.pc;
    out.frame_offset = f.frame_offset;
    out.frame_pointer_offset = f.frame_pointer_offset;
    out.bottom = f.bottom;
    out.err = f.err;
    return out;
  }
  target::Scope scope_of(const api::EvalScope& s) const {
    // A scope with no goroutine (the entry stop, a halt on a thread without one) is the
    // current thread's, as in Delve: the target must know which thread that is.
    if (tgt)
      tgt->set_current_thread(current_tid);
    target::Scope out;
    out.goroutine = s.goroutine_id == -1 && selected_goid != 0 ? selected_goid : s.goroutine_id;
    out.requested_goroutine = s.goroutine_id;
    out.frame = s.frame;
    out.deferred_call = s.deferred_call;
    return out;
  }

  api::DebuggerState build_state(bool with_info = false) {
    api::DebuggerState st;
    st.pid = pid;
    if (exited) {
      st.exited = true;
      st.exit_status = exit_status;
      return st;
    }
    const auto tids = p->threads();
    prefetch_goroutines(tids);
    std::vector<api::Thread> threads;
    threads.reserve(tids.size());
    for (pid_t tid : tids) {
      try {
        threads.push_back(make_thread(tid, with_info));
      } catch (const proc::Error&) {
      }
    }
    for (const auto& t : threads) {
      if (t.id == current_tid)
        st.current_thread = t;
    }
    if (!st.current_thread && !threads.empty()) {
      st.current_thread = threads.front();
      current_tid = threads.front().id;
    }
    if (selected_goid != 0) {
      pid_t on = 0;
      for (const auto& t : threads) {
        if (t.goroutine_id == selected_goid)
          on = t.id;
      }
      st.selected_goroutine = make_goroutine(selected_goid, on);
    }
    st.threads = std::move(threads);
    st.next_in_progress = stepper && stepper->active();
    st.watch_out_of_scope = watch_out_of_scope;
    return st;
  }

  // ---------------------------------------------------------------- breakpoints
  std::string describe_exists(std::uint64_t addr) const {
    const auto loc = location(addr);
    return "Breakpoint exists at " + loc.file + ":" + std::to_string(loc.line) + " at " + hex(addr);
  }

  std::uint64_t function_entry_pc(const dwarf::Function& fn) const {
    const auto& lines = bi->debug().lines();
    return bi->to_virt(lines.prologue_end(fn.low_pc, fn.high_pc).value_or(fn.low_pc)).value();
  }

  // One address per function for file:line, the lowest (Delve: the first statement PC).
  std::vector<std::uint64_t> line_pcs(const std::string& file, int line) const {
    std::map<const dwarf::Function*, std::uint64_t> per_fn;
    for (auto a : bi->debug().lines().addresses_for(file, static_cast<std::uint32_t>(line))) {
      const auto* fn = bi->debug().function_at(a);
      auto v = bi->to_virt(a).value();
      auto [it, inserted] = per_fn.emplace(fn, v);
      if (!inserted)
        it->second = std::min(it->second, v);
    }
    std::vector<std::uint64_t> out;
    for (const auto& [fn, a] : per_fn) {
      std::uint64_t pc = a;
      // Delve skips a function's entry for the prologue's end when that is still on the
      // same line (a one-line function): the stack check has run by then.
      if (fn != nullptr && pc == bi->to_virt(fn->low_pc).value()) {
        const auto& lines = bi->debug().lines();
        const auto end = lines.prologue_end(fn->low_pc, fn->high_pc);
        const auto at_entry = lines.find(fn->low_pc);
        if (end && at_entry) {
          const auto at_end = lines.find(*end);
          if (at_end && at_end->line == at_entry->line && at_end->file == at_entry->file)
            pc = bi->to_virt(*end).value();
        }
      }
      out.push_back(pc);
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  const dwarf::Function* find_function(const std::string& name) const {
    if (const auto* fn = bi->debug().find_function(name))
      return fn;
    return nullptr;
  }

  /// `name`, or when there is no such function, every instantiation of the generic
  /// function `name` ("main.f[go.shape.int_0]", ...), as Delve resolves it.
  std::vector<const dwarf::Function*> find_functions(const std::string& name) const {
    if (const auto* fn = find_function(name))
      return {fn};
    std::vector<const dwarf::Function*> out;
    const std::string prefix = name + "[";
    for (const auto& fn : bi->debug().functions()) {
      if (fn.name.starts_with(prefix))
        out.push_back(&fn);
    }
    return out;
  }

  /// A Go function name without its instantiation's type arguments.
  static std::string generic_base(const std::string& name) {
    std::string out;
    int depth = 0;
    for (char c : name) {
      if (c == '[')
        ++depth;
      else if (c == ']' && depth > 0)
        --depth;
      else if (depth == 0)
        out += c;
    }
    return out;
  }

  api::Breakpoint create_breakpoint(api::Breakpoint req, const std::string& loc_expr) {
    require_live();
    std::string why;
    if (!valid_bp_name(req.name, why))
      throw DebuggerError(why);
    check_condition(req.cond);
    if (!req.name.empty()) {
      for (const auto& [id, lb] : bps) {
        if (lb.bp.name == req.name)
          throw DebuggerError("breakpoint name already exists");
      }
    }
    if (req.id > 0) {
      if (auto it = bps.find(req.id); it != bps.end()) {
        throw DebuggerError(describe_exists(it->second.bp.addr));
      }
    }
    std::vector<std::uint64_t> addrs;
    if (req.trace_return) {
      addrs = {req.addr};
    } else if (!req.file.empty()) {
      addrs = line_pcs(req.file, req.line);
      if (addrs.empty() && !bi->debug().lines().has_file(req.file))
        throw DebuggerError("could not find file " + req.file);
      if (addrs.empty()) {
        throw DebuggerError("could not find statement at " + req.file + ":" +
                            std::to_string(req.line) + ", please use a line with a statement");
      }
    } else if (!req.function_name.empty()) {
      const auto fns = find_functions(req.function_name);
      if (fns.empty())  // Delve's ErrFunctionNotFound ends with a newline
        throw DebuggerError("could not find function " + req.function_name + "\n");
      for (const auto* fn : fns) {
        if (req.line <= 0) {
          addrs.push_back(function_entry_pc(*fn));
          continue;
        }
        const int line = static_cast<int>(fn->decl_line) + req.line;
        for (auto a : line_pcs(fn->decl_file, line)) {
          if (bi->function_at(proc::VirtAddr(a)) == fn)
            addrs.push_back(a);
        }
        if (addrs.empty()) {
          throw DebuggerError("could not find statement at " + fn->decl_file + ":" +
                              std::to_string(line) + ", please use a line with a statement");
        }
      }
    } else if (!req.addrs.empty()) {
      addrs = req.addrs;
    } else if (req.addr != 0) {
      addrs = {req.addr};
    } else {
      throw DebuggerError("no address specified for the breakpoint");
    }
    for (auto a : addrs) {
      if (site_owner.contains(a))
        throw DebuggerError(describe_exists(a));
      if (bi->function_at(proc::VirtAddr(a)) == nullptr) {
        throw DebuggerError("could not set breakpoint at " + hex(a) + ": no function there");
      }
    }
    for (auto a : addrs) {
      p->add_breakpoint(proc::VirtAddr(a));
    }
    api::Breakpoint bp = std::move(req);
    bp.id = bp.id > 0 ? bp.id : next_id++;
    if (bp.id >= next_id)
      next_id = bp.id + 1;
    bp.addrs = addrs;
    bp.addr = addrs.front();
    bp.addrpid.assign(addrs.size(), pid);
    const auto loc = location(bp.addr);
    bp.file = loc.file;
    bp.line = loc.line;
    std::set<std::string> fns;
    for (auto a : addrs) {
      if (const auto* fn = bi->function_at(proc::VirtAddr(a)))
        fns.insert(generic_base(fn->name));  // instantiations of one generic count as one
    }
    bp.function_name = fns.size() > 1 ? "(multiple functions)" : fns.empty() ? "" : *fns.begin();
    bp.hit_count.clear();
    bp.total_hit_count = 0;
    for (auto a : addrs) site_owner[a] = bp.id;
    bps[bp.id] = LogicalBreakpoint{bp, loc_expr};
    if (bp.disabled)
      set_enabled(bps[bp.id], false);
    return bp;
  }

  void create_internal_breakpoints() {
    auto make = [&](int id, const std::string& name, const std::vector<std::string>& fns,
                    std::vector<std::string> vars) {
      std::vector<std::uint64_t> addrs;
      for (const auto& n : fns) {
        if (const auto* fn = find_function(n))
          addrs.push_back(function_entry_pc(*fn));
      }
      if (addrs.empty())
        return;
      api::Breakpoint bp;
      bp.id = id;
      bp.name = name;
      bp.addrs = addrs;
      bp.addr = addrs.front();
      bp.addrpid.assign(addrs.size(), pid);
      bp.variables = std::move(vars);
      if (addrs.size() > 1) {
        bp.file = "<multiple locations>";
        bp.function_name = "(multiple functions)";
      } else {
        const auto loc = location(bp.addr);
        bp.file = loc.file;
        bp.line = loc.line;
        if (loc.function)
          bp.function_name = loc.function->name;
      }
      for (auto a : addrs) {
        p->add_breakpoint(proc::VirtAddr(a));
        site_owner[a] = id;
      }
      bps[id] = LogicalBreakpoint{bp, ""};
    };
    const bool has_startpanic = find_function("runtime.startpanic") != nullptr;
    make(kUnrecoveredPanicId, "unrecovered-panic",
         {has_startpanic ? "runtime.startpanic" : "runtime.fatalpanic"},
         {"runtime.curg._panic.arg"});
    make(kFatalThrowId, "runtime-fatal-throw", {"runtime.throw", "runtime.fatal"}, {});
  }

  void set_enabled(LogicalBreakpoint& lb, bool enabled) {
    for (auto a : lb.bp.addrs) {
      if (enabled) {
        p->add_breakpoint(proc::VirtAddr(a));
      } else {
        p->remove_breakpoint(proc::VirtAddr(a));
      }
    }
  }

  LogicalBreakpoint& find_bp(int id, const std::string& name) {
    if (!name.empty()) {
      for (auto& [bid, lb] : bps) {
        if (lb.bp.name == name)
          return lb;
      }
      throw DebuggerError("no breakpoint with name " + name);
    }
    auto it = bps.find(id);
    if (it == bps.end())
      throw DebuggerError("no breakpoint with id " + std::to_string(id));
    return it->second;
  }

  api::Breakpoint clear_breakpoint(int id, const std::string& name) {
    auto& lb = find_bp(id, name);
    api::Breakpoint out = lb.bp;
    if (lb.is_watchpoint())
      drop_watch(lb);
    else if (!exited && p != nullptr && !lb.bp.disabled)
      set_enabled(lb, false);
    for (auto a : lb.bp.addrs) site_owner.erase(a);
    for (auto& [tid, s] : stops) {
      if (s.breakpoint_id == out.id)
        s.breakpoint_id = 0;
    }
    bps.erase(out.id);
    return out;
  }

  // ---------------------------------------------------------------- values at a stop
  target::ValueLoader loader() {
    return target::ValueLoader(*bi, target::process_memory_reader(*p));
  }

  // Parameters of the function at the thread's pc (entry, body or RET), as Delve's
  // breakpoint LoadArgs: arguments and results, with their flags.
  std::vector<target::Variable> load_params(pid_t tid, const target::LoadConfig& lcfg,
                                            bool results_only) {
    std::vector<target::Variable> out;
    const auto regs = p->registers(tid);
    const auto* fn = bi->function_at(regs.pc());
    if (fn == nullptr)
      return out;
    const auto cfa = target::frame_cfa(*bi, regs);
    const target::RegisterFn read_reg = target::thread_register_reader(*p, tid, regs);
    auto l = loader();
    for (const auto& param : fn->params) {
      if (results_only && !param.is_result)
        continue;
      out.push_back(l.load_variable(param, regs.gp.rip, cfa, read_reg, lcfg));
    }
    return out;
  }

  // The stack of a stopped thread for a breakpoint's Stacktrace (a failure to unwind is
  // not a reason to lose the stop: the frames read so far, or none).
  std::vector<api::Stackframe> thread_frames(pid_t tid, int depth) {
    std::vector<api::Stackframe> out;
    try {
      for (const auto& f : tgt->thread_stacktrace(tid, depth)) out.push_back(convert(f));
    } catch (const std::exception&) {
    }
    return out;
  }

  api::BreakpointInfo collect_info(const api::Breakpoint& bp, pid_t tid, std::int64_t goid,
                                   const std::vector<target::Variable>* args_loaded) {
    api::BreakpointInfo info;
    if (bp.goroutine && goid != 0)
      info.goroutine = make_goroutine(goid, tid);
    if (bp.stacktrace > 0)
      info.stacktrace = thread_frames(tid, bp.stacktrace);
    if (bp.load_args) {
      info.arguments = args_loaded ? to_api(*args_loaded)
                                   : to_api(load_params(tid, to_target(*bp.load_args), false));
    }
    if (bp.load_locals || !bp.variables.empty()) {
      try {
        const auto frames = tgt->thread_stacktrace(tid, 0);
        if (!frames.empty()) {
          if (bp.load_locals) {
            info.locals = to_api(tgt->local_variables(frames[0], to_target(*bp.load_locals)));
          }
          for (const auto& expr : bp.variables) {
            try {
              auto v = to_api(tgt->eval(expr, frames[0], to_target(api::kDefaultLoadConfig)));
              v.name = expr;
              info.variables.push_back(std::move(v));
            } catch (const std::exception& e) {
              api::Variable v;
              v.name = expr;
              v.unreadable = std::string("eval error: ") + e.what();
              info.variables.push_back(std::move(v));
            }
          }
        }
      } catch (const std::exception&) {
      }
    }
    return info;
  }

  // Delve's evalBreakpointCondition: a condition that cannot be evaluated, or is not a
  // boolean, stops the thread (true) with `error` set.
  // Delve parses a condition when the breakpoint is created or amended: a syntax error (or
  // nesting deeper than go/parser takes) is refused then, in go/parser's words, instead of
  // at the first hit.
  static void check_condition(const std::string& cond) {
    if (cond.empty())
      return;
    try {
      target::Target::check_syntax(cond);
    } catch (const target::EvalError& e) {
      throw DebuggerError(e.what());
    }
  }

  bool condition_true(LogicalBreakpoint& lb, pid_t tid, std::optional<std::string>& error) {
    if (lb.bp.cond.empty())
      return true;
    target::Variable v;
    try {
      const auto frames = tgt->thread_stacktrace(tid, 0);
      if (frames.empty())
        return true;
      v = tgt->eval(lb.bp.cond, frames[0], to_target(api::kDefaultLoadConfig));
    } catch (const std::exception& e) {
      error = std::string("error evaluating expression: ") + e.what();
      return true;
    }
    if (v.kind != 1) {  // reflect.Bool
      error = "condition expression not boolean";
      return true;
    }
    if (!v.unreadable.empty()) {
      error = "condition expression unreadable: " + v.unreadable;
      return true;
    }
    return v.value == "true";
  }

  // Delve's conditionErrors: after a stop, the condition error of the stopped threads.
  void throw_condition_errors() const {
    const std::string* first = nullptr;
    for (const auto& [tid, ts] : stops) {
      if (!ts.cond_error)
        continue;
      if (first)
        throw DebuggerError("multiple errors evaluating conditions");
      first = &*ts.cond_error;
    }
    if (first)
      throw DebuggerError(*first);
  }

  // ---------------------------------------------------------------- watchpoints
  std::int64_t value_size(const target::Variable& v) const {
    // The DWARF type's size (Delve's kinds do not tell int32 from int).
    for (const auto* name : {&v.real_type, &v.type}) {
      if (name->empty())
        continue;
      if (const auto* t = bi->debug().find_type(*name))
        return static_cast<std::int64_t>(t->resolved()->size);
    }
    switch (v.kind) {  // reflect.Kind
      case 1:
      case 3:
      case 8:
        return 1;
      case 4:
      case 9:
        return 2;
      case 5:
      case 10:
      case 13:
        return 4;
      case 2:
      case 6:
      case 7:
      case 11:
      case 12:
      case 14:
      case 15:
      case 18:
      case 19:
      case 21:
      case 22:
      case 26:
        return 8;
      case 16:
      case 20:
      case 24:
        return 16;
      case 23:
        return 24;
      default:
        break;
    }
    return 0;
  }

  // Delve's CreateWatchpoint/SetWatchpoint. `wtype`: read 1 | write 2.
  api::Breakpoint create_watchpoint(const api::EvalScope& scope, const std::string& expr,
                                    int wtype) {
    require_live();
    const auto sc = scope_of(scope);
    const auto frame = tgt->frame_for(sc);
    const int id = next_id++;  // taken even when the watchpoint cannot be set, as Delve
    if ((wtype & 3) == 0)
      throw DebuggerError("at least one of read and write must be set for watchpoint");
    const auto v = tgt->eval(expr, frame, to_target(api::kDefaultLoadConfig));
    if (v.addr == 0 || (v.flags & target::kFlagFakeAddress) != 0 || v.type.empty())
      throw DebuggerError("can not watch " + go_quote(expr));
    if (!v.unreadable.empty())
      throw DebuggerError("expression " + go_quote(expr) + " is unreadable: " + v.unreadable);
    if (v.kind == 26 || v.kind == 0) {
      throw DebuggerError(std::string("can not watch variable of type ") +
                          (v.kind == 26 ? "unsafe.Pointer" : "invalid"));
    }
    const auto size = value_size(v);
    if (size <= 0 || size > 8)
      throw DebuggerError("can not watch variable of type " + v.type);
    std::optional<target::Goroutine> g;
    if (sc.goroutine > 0)
      g = tgt->goroutine(sc.goroutine);
    const bool stack_watch = g && !g->system_stack && v.addr >= g->stack_lo && v.addr < g->stack_hi;
    if (stack_watch && (wtype & 1) != 0)
      throw DebuggerError("can not watch stack allocated variable for reads");
    for (const auto& [bid, lb] : bps) {
      if (lb.is_watchpoint() && lb.bp.addr == v.addr)
        throw DebuggerError("Breakpoint exists at :0 at " + hex(v.addr));
    }
    // The out-of-scope sentinel: where the goroutine's topmost frame returns to its caller.
    std::uint64_t sentinel = 0;
    std::int64_t sentinel_frameoff = 0;
    std::uint64_t resize = 0;
    if (stack_watch) {
      const auto frames = tgt->stacktrace(*g, 1);
      if (frames.size() < 2 || frames[1].current.pc == 0)
        throw DebuggerError("can not watch " + go_quote(expr));
      sentinel = frames[1].current.pc;
      sentinel_frameoff = frames[1].frame_offset;
      const auto* copystack = find_function("runtime.copystack");
      if (copystack == nullptr)
        throw DebuggerError("could not find function runtime.copystack");
      std::vector<std::uint64_t> rets;
      for (const auto& rs : bi->return_sites(*copystack)) {
        if (!rs.deferreturn)
          rets.push_back(rs.addr.value());
      }
      if (rets.size() != 1) {
        throw DebuggerError(rets.empty() ? "could not find return instruction of runtime.copystack"
                                         : "runtime.copystack has too many return instructions");
      }
      resize = rets.front();
    }
    // Some hypervisors take debug register values and never trap: refuse rather than set a
    // watchpoint that would silently never fire (measured once, at the first watchpoint).
    if (!proc::hardware_watchpoints_fire())
      throw DebuggerError("hardware watchpoints do not fire on this machine");
    int slot = -1;
    try {
      slot = p->set_watchpoint(
          proc::VirtAddr(v.addr), static_cast<std::size_t>(size),
          (wtype & 1) != 0 ? proc::WatchKind::read_write : proc::WatchKind::write);
    } catch (const proc::Error& e) {
      const std::string what = e.what();
      if (what.find("in use") != std::string::npos)
        throw DebuggerError("hardware breakpoints exhausted");
      throw DebuggerError(what);
    }
    LogicalBreakpoint lb;
    auto& bp = lb.bp;
    bp.id = id;
    bool name_taken = false;
    for (const auto& [bid, other] : bps) name_taken |= other.bp.name == expr;
    if (!name_taken)
      bp.name = expr;
    bp.addr = v.addr;
    bp.addrs = {v.addr};
    bp.addrpid = {pid};
    bp.watch_expr = expr;
    bp.watch_type = (wtype & 0xf) | static_cast<int>(size << 4);
    lb.watch_slot = slot;
    if (stack_watch) {
      lb.watch_stack_off = static_cast<std::int64_t>(v.addr - g->stack_hi);
      lb.scope_trap = sentinel;
      lb.scope_goid = g->id;
      lb.scope_frameoff = sentinel_frameoff;
      p->add_breakpoint(proc::VirtAddr(sentinel));
      scope_traps.emplace(sentinel, id);
      lb.resize_trap = resize;
      p->add_breakpoint(proc::VirtAddr(resize));
      resize_traps.emplace(resize, id);
    }
    bps[id] = lb;
    return bp;
  }

  // Removes a watchpoint's hardware slot and sentinel (the logical breakpoint stays).
  void drop_watch(LogicalBreakpoint& lb) {
    if (lb.watch_slot >= 0 && p != nullptr && !exited) {
      try {
        p->clear_watchpoint(lb.watch_slot);
      } catch (const proc::Error&) {
      }
    }
    lb.watch_slot = -1;
    if (lb.scope_trap != 0) {
      for (auto it = scope_traps.lower_bound(lb.scope_trap);
           it != scope_traps.end() && it->first == lb.scope_trap;) {
        it = it->second == lb.bp.id ? scope_traps.erase(it) : std::next(it);
      }
      if (p != nullptr && !exited) {
        try {
          p->remove_breakpoint(proc::VirtAddr(lb.scope_trap));
        } catch (const proc::Error&) {
        }
      }
      lb.scope_trap = 0;
    }
    if (lb.resize_trap != 0) {
      for (auto it = resize_traps.lower_bound(lb.resize_trap);
           it != resize_traps.end() && it->first == lb.resize_trap;) {
        it = it->second == lb.bp.id ? resize_traps.erase(it) : std::next(it);
      }
      if (p != nullptr && !exited) {
        try {
          p->remove_breakpoint(proc::VirtAddr(lb.resize_trap));
        } catch (const proc::Error&) {
        }
      }
      lb.resize_trap = 0;
    }
  }

  // The RET of runtime.copystack hit by `tid`: the stack watchpoints of its goroutine move
  // with the stack (Delve's adjustStackWatchpoint). Never a stop.
  void follow_stack_resize(pid_t tid, std::uint64_t pc) {
    const auto goid = goid_of(tid);
    std::optional<target::Goroutine> g;
    for (auto it = resize_traps.lower_bound(pc); it != resize_traps.end() && it->first == pc;
         ++it) {
      auto b = bps.find(it->second);
      if (b == bps.end() || b->second.scope_goid != goid || b->second.watch_slot < 0)
        continue;
      auto& lb = b->second;
      if (!g) {
        try {
          g = tgt->goroutine_of_thread(tid);
        } catch (const std::exception&) {
        }
        if (!g || g->id != goid)
          return;
      }
      const auto addr =
          static_cast<std::uint64_t>(static_cast<std::int64_t>(g->stack_hi) + lb.watch_stack_off);
      if (addr == lb.bp.addr)
        continue;
      const auto size = static_cast<std::size_t>(lb.bp.watch_type >> 4);
      try {
        p->clear_watchpoint(lb.watch_slot);
        lb.watch_slot = p->set_watchpoint(
            proc::VirtAddr(addr), size,
            (lb.bp.watch_type & 1) != 0 ? proc::WatchKind::read_write : proc::WatchKind::write);
      } catch (const proc::Error&) {
        lb.watch_slot = -1;
      }
      lb.bp.addr = addr;
      lb.bp.addrs = {addr};
    }
  }

  // A sentinel at `pc` hit by `tid`: every stack watchpoint whose frame `tid` has returned
  // from (its goroutine, back in the caller's frame) is deleted and listed in
  // watch_out_of_scope. True if there was one.
  bool watches_out_of_scope(pid_t tid, std::uint64_t pc) {
    std::vector<int> ids;
    for (auto it = scope_traps.lower_bound(pc); it != scope_traps.end() && it->first == pc; ++it) {
      ids.push_back(it->second);
    }
    std::optional<std::int64_t> frameoff;
    bool any = false;
    for (int id : ids) {
      auto b = bps.find(id);
      if (b == bps.end())
        continue;
      auto& lb = b->second;
      if (goid_of(tid) != lb.scope_goid)
        continue;
      if (!frameoff) {
        try {
          const auto frames = tgt->thread_stacktrace(tid, 0);
          frameoff = frames.empty() ? std::int64_t{1} : frames[0].frame_offset;
        } catch (const std::exception&) {
          frameoff = 1;  // never a frame offset (they are <= 0)
        }
      }
      if (*frameoff != lb.scope_frameoff)
        continue;
      drop_watch(lb);
      watch_out_of_scope.push_back(lb.bp);
      bps.erase(b);
      any = true;
    }
    return any;
  }

  // Delve resumes a thread that stopped at a watchpoint by single-stepping it first, and a
  // watchpoint that the stepped instruction triggers is not reported. Same here, so that
  // the hits a client sees are Delve's.
  void step_over_watch_stops() {
    using K = proc::StopEvent::Kind;
    std::vector<pid_t> tids;
    for (const auto& [tid, s] : stops) {
      auto b = bps.find(s.breakpoint_id);
      if (b != bps.end() && b->second.is_watchpoint())
        tids.push_back(tid);
    }
    for (pid_t tid : tids) {
      std::vector<proc::StopEvent> others;
      try {
        const auto ev = target::step_one_instruction(*p, tid, others);
        if (ev.kind == K::exited || ev.kind == K::killed) {
          mark_exit(exit_status_of(ev));
          return;
        }
        for (auto& o : others) {
          if (o.tid != tid || o.kind == K::signal)
            pending.push_back(o);
        }
      } catch (const proc::ProcessExited& e) {
        mark_exit(e.status());
        return;
      } catch (const proc::Error&) {
      }
    }
    if (!tids.empty())
      invalidate();
  }

  // Delve's ListBreakpoints{All: true}: one entry per physical breakpoint (an address, or a
  // watchpoint's hardware slot), described as Delve's VerboseDescr; the out-of-scope
  // sentinels of stack watchpoints as entries of their own.
  std::vector<api::Breakpoint> physical_breakpoints() {
    std::vector<api::Breakpoint> out;
    auto user_descr = [&](const api::Breakpoint& b) {
      return "User Cond=" + go_quote(b.cond) + " HitCond=" + hit_cond_verbose(b.hit_cond);
    };
    std::vector<const LogicalBreakpoint*> order;
    for (const auto& [id, lb] : bps) order.push_back(&lb);
    std::stable_sort(order.begin(), order.end(), [](const auto* a, const auto* b) {
      const bool ai = a->bp.id < 0, bi2 = b->bp.id < 0;
      if (ai != bi2)
        return ai;
      return ai ? a->bp.id > b->bp.id : a->bp.id < b->bp.id;
    });
    for (const auto* lbp : order) {
      const auto& lb = *lbp;
      if (lb.bp.disabled && !lb.is_watchpoint())
        continue;  // no physical breakpoint
      if (lb.is_watchpoint()) {
        if (lb.watch_slot < 0)
          continue;
        api::Breakpoint e = lb.bp;
        e.verbose_descr = {"OriginalData=",
                           "HWBreakIndex=" + go_hex_signed(lb.watch_slot) +
                               " watchStackOff=" + go_hex_signed(lb.watch_stack_off),
                           user_descr(lb.bp)};
        out.push_back(std::move(e));
        continue;
      }
      // The logical breakpoint's function: that of its last address, without type
      // parameters; an address in another function says "(multiple functions)".
      std::string logical_fn;
      if (!lb.bp.addrs.empty()) {
        if (const auto* fn = bi->function_at(proc::VirtAddr(lb.bp.addrs.back())))
          logical_fn = generic_base(fn->name);
      }
      for (auto a : lb.bp.addrs) {
        api::Breakpoint e = lb.bp;
        e.addr = a;
        e.addrs = {a};
        e.addrpid = {pid};
        e.function_name = logical_fn;
        const auto* fn = bi->function_at(proc::VirtAddr(a));
        const std::string phys = fn ? fn->name : std::string();
        if (!logical_fn.empty() && logical_fn != phys && logical_fn != generic_base(phys))
          e.function_name = "(multiple functions)";
        std::uint8_t orig = 0;
        try {
          orig = p->read<std::uint8_t>(proc::VirtAddr(a));  // under the trap: the original
        } catch (const proc::Error&) {
        }
        e.verbose_descr = {"OriginalData=" + go_hex_signed(orig), user_descr(lb.bp)};
        out.push_back(std::move(e));
      }
    }
    // The sentinels: one entry per address, one description per watchpoint it serves.
    std::map<std::uint64_t, std::vector<std::string>> sentinels;
    for (const auto& [addr, id] : scope_traps) {
      if (auto b = bps.find(id); b != bps.end()) {
        const std::string cond =
            "runtime.curg.goid == " + std::to_string(b->second.scope_goid) +
            " && runtime.frameoff == " + std::to_string(b->second.scope_frameoff);
        sentinels[addr].push_back("WatchOutOfScope Cond=" + go_quote(cond) +
                                  " checkPanicCall=false");
      }
    }
    for (const auto& [addr, id] : resize_traps) {
      if (auto b = bps.find(id); b != bps.end()) {
        const std::string cond = "runtime.curg.goid == " + std::to_string(b->second.scope_goid);
        sentinels[addr].push_back("StackResizeBreakpoint Cond=" + go_quote(cond));
      }
    }
    for (auto& [addr, descr] : sentinels) {
      api::Breakpoint e;
      e.addr = addr;
      e.addrs = {addr};
      e.addrpid = {pid};
      e.no_logical = true;
      std::uint8_t orig = 0;
      try {
        orig = p->read<std::uint8_t>(proc::VirtAddr(addr));
      } catch (const proc::Error&) {
      }
      e.verbose_descr = {"OriginalData=" + go_hex_signed(orig)};
      e.verbose_descr.insert(e.verbose_descr.end(), descr.begin(), descr.end());
      out.push_back(std::move(e));
    }
    return out;
  }

  // ---------------------------------------------------------------- running
  enum class Outcome { resume, stop };

  void stop_everything() {
    p->stop_all();
    // The goroutine ids cached so far belong to threads that were stopped already and stay
    // valid; the target's caches are rebuilt.
    if (tgt)
      tgt->invalidate();
  }

  // Delve's exit status: the code of a normal exit, minus the signal that killed it
  // ("Process N has exited with status -9" after a SIGKILL).
  static int exit_status_of(const proc::StopEvent& ev) {
    return ev.kind == proc::StopEvent::Kind::exited ? ev.exit_status : -ev.signal;
  }

  void mark_exit(int status) {
    exited = true;
    exit_status = status;
    stepper.reset();
    live = nullptr;
  }

  // A hit of an enabled user breakpoint at `pc` by `tid` whose condition holds: counts it
  // and loads what the breakpoint asks for. `primary`: the thread that stopped the process
  // (the others are stopped here, after its arguments are read); otherwise every thread is
  // stopped already.
  std::optional<ThreadStop> user_hit(pid_t tid, std::uint64_t pc, bool primary) {
    auto owner = site_owner.find(pc);
    if (owner == site_owner.end())
      return std::nullopt;
    return hit(bps.at(owner->second), tid, primary);
  }

  // The logical breakpoint of hardware slot `slot`, if a watchpoint uses it.
  LogicalBreakpoint* watch_of_slot(int slot) {
    for (auto& [id, lb] : bps) {
      if (lb.is_watchpoint() && lb.watch_slot == slot)
        return &lb;
    }
    return nullptr;
  }

  // A hit of `lb` (a breakpoint or a watchpoint) by `tid`, as user_hit().
  std::optional<ThreadStop> hit(LogicalBreakpoint& lb, pid_t tid, bool primary) {
    // (A watchpoint Delve refused to disable still stops: its slot is still set.)
    if (lb.bp.disabled && !lb.is_watchpoint())
      return std::nullopt;
    // A hit with no condition stops the process whatever happens: stop the other threads
    // first, so that what is read about every thread comes from the same few pages.
    const bool stops_surely = lb.bp.cond.empty() && lb.bp.hit_cond.empty();
    if (primary && stops_surely) {
      stop_everything();
      prefetch_goroutines();
    }
    std::optional<std::string> cond_error;
    if (!condition_true(lb, tid, cond_error))
      return std::nullopt;
    const auto goid = goid_of(tid);
    lb.bp.total_hit_count++;
    const auto per_g = ++lb.bp.hit_count[std::to_string(goid)];
    if (!lb.bp.hit_cond.empty() &&
        !hit_cond_matches(lb.bp.hit_cond, lb.bp.hit_cond_per_g ? per_g : lb.bp.total_hit_count))
      return std::nullopt;
    ThreadStop ts;
    ts.breakpoint_id = lb.bp.id;
    ts.cond_error = std::move(cond_error);
    std::optional<std::vector<target::Variable>> args;
    const auto args_cfg = lb.bp.load_args.value_or(api::kShortLoadConfig);
    if (lb.bp.load_args || lb.bp.trace_return)
      args = load_params(tid, to_target(args_cfg), false);
    if (primary && !stops_surely)
      stop_everything();
    ts.info = collect_info(lb.bp, tid, goid, args ? &*args : nullptr);
    if (lb.bp.trace_return && args) {
      std::vector<api::Variable> rv;
      for (const auto& v : *args) {
        if (v.flags & target::kFlagReturnArgument)
          rv.push_back(to_api(v));
      }
      ts.return_values = std::move(rv);
    }
    return ts;
  }

  // After a user breakpoint stopped the process: every other thread that stopped at one of
  // our breakpoints at the same time (stop_all() queued its trap) is reported in this stop
  // with its breakPoint, as Delve reports all threads at a breakpoint. Other events (and
  // hits whose condition is false, already counted as not stopping) wait for the next
  // continue in their order.
  void collect_other_hits() {
    using K = proc::StopEvent::Kind;
    while (auto ev = p->take_queued_event()) {
      if (ev->kind == K::watchpoint && !stops.contains(ev->tid)) {
        if (auto* lb = watch_of_slot(ev->watchpoint)) {
          if (auto ts = hit(*lb, ev->tid, false))
            stops[ev->tid] = std::move(*ts);
        }
        continue;  // the access has happened: the thread goes on when everything resumes
      }
      if (ev->kind == K::breakpoint && !stops.contains(ev->tid) &&
          !(stepper && stepper->owns(ev->pc)) && site_owner.contains(ev->pc.value())) {
        if (auto ts = user_hit(ev->tid, ev->pc.value(), false)) {
          stops[ev->tid] = std::move(*ts);
          continue;
        }
        // Not a stop (disabled, condition false): the thread moves past the trap when
        // everything resumes.
        continue;
      }
      pending.push_back(*ev);
    }
  }

  Outcome handle_event(const proc::StopEvent& ev) {
    using K = proc::StopEvent::Kind;
    switch (ev.kind) {
      case K::breakpoint: {
        const auto pc = ev.pc.value();
        if (call_return_site && call_return_site->first == ev.tid &&
            call_return_site->second == pc) {
          // The thread an injected call ran on is back at its trap: stepped over, not
          // reported again (Delve clears the thread's breakpoint when the call starts).
          call_return_site.reset();
          p->resume_thread(ev.tid);
          return Outcome::resume;
        }
        bool step_done = false;
        bool enter_call = false;
        std::optional<std::vector<api::Variable>> ret_values;
        if (stepper && stepper->owns(ev.pc)) {
          switch (stepper->check(ev.tid, ev.pc)) {
            case target::Stepper::Hit::ignore:
              break;
            case target::Stepper::Hit::done:
              step_done = true;
              break;
            case target::Stepper::Hit::enter_call:
              enter_call = true;
              break;
            case target::Stepper::Hit::at_return: {
              stop_everything();
              std::vector<proc::StopEvent> others;
              target::LoadConfig tc;
              if (step_ret_cfg)
                tc = to_target(*step_ret_cfg);
              auto vals = stepper->finish_return(ev.tid, step_ret_cfg ? &tc : nullptr, others);
              for (auto& o : others) {
                if (o.kind == K::exited || o.kind == K::killed) {
                  mark_exit(exit_status_of(o));
                  return Outcome::stop;
                }
                if (o.tid != ev.tid)
                  pending.push_back(o);
              }
              if (stepper->active()) {
                // Returned into runtime.deferreturn or a wrapper: the step goes on to the
                // real caller. The events of threads stopped meanwhile come first (a user
                // breakpoint among them ends the step), then everything runs again.
                step_ret_values = std::move(vals);
                while (!pending.empty()) {
                  const auto e = pending.front();
                  pending.pop_front();
                  if (handle_event(e) == Outcome::stop)
                    return Outcome::stop;
                }
                if (!stepper)
                  return Outcome::resume;  // cannot happen: only a stop drops the stepper
                invalidate();
                p->resume_all();
                return Outcome::resume;
              }
              stepper.reset();
              ThreadStop ts;
              if (step_ret_cfg)
                ts.return_values = to_api(vals);
              stops[ev.tid] = std::move(ts);
              current_tid = ev.tid;
              selected_goid = goid_of(ev.tid);
              invalidate();
              return Outcome::stop;
            }
          }
        }
        if (resize_traps.contains(pc)) {
          follow_stack_resize(ev.tid, pc);
          if (!site_owner.contains(pc) && !scope_traps.contains(pc) &&
              !(stepper && stepper->owns(ev.pc))) {
            goid_cache.erase(ev.tid);
            if (tgt)
              tgt->invalidate();
            p->resume_thread(ev.tid);
            return Outcome::resume;
          }
        }
        if (scope_traps.contains(pc) && watches_out_of_scope(ev.tid, pc)) {
          // A stack watchpoint's frame returned: it is gone, and the process stops here
          // (with this thread's breakpoint if one of the user's is here too), as Delve.
          stop_everything();
          ThreadStop ts;
          if (auto uh = user_hit(ev.tid, pc, false))
            ts = std::move(*uh);
          stops[ev.tid] = std::move(ts);
          current_tid = ev.tid;
          selected_goid = goid_of(ev.tid);
          collect_other_hits();
          return Outcome::stop;
        }
        if (auto ts = user_hit(ev.tid, pc, true)) {
          stops[ev.tid] = std::move(*ts);
          // As Delve: a user breakpoint hit by the stepped goroutine ends the step; one hit
          // by another goroutine interrupts it, and its traps stay for the next continue
          // (NextInProgress; next/step/stepOut refused until then or CancelNext).
          if (stepper && (stepper->goroutine() == 0 || stepper->goroutine() == goid_of(ev.tid)))
            stepper.reset();
          current_tid = ev.tid;
          selected_goid = goid_of(ev.tid);
          collect_other_hits();
          return Outcome::stop;
        }
        if (enter_call) {
          // `step` at an indirect CALL of its line: execute it, and the stepper sets its trap
          // in the function reached (as Delve's StepBreakpoint). The events of threads
          // stopped meanwhile come first, then everything runs again.
          stop_everything();
          std::vector<proc::StopEvent> others;
          const auto hit = stepper->enter_call(ev.tid, others);
          for (auto& o : others) {
            if (o.kind == K::exited || o.kind == K::killed) {
              mark_exit(exit_status_of(o));
              return Outcome::stop;
            }
            if (o.tid != ev.tid)
              pending.push_back(o);
          }
          if (hit == target::Stepper::Hit::done) {
            step_done = true;
          } else {
            while (!pending.empty()) {
              const auto e = pending.front();
              pending.pop_front();
              if (handle_event(e) == Outcome::stop)
                return Outcome::stop;
            }
            invalidate();
            p->resume_all();
            return Outcome::resume;
          }
        }
        if (step_done) {
          stop_everything();
          stepper.reset();
          ThreadStop ts;
          if (step_ret_cfg && step_ret_values)
            ts.return_values = to_api(*step_ret_values);
          step_ret_values.reset();
          stops[ev.tid] = std::move(ts);
          current_tid = ev.tid;
          selected_goid = goid_of(ev.tid);
          return Outcome::stop;
        }
        // What was read about this thread (its goroutine, registers, stack) while deciding
        // not to stop is stale once it runs again: the next hit may be another goroutine.
        goid_cache.erase(ev.tid);
        if (tgt)
          tgt->invalidate();
        p->resume_thread(ev.tid);
        return Outcome::resume;
      }
      case K::signal:
        p->resume_thread(ev.tid, ev.signal);
        return Outcome::resume;
      case K::watchpoint: {
        if (auto* lb = watch_of_slot(ev.watchpoint)) {
          if (auto ts = hit(*lb, ev.tid, true)) {
            stops[ev.tid] = std::move(*ts);
            current_tid = ev.tid;
            selected_goid = goid_of(ev.tid);
            collect_other_hits();
            return Outcome::stop;
          }
        }
        goid_cache.erase(ev.tid);
        if (tgt)
          tgt->invalidate();
        p->resume_thread(ev.tid);
        return Outcome::resume;
      }
      case K::single_step:
      case K::exec:
        p->resume_thread(ev.tid);
        return Outcome::resume;
      case K::exited:
        mark_exit(ev.exit_status);
        return Outcome::stop;
      case K::killed:
        mark_exit(exit_status_of(ev));
        return Outcome::stop;
      case K::interrupted:
        halt_requested = false;
        invalidate();
        return Outcome::stop;
    }
    return Outcome::resume;
  }

  // Resumes the process and runs the event loop until something stops it.
  void run_until_stop(const std::function<void()>& resumed) {
    struct ForgetCallSite {
      Impl& self;
      ~ForgetCallSite() { self.call_return_site.reset(); }
    } forget_call_site{*this};
    watch_out_of_scope.clear();
    step_over_watch_stops();
    stops.clear();
    while (!pending.empty()) {
      const auto ev = pending.front();
      pending.pop_front();
      if (handle_event(ev) == Outcome::stop) {
        if (resumed)
          resumed();
        return;
      }
    }
    if (halt_requested.exchange(false)) {
      if (resumed)
        resumed();
      return;
    }
    invalidate();
    {
      std::lock_guard lock(halt_mu);
      running = true;
    }
    note_resumed();
    if (resumed)
      resumed();
    struct NotRunning {
      Impl& self;
      ~NotRunning() {
        std::lock_guard lock(self.halt_mu);
        self.running = false;
      }
    } guard{*this};
    try {
      p->resume_all();
      for (;;) {
        const auto ev = p->wait_event();
        if (handle_event(ev) == Outcome::stop)
          return;
      }
    } catch (const proc::ProcessExited& e) {
      mark_exit(e.status());
    }
  }

  // ---------------------------------------------------------------- call injection
  // Delve's `call` command (proc.EvalExpressionWithCalls) for one top-level call of a Go
  // function, through the runtime's debugCallV2 protocol (runtime/asm_amd64.s): the
  // thread's registers are saved, the runtime opens a frame on a new goroutine of the same
  // thread and traps with R12 = 0 (we write the arguments where the function's DWARF puts
  // them at its entry and jump to it), 1 (results readable in the dead frame, as Delve reads
  // them: the function's locations at its entry with CFA = SP), 2 (panic value at SP), 8
  // (refused: reason at SP) and 16 (we restore every register but RIP/RSP and step out of
  // debugCallV2, then restore RFLAGS).
  struct CallArg {
    const dwarf::Variable* formal = nullptr;
    std::vector<std::byte> bytes;
    bool needs_alloc = false;  ///< a literal string: copied into a runtime.mallocgc block
    std::string literal;
  };
  struct InjectedCall {
    const dwarf::Function* fn = nullptr;
    std::uint64_t closure = 0;
    std::vector<CallArg> args;
    std::uint64_t frame_size = 0;
    target::LoadConfig cfg;
    bool mallocgc = false;  ///< runtime.mallocgc(size, nil, false): result in RAX
    std::uint64_t malloc_size = 0;
    std::uint64_t rax = 0;
    std::vector<target::Variable> results;
    std::optional<target::Variable> panic_value;
    std::string error;
  };
  /// The thread of the last call and its pc (one of our traps' sites, maybe): the next run
  /// steps over a trap there instead of reporting it again, as Delve.
  std::optional<std::pair<pid_t, std::uint64_t>> call_return_site;

  static std::string trim(const std::string& s) {
    const auto b = s.find_first_not_of(" \t\n");
    if (b == std::string::npos)
      return {};
    return s.substr(b, s.find_last_not_of(" \t\n") - b + 1);
  }

  // `f(a, b)` -> "f", {"a", "b"}; false when the expression is not one call at top level.
  static bool split_call(const std::string& e0, std::string& fn, std::vector<std::string>& args) {
    const std::string e = trim(e0);
    if (e.empty() || e.back() != ')')
      return false;
    int depth = 0;
    std::size_t open = std::string::npos;
    std::vector<std::size_t> commas;
    for (std::size_t i = 0; i < e.size(); ++i) {
      const char c = e[i];
      if (c == '"' || c == '\'' || c == '`') {
        for (++i; i < e.size() && e[i] != c; ++i) {
          if (c != '`' && e[i] == '\\')
            ++i;
        }
        continue;
      }
      if (c == '(' || c == '[' || c == '{') {
        if (depth == 0) {
          if (c != '(')
            open = std::string::npos;
          else
            open = i;
          commas.clear();
        }
        ++depth;
      } else if (c == ')' || c == ']' || c == '}') {
        if (--depth < 0)
          return false;
        if (depth == 0 && i != e.size() - 1)
          open = std::string::npos;
      } else if (c == ',' && depth == 1) {
        commas.push_back(i);
      }
    }
    if (depth != 0 || open == std::string::npos || open == 0)
      return false;
    fn = trim(e.substr(0, open));
    if (fn.empty())
      return false;
    args.clear();
    const std::string inner = e.substr(open + 1, e.size() - open - 2);
    if (trim(inner).empty())
      return true;
    std::size_t from = open + 1;
    for (auto c : commas) {
      args.push_back(trim(e.substr(from, c - from)));
      from = c + 1;
    }
    args.push_back(trim(e.substr(from, e.size() - 1 - from)));
    return true;
  }

  void write_u64(std::uint64_t addr, std::uint64_t v) {
    p->write_memory(proc::VirtAddr(addr), std::as_bytes(std::span(&v, 1)));
  }

  // An event of the running process that is not a step of the protocol on the call's thread:
  // the process goes on (breakpoints hit meanwhile are not reported: a difference from Delve,
  // which stops there with the call in progress).
  void call_other_event(const proc::StopEvent& ev) {
    using K = proc::StopEvent::Kind;
    switch (ev.kind) {
      case K::exited:
      case K::killed:
        mark_exit(exit_status_of(ev));
        throw_exited();
      case K::interrupted:
        halt_requested = false;
        p->resume_all();
        return;
      case K::signal:
        p->resume_thread(ev.tid, ev.signal == SIGTRAP ? 0 : ev.signal);
        return;
      default:
        p->resume_thread(ev.tid);
        return;
    }
  }

  proc::StopEvent call_wait() {
    try {
      return p->wait_event();
    } catch (const proc::ProcessExited& e) {
      mark_exit(e.status());
      throw_exited();
    }
  }

  // Runs one injected call on `tid` (stopped) to the end of the protocol; the other threads
  // run meanwhile (`others_stopped`: they are all stopped now and are resumed here).
  void inject(pid_t tid, InjectedCall& c, const dwarf::Function& dbgcall, bool others_stopped) {
    const auto saved = p->registers(tid);
    const auto saved_fp = p->fp_registers(tid);
    {
      auto r = saved;
      const std::uint64_t sp = r.gp.rsp - 8;
      write_u64(sp, r.gp.rip);
      write_u64(sp - 16, c.frame_size);
      r.gp.rsp = sp;
      r.gp.rip = bi->to_virt(dbgcall.low_pc).value();
      p->set_registers(tid, r);
    }
    invalidate();
    if (others_stopped)
      p->resume_all();
    else
      p->resume_thread(tid);
    const auto in_dbgcall = [&](std::uint64_t pc) {
      return pc >= bi->to_virt(dbgcall.low_pc).value() && pc < bi->to_virt(dbgcall.high_pc).value();
    };
    for (;;) {
      const auto ev = call_wait();
      if (ev.tid != tid || ev.kind != proc::StopEvent::Kind::signal || ev.signal != SIGTRAP) {
        call_other_event(ev);
        continue;
      }
      auto regs = p->registers(tid);
      std::uint8_t insn = 0;
      try {
        p->read_memory(proc::VirtAddr(regs.gp.rip - 1),
                       std::as_writable_bytes(std::span(&insn, 1)));
      } catch (const proc::Error&) {
      }
      const auto* at = bi->function_at(proc::VirtAddr(regs.gp.rip - 1));
      if (insn != 0xcc || (at && at->name.find("debugCall") == std::string::npos)) {
        call_other_event(ev);
        continue;
      }
      invalidate();
      switch (static_cast<target::DebugCallTrap>(regs.gp.r12)) {
        case target::DebugCallTrap::failed: {
          const auto ptr = p->read<std::uint64_t>(proc::VirtAddr(regs.gp.rsp));
          const auto len = p->read<std::uint64_t>(proc::VirtAddr(regs.gp.rsp + 8));
          std::string msg(std::min<std::uint64_t>(len, 4096), '\0');
          try {
            p->read_memory(proc::VirtAddr(ptr),
                           std::as_writable_bytes(std::span(msg.data(), msg.size())));
            c.error = msg;
          } catch (const proc::Error& e) {
            c.error = std::string("could not get precheck error reason: ") + e.what();
          }
          break;
        }
        case target::DebugCallTrap::call:
          if (c.error.empty())
            start_injected(tid, c, dbgcall);
          break;
        case target::DebugCallTrap::returned:
          if (!c.error.empty() || c.panic_value)
            break;
          if (c.mallocgc) {
            c.rax = regs.gp.rax;
            break;
          }
          try {
            // As Delve: pretend to be at the function's entry, CFA = SP.
            auto fake = regs;
            const std::uint64_t entry = bi->to_virt(c.fn->low_pc).value();
            const std::uint64_t cfa = regs.gp.rsp;
            fake.gp.rsp = cfa - 8;
            fake.gp.rip = entry;
            const auto rd = target::thread_register_reader(*p, tid, fake);
            auto l = loader();
            for (const auto& param : c.fn->params) {
              if (!param.is_result)
                continue;
              auto v = l.load_variable(param, entry, cfa, rd, c.cfg);
              v.flags |= target::kFlagFakeAddress;
              c.results.push_back(std::move(v));
            }
          } catch (const std::exception& e) {
            c.error = std::string("could not get return values: ") + e.what();
          }
          break;
        case target::DebugCallTrap::panicked: {
          const auto* t = bi->debug().find_type("interface {}");
          if (!t) {
            c.error = "could not get panic: no type interface {}";
            break;
          }
          auto l = loader();
          auto v = l.load("~panic", t, regs.gp.rsp, c.cfg);
          v.flags |= target::kFlagFakeAddress;
          c.panic_value = std::move(v);
          break;
        }
        case target::DebugCallTrap::restore: {
          auto r = saved;
          r.gp.rip = regs.gp.rip;
          r.gp.rsp = regs.gp.rsp;
          p->set_registers(tid, r);
          p->set_fp_registers(tid, saved_fp);
          // Out of debugCallV2 (it reloads the registers the stack copier may have moved,
          // then returns to the saved pc).
          for (int i = 0; i < 256 && in_dbgcall(p->registers(tid).gp.rip); ++i) {
            p->step_instruction(tid);
            for (;;) {
              const auto sev = call_wait();
              if (sev.tid == tid && sev.kind == proc::StopEvent::Kind::single_step)
                break;
              call_other_event(sev);
            }
          }
          auto last = p->registers(tid);
          last.gp.eflags = saved.gp.eflags;  // the tail of debugCallV2 changes the flags
          p->set_registers(tid, last);
          invalidate();
          return;
        }
      }
      p->resume_thread(tid);
    }
  }

  // Trap 0: the frame is open; writes the arguments and enters the function. A failure
  // leaves the thread where it is (the protocol then goes on to trap 1 and 16).
  void start_injected(pid_t tid, InjectedCall& c, const dwarf::Function& dbgcall) {
    try {
      for (auto& a : c.args) {
        if (!a.needs_alloc)
          continue;
        std::uint64_t base = 0;
        if (!a.literal.empty()) {
          InjectedCall m;
          m.fn = find_function("runtime.mallocgc");
          if (!m.fn)
            throw DebuggerError("could not find runtime.mallocgc");
          m.mallocgc = true;
          m.malloc_size = a.literal.size();
          m.frame_size = 8 * 4 + (9 + 15) * 8;
          inject(tid, m, dbgcall, false);
          if (!m.error.empty())
            throw DebuggerError(m.error);
          if (m.rax == 0)
            throw DebuggerError("could not allocate string");
          base = m.rax;
          p->write_memory(proc::VirtAddr(base),
                          std::as_bytes(std::span(a.literal.data(), a.literal.size())));
        }
        const std::uint64_t hdr[2] = {base, a.literal.size()};
        a.bytes.assign(reinterpret_cast<const std::byte*>(hdr),
                       reinterpret_cast<const std::byte*>(hdr) + 16);
        a.needs_alloc = false;
      }
      auto regs = p->registers(tid);
      auto fp = p->fp_registers(tid);
      const auto orig = regs;
      const std::uint64_t cfa = regs.gp.rsp;
      const std::uint64_t entry = bi->to_virt(c.fn->low_pc).value();
      regs.gp.rsp = cfa - 8;
      regs.gp.rip = entry;
      std::vector<target::MemoryWrite> mem;
      mem.push_back({cfa - 8, {}});
      {
        const std::uint64_t ret = orig.gp.rip;
        mem.back().bytes.assign(reinterpret_cast<const std::byte*>(&ret),
                                reinterpret_cast<const std::byte*>(&ret) + 8);
      }
      if (c.mallocgc) {
        regs.gp.rax = c.malloc_size;
        regs.gp.rbx = 0;
        regs.gp.rcx = 0;
      } else {
        if (c.closure != 0)
          regs.gp.rdx = c.closure;
        dwarf::ExprContext ctx;
        const proc::Registers at_entry = regs;
        ctx.read_register = [at_entry](unsigned n) { return at_entry.by_dwarf_number(n); };
        ctx.read_memory = target::process_memory_reader(*p);
        ctx.frame_base = cfa;
        ctx.cfa = cfa;
        ctx.static_base = bi->to_virt(dwarf::FileAddr(0)).value();
        for (const auto& a : c.args) {
          const auto loc = a.formal->location.at(c.fn->low_pc);
          if (!loc)
            throw DebuggerError("could not find location of argument " + a.formal->name);
          const auto pieces = dwarf::evaluate_location(*loc, ctx);
          target::scatter_value(a.bytes, pieces, regs.gp, fp, mem);
        }
      }
      for (const auto& w : mem) p->write_memory(proc::VirtAddr(w.addr), w.bytes);
      p->set_registers(tid, regs);
      p->set_fp_registers(tid, fp);
    } catch (const std::exception& e) {
      if (exited)
        throw;
      c.error = e.what();
    }
  }

  api::DebuggerState call_command(const api::DebuggerCommand& cmd,
                                  const std::function<void()>& resumed) {
    bool told = false;
    auto tell = [&] {
      if (!told && resumed)
        resumed();
      told = true;
    };
    try {
      return call_command_inner(cmd, tell);
    } catch (...) {
      tell();
      throw;
    }
  }

  api::DebuggerState call_command_inner(const api::DebuggerCommand& cmd,
                                        const std::function<void()>& tell) {
    if (!cmd.return_info_load_config)
      throw DebuggerError("can not call function with nil ReturnInfoLoadConfig");
    const auto rcfg = to_target(*cmd.return_info_load_config);
    std::int64_t goid = selected_goid;
    if (cmd.goroutine_id > 0) {
      goid = cmd.goroutine_id;
      if (!tgt->goroutine(goid))
        throw DebuggerError("unknown goroutine " + std::to_string(goid));
    }
    if (goid == 0)
      throw DebuggerError("no goroutine selected");
    const pid_t tid = thread_of(goid);
    if (tid == 0)
      throw DebuggerError("selected goroutine not running");
    target::Scope sc;
    sc.goroutine = goid;
    const auto frame = tgt->frame_for(sc);

    // An expression without a call to inject is just evaluated (still a "continue" for the
    // threads' stop information, as in Delve).
    std::optional<target::Variable> plain;
    try {
      plain = tgt->eval(cmd.expr, frame, rcfg);
    } catch (const target::EvalError& e) {
      if (std::string(e.what()) != "function calls not allowed without using 'call'")
        throw DebuggerError(e.what());
    }
    if (plain) {
      finish_call(tid);
      tell();
      return call_state(tid, std::vector<api::Variable>{to_api(*plain)});
    }
    std::string fn_expr;
    std::vector<std::string> arg_exprs;
    if (!split_call(cmd.expr, fn_expr, arg_exprs))
      throw DebuggerError("function calls not allowed without using 'call'");
    const auto* dbgcall = find_function("runtime.debugCallV2");
    if (!dbgcall)
      throw DebuggerError("function calls not supported by this version of Go");

    InjectedCall c;
    c.cfg = rcfg;
    target::Variable fv;
    try {
      fv = tgt->eval(fn_expr, frame, target::LoadConfig{false, 0, 0, 0, 0});
    } catch (const target::EvalError& e) {
      throw DebuggerError(e.what());
    }
    if (fv.kind != 19)  // reflect.Func
      throw DebuggerError("expression \"" + fn_expr + "\" is not a function");
    if (!fv.unreadable.empty())
      throw DebuggerError(fv.unreadable);
    if (fv.base == 0)
      throw DebuggerError("nil pointer dereference");
    if (!fv.children.empty())
      throw DebuggerError("goscope: calling methods is not supported");
    c.fn = bi->function_at(proc::VirtAddr(fv.base));
    if (!c.fn)
      throw DebuggerError("could not find DIE for function \"" + fn_expr + "\"");
    if (c.fn->optimized && c.fn->name != "runtime.mallocgc")
      throw DebuggerError("can not call optimized function " + c.fn->name +
                          " when regabi is in use");
    if (fv.addr != 0 && fv.addr != fv.base) {
      // A func value: its closure pointer goes in RDX.
      c.closure = p->read<std::uint64_t>(proc::VirtAddr(fv.addr));
    }
    std::vector<const dwarf::Variable*> formals;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> sizes;
    for (const auto& param : c.fn->params) {
      const std::uint64_t sz = param.type ? param.type->size : 0;
      sizes.emplace_back(sz, sz >= 8 ? 8 : (sz == 0 ? 1 : sz));
      if (!param.is_result)
        formals.push_back(&param);
    }
    c.frame_size = target::debug_call_frame_size(sizes);
    if (arg_exprs.size() > formals.size())
      throw DebuggerError("too many arguments");
    if (arg_exprs.size() < formals.size())
      throw DebuggerError("not enough arguments");

    // Each argument converted to its parameter's type (Delve's setValue) through a scratch
    // slot below the goroutine's stack pointer, whose bytes are put back at once.
    const std::uint64_t sp0 = p->registers(tid).gp.rsp;
    const std::uint64_t scratch = (sp0 - 256) & ~std::uint64_t{15};
    for (std::size_t i = 0; i < formals.size(); ++i) {
      const auto& formal = *formals[i];
      CallArg a;
      a.formal = &formal;
      if (!formal.type)
        throw DebuggerError("no type for argument " + formal.name);
      target::Variable av;
      try {
        av = tgt->eval(arg_exprs[i], frame, target::LoadConfig{false, 0, 1 << 20, 0, 0});
      } catch (const std::exception& e) {
        throw DebuggerError("error evaluating \"" + arg_exprs[i] + "\" as argument " + formal.name +
                            " in function " + c.fn->name + ": " + e.what());
      }
      const std::uint64_t size = formal.type->size;
      if (size > 240)
        throw DebuggerError("goscope: argument " + formal.name + " is too large to pass");
      std::vector<std::byte> orig(size);
      p->read_memory(proc::VirtAddr(scratch), orig);
      try {
        tgt->set_variable("*(*\"" + formal.type->name + "\")(0x" + hex(scratch) + ")", arg_exprs[i],
                          frame);
        a.bytes.resize(size);
        p->read_memory(proc::VirtAddr(scratch), a.bytes);
      } catch (const std::exception& e) {
        p->write_memory(proc::VirtAddr(scratch), orig);
        const std::string msg = e.what();
        const auto* real = formal.type->resolved();
        if (msg.rfind("literal string can not be allocated", 0) == 0 && real &&
            real->kind == dwarf::GoKind::string) {
          a.needs_alloc = true;
          a.literal = av.value;
        } else {
          invalidate();
          throw DebuggerError(msg);
        }
      }
      p->write_memory(proc::VirtAddr(scratch), orig);
      invalidate();
      c.args.push_back(std::move(a));
    }

    watch_out_of_scope.clear();
    stops.clear();
    tell();
    inject(tid, c, *dbgcall, true);
    stop_everything();
    prefetch_goroutines();
    call_return_site = std::make_pair(tid, p->registers(tid).gp.rip);
    finish_call(tid);
    if (!c.error.empty())
      throw DebuggerError(c.error);
    if (c.panic_value)
      return call_state(tid, std::vector<api::Variable>{to_api(*c.panic_value)});
    return call_state(tid, to_api(c.results));
  }

  // After a call every thread's stop information is gone, as after a continue.
  void finish_call(pid_t tid) {
    stops.clear();
    stops[tid] = ThreadStop{};
    current_tid = tid;
    invalidate();
  }

  // The reply of a call: the results are the current thread's ReturnValues in this reply
  // only (Delve sets them in the Command's reply; State does not show them).
  api::DebuggerState call_state(pid_t tid, std::vector<api::Variable> values) {
    auto st = build_state(true);
    if (st.current_thread && st.current_thread->id == tid)
      st.current_thread->return_values = values;
    if (st.threads) {
      for (auto& t : *st.threads) {
        if (t.id == tid)
          t.return_values = values;
      }
    }
    return st;
  }

  api::DebuggerState command(const api::DebuggerCommand& cmd,
                             const std::function<void()>& resumed) {
    if (is_detached || closing)
      throw DebuggerError("detached from the process");
    const auto& n = cmd.name;
    if (exited) {
      if (resumed)
        resumed();
      if (n == "continue" || n == "halt")
        return build_state();
      throw_exited();
    }
    if (n == "halt") {
      // Whatever ran has stopped by now (commands run one at a time); a halt that found
      // nothing running must not stop the next continue before it starts.
      halt_requested = false;
      if (resumed)
        resumed();
      return build_state();
    }
    if (n == "switchThread") {
      if (resumed)
        resumed();
      const auto ts = p->threads();
      if (std::find(ts.begin(), ts.end(), cmd.thread_id) == ts.end()) {
        throw DebuggerError("invalid thread " + std::to_string(cmd.thread_id));
      }
      current_tid = cmd.thread_id;
      selected_goid = goid_of(current_tid);
      return build_state();
    }
    if (n == "switchGoroutine") {
      if (resumed)
        resumed();
      const pid_t on = thread_of(cmd.goroutine_id);
      if (on == 0 && !tgt->goroutine(cmd.goroutine_id)) {
        throw DebuggerError("unknown goroutine " + std::to_string(cmd.goroutine_id));
      }
      selected_goid = cmd.goroutine_id;
      if (on != 0)
        current_tid = on;
      return build_state();
    }
    if (n == "continue" || n == "directionCongruentContinue") {
      run_until_stop(resumed);
      throw_condition_errors();
      return build_state(true);
    }
    if (n == "next" || n == "step" || n == "stepOut") {
      if (stepper && stepper->active()) {
        if (resumed)
          resumed();
        throw DebuggerError("next while nexting");
      }
      const auto kind = n == "next"   ? target::Stepper::Kind::next
                        : n == "step" ? target::Stepper::Kind::step
                                      : target::Stepper::Kind::step_out;
      step_ret_cfg_storage = cmd.return_info_load_config;
      step_ret_cfg = step_ret_cfg_storage ? &*step_ret_cfg_storage : nullptr;
      step_ret_values.reset();
      stepper = std::make_unique<target::Stepper>(*p, *bi);
      if (auto parked = parked_selected()) {
        // As Delve: the traps wait for the goroutine to be scheduled again.
        if (!stepper->start_parked(kind, parked->g_addr, parked->sched_pc, parked->sched_sp,
                                   parked->sched_bp)) {
          stepper.reset();
          if (resumed)
            resumed();
          throw DebuggerError("goroutine " + std::to_string(parked->id) +
                              " is not in a function with line information");
        }
        run_until_stop(resumed);
        throw_condition_errors();
        return build_state(true);
      }
      const pid_t tid = step_thread();
      if (!stepper->start(kind, tid)) {
        stepper.reset();
        return step_instruction(tid, resumed);
      }
      run_until_stop(resumed);
      throw_condition_errors();
      return build_state(true);
    }
    if (n == "stepInstruction" || n == "nextInstruction") {
      return step_instruction(step_thread(), resumed);
    }
    if (n == "call")
      return call_command(cmd, resumed);
    if (resumed)
      resumed();
    throw DebuggerError("unknown command " + n);
  }

  // The selected goroutine when it is not running on any thread.
  std::optional<target::Goroutine> parked_selected() {
    if (selected_goid == 0 || thread_of(selected_goid) != 0)
      return std::nullopt;
    auto g = tgt->goroutine(selected_goid);
    if (!g || g->sched_pc == 0)
      return std::nullopt;
    return g;
  }

  // The thread of the selected goroutine (Delve steps the selected goroutine).
  pid_t step_thread() {
    if (selected_goid != 0) {
      if (const pid_t tid = thread_of(selected_goid))
        return tid;
      throw DebuggerError("goroutine " + std::to_string(selected_goid) +
                          " is not running on a thread (stepping parked goroutines is not "
                          "supported)");
    }
    return current_tid;
  }

  api::DebuggerState step_instruction(pid_t tid, const std::function<void()>& resumed) {
    if (resumed)
      resumed();
    stops.clear();
    std::vector<proc::StopEvent> others;
    invalidate();
    note_resumed();
    const auto ev = target::step_one_instruction(*p, tid, others);
    using K = proc::StopEvent::Kind;
    if (ev.kind == K::exited || ev.kind == K::killed) {
      mark_exit(exit_status_of(ev));
    } else {
      for (auto& o : others) {
        if (o.tid != tid)
          pending.push_back(o);
      }
      current_tid = tid;
    }
    return build_state(true);
  }

  std::vector<api::DiscardedBreakpoint> restart(
      const std::optional<std::vector<std::string>>& new_args) {
    // Restart halted a running command before it was queued; that halt must not stop
    // the new process' first continue.
    halt_requested = false;
    if (cfg.attach_pid)
      throw DebuggerError("cannot restart process Delve did not create");
    if (p != nullptr && !exited) {
      try {
        p->kill();
      } catch (const std::exception&) {
      }
    }
    release_process();
    if (new_args)
      cfg.args = *new_args;
    start();
    std::vector<api::DiscardedBreakpoint> discarded;
    auto old = std::move(bps);
    bps.clear();
    site_owner.clear();
    create_internal_breakpoints();
    for (auto& [id, lb] : old) {
      if (id < 0)
        continue;
      if (lb.is_watchpoint()) {
        // Delve re-creates a breakpoint from where it was set: a watchpoint has no such
        // place, and is discarded.
        api::Breakpoint gone = logical_only(lb.bp);
        gone.hit_count.clear();
        gone.total_hit_count = 0;
        discarded.push_back({gone, "breakpoint " + std::to_string(id) + " can not be enabled"});
        continue;
      }
      api::Breakpoint req = lb.bp;
      req.id = id;
      req.hit_count.clear();
      req.total_hit_count = 0;
      req.file.clear();
      req.function_name.clear();
      req.addr = 0;
      req.trace_return = false;
      try {
        create_breakpoint(req, lb.loc_expr);
        bps[id].bp.trace_return = lb.bp.trace_return;
      } catch (const std::exception& e) {
        discarded.push_back({logical_only(lb.bp), e.what()});
      }
    }
    return discarded;
  }

  void detach(bool kill) {
    if (is_detached)
      return;
    stepper.reset();
    if (p != nullptr && !exited) {
      try {
        if (kill || !cfg.attach_pid) {
          p->kill();
        } else {
          p->detach();
        }
      } catch (const std::exception&) {
      }
    }
    release_process();
    is_detached = true;
  }

  // ---------------------------------------------------------------- find location
  std::vector<api::Location> find_location(const api::EvalScope& scope, const std::string& spec,
                                           bool include_non_exec) {
    require_live();
    auto not_found = [&]() -> DebuggerError {
      return DebuggerError("location \"" + spec + "\" not found");
    };
    auto at_pcs = [&](std::vector<std::uint64_t> pcs) {
      api::Location loc = location(pcs.front());
      loc.pcs = std::move(pcs);
      return loc;
    };
    std::string s = spec;
    while (!s.empty() && s.front() == ' ') s.erase(s.begin());
    if (s.empty())
      throw not_found();
    if (s[0] == '*') {
      std::uint64_t addr = 0;
      try {
        addr = std::stoull(s.substr(1), nullptr, 0);
      } catch (const std::exception&) {  // not a number in range: an expression
        auto f = tgt->frame_for(scope_of(scope));
        auto v = tgt->eval(s.substr(1), f, to_target(api::kDefaultLoadConfig));
        if (v.kind == 22 && !v.children.empty()) {  // a pointer: where it points
          addr = v.children[0].addr;
        } else if (auto a = wrapped_u64(v.value)) {
          addr = *a;  // an integer, modulo 2^64 as Delve converts it
        } else {
          throw DebuggerError("can not convert \"" + s.substr(1) + "\" to an address");
        }
      }
      return {location(addr)};  // Delve: no pcs for an address
    }
    if (s.size() > 2 && s.front() == '/' && s.back() == '/') {
      const auto re = make_filter(s.substr(1, s.size() - 2));
      std::vector<api::Location> out;
      for (const auto& fn : bi->debug().functions()) {
        if (re.match(fn.name))
          out.push_back(at_pcs({function_entry_pc(fn)}));
      }
      return out;
    }
    auto all_digits = [](const std::string& t) {
      return !t.empty() &&
             std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; });
    };
    auto current_file_line = [&]() -> std::pair<std::string, int> {
      pid_t tid = current_tid;
      try {
        auto f = tgt->frame_for(scope_of(scope));
        return {f.call.file, f.call.line};
      } catch (const std::exception&) {
      }
      const auto loc = location(p->registers(tid).gp.rip);
      return {loc.file, loc.line};
    };
    // Lines are Go ints (64 bits): one past int's range has no statement.
    auto file_line = [&](const std::string& file, std::int64_t line) -> std::vector<api::Location> {
      std::vector<std::uint64_t> pcs;
      if (line > 0 && line <= INT32_MAX)
        pcs = line_pcs(file, static_cast<int>(line));
      if (pcs.empty()) {
        if (include_non_exec) {
          api::Location loc;
          loc.file = file;
          loc.line = static_cast<int>(line);
          return {loc};
        }
        throw DebuggerError("could not find statement at " + file + ":" + std::to_string(line) +
                            ", please use a line with a statement");
      }
      auto loc = at_pcs(pcs);
      return {loc};
    };
    // Numbers are read as Delve reads them (strconv.Atoi, 64 bits), refused in its words.
    auto malformed = [&](std::size_t at, const std::string& why) {
      return DebuggerError("Malformed breakpoint location \"" + spec + "\" at " +
                           std::to_string(at) + ": " + why);
    };
    if ((s[0] == '+' || s[0] == '-') && all_digits(s.substr(1))) {
      const auto off = go_atoi(s);
      if (!off)
        throw malformed(0, "strconv.Atoi: parsing \"" + s + "\": value out of range");
      auto [file, line] = current_file_line();
      return file_line(file, static_cast<std::int64_t>(static_cast<std::uint64_t>(line) +
                                                       static_cast<std::uint64_t>(*off)));
    }
    if (all_digits(s)) {
      if (const auto n = go_atoi(s)) {
        auto [file, line] = current_file_line();
        (void)line;
        return file_line(file, *n);
      }
      return {location(*wrapped_u64(s))};  // Delve reads it as an address, modulo 2^64
    }
    // file:line or func:line
    std::string head = s;
    std::optional<std::int64_t> line;
    if (auto colon = s.rfind(':'); colon != std::string::npos) {
      const std::string rest = s.substr(colon + 1);
      if (all_digits(rest) || (rest.size() > 1 && rest[0] == '-' && all_digits(rest.substr(1)))) {
        const auto n = go_atoi(rest);
        if (!n || *n < 0)
          throw malformed(colon + 1, "line offset negative or not a number");
        head = s.substr(0, colon);
        line = *n;
      }
    }
    // A function: exact name, or a unique suffix after '.' or '/'.
    std::vector<const dwarf::Function*> fns;
    if (const auto* fn = find_function(head)) {
      fns.push_back(fn);
    } else {
      for (const auto& f : bi->debug().functions()) {
        if (f.name.size() > head.size() && f.name.ends_with(head)) {
          const char c = f.name[f.name.size() - head.size() - 1];
          if (c == '.' || c == '/')
            fns.push_back(&f);
        }
      }
    }
    if (fns.size() > 1) {
      std::string names;
      for (const auto* fn : fns) names += " " + fn->name;
      throw DebuggerError("Location \"" + spec + "\" ambiguous:" + names + "…");
    }
    if (fns.size() == 1) {
      const auto* fn = fns.front();
      if (!line)
        return {at_pcs({function_entry_pc(*fn)})};
      // func:N is N lines after the line of the function's entry (Delve's LineOffset).
      const auto entry = location(bi->to_virt(fn->low_pc).value());
      const int first = entry.line != 0 ? entry.line : static_cast<int>(fn->decl_line);
      const auto file = entry.file.empty() ? fn->decl_file : entry.file;
      std::vector<std::uint64_t> pcs;
      // Go's int arithmetic: wraps instead of overflowing.
      const auto target_line = static_cast<std::int64_t>(static_cast<std::uint64_t>(first) +
                                                         static_cast<std::uint64_t>(*line));
      if (target_line > 0 && target_line <= INT32_MAX) {
        for (auto a : line_pcs(file, static_cast<int>(target_line))) {
          if (bi->function_at(proc::VirtAddr(a)) == fn)
            pcs.push_back(a);
        }
      }
      if (pcs.empty()) {
        throw DebuggerError("could not find statement at " + file + ":" +
                            std::to_string(target_line) + ", please use a line with a statement");
      }
      return {at_pcs(std::move(pcs))};
    }
    if (line) {
      // Files: exact path or a suffix at a path boundary.
      const auto& files = bi->debug().lines().files();
      std::set<std::string> matches;
      for (const auto& f : files) {
        if (f == head ||
            (f.size() > head.size() && f.ends_with(head) && f[f.size() - head.size() - 1] == '/')) {
          matches.insert(f);
        }
      }
      if (matches.size() > 1) {
        throw DebuggerError("Location \"" + spec + "\" ambiguous");
      }
      if (matches.size() == 1)
        return file_line(*matches.begin(), *line);
    }
    throw not_found();
  }

  // ---------------------------------------------------------------- events
  // Emitted on the tracer thread around each command: RunningEvent once the target runs,
  // then StoppedEvent (with a TraceEvent per thread at a tracepoint) or ExitedEvent.

  void prepare_output(proc::LaunchOptions& lo) {
    output.reset();
    if (!cfg.capture_output)
      return;
    output = std::make_unique<OutputReader>();
    lo.stdout_path = output->stdout_path();
    lo.stderr_path = output->stderr_path();
  }

  void start_output() {
    if (!output)
      return;
    output->start([h = hub](OutputEvent::Stream stream, std::string data) {
      h->emit(OutputEvent{stream, std::move(data)});
    });
  }

  void note_resumed() {
    ran = true;
    if (hub->wanted())
      hub->emit(RunningEvent{running_command});
  }

  api::DebuggerState command_with_events(const api::DebuggerCommand& cmd,
                                         const std::function<void()>& resumed) {
    running_command = command_kind(cmd.name).value_or(CommandKind::continue_);
    ran = false;
    try {
      auto st = command(cmd, resumed);
      if (ran)
        report_stop(st);
      return st;
    } catch (...) {
      if (ran)
        report_after_error();
      throw;
    }
  }

  void report_exit() {
    if (exit_reported)
      return;
    exit_reported = true;
    if (!hub->wanted())
      return;
    // What the target wrote before it exited comes first (a grandchild holding the pipe
    // open must not hold the event back for long).
    if (output)
      output->wait_eof(std::chrono::milliseconds(500));
    hub->emit(ExitedEvent{pid.load(), exit_status});
  }

  void report_after_error() {
    if (exited) {
      report_exit();
      return;
    }
    if (!hub->wanted() || p == nullptr || is_detached)
      return;
    try {
      report_stop(build_state());
    } catch (...) {
      // Nothing to tell: the next command reports the state.
    }
  }

  StopReason reason_of(const api::Thread& t, bool current) const {
    if (t.breakpoint) {
      const auto& bp = *t.breakpoint;
      if (bp.id == kUnrecoveredPanicId)
        return StopReason::panic;
      if (bp.id == kFatalThrowId)
        return StopReason::fatal_error;
      if (bp.watch_type != 0)
        return StopReason::watchpoint;
      return bp.tracepoint ? StopReason::tracepoint : StopReason::breakpoint;
    }
    if (!current)
      return StopReason::none;
    switch (running_command) {
      case CommandKind::next:
      case CommandKind::step:
      case CommandKind::step_out:
      case CommandKind::step_instruction:
      case CommandKind::next_instruction:
        return StopReason::step;
      case CommandKind::call:
        return StopReason::call_return;
      default:
        return watch_out_of_scope.empty() ? StopReason::pause : StopReason::watchpoint;
    }
  }

  void report_stop(const api::DebuggerState& st) {
    if (st.exited) {
      report_exit();
      return;
    }
    if (!hub->wanted())
      return;
    StoppedEvent ev;
    ev.state = st;
    ev.command = running_command;
    const int cur = st.current_thread ? st.current_thread->id : 0;
    std::vector<const api::Thread*> traced;
    if (st.threads) {
      for (const auto& t : *st.threads) {
        StoppedThread ts{t.id, t.goroutine_id, reason_of(t, t.id == cur),
                         t.breakpoint ? t.breakpoint->id : 0};
        if (t.id == cur) {
          ev.reason = ts.reason;
          ev.threads.insert(ev.threads.begin(), ts);
        } else {
          ev.threads.push_back(ts);
        }
        if (ts.reason == StopReason::tracepoint)
          traced.push_back(&t);
      }
    }
    if (ev.threads.empty() && st.current_thread) {
      ev.reason = reason_of(*st.current_thread, true);
      ev.threads.push_back({cur, st.current_thread->goroutine_id, ev.reason,
                            st.current_thread->breakpoint ? st.current_thread->breakpoint->id : 0});
    }
    for (const auto* t : traced) hub->emit(TraceEvent{*t});
    hub->emit(ev);
  }

  // Breakpoint changes are found by comparing the user breakpoints after every job with
  // those before (hit counts aside), while someone listens: whichever request (or restart)
  // changed them, no code path has to remember to report it.
  std::map<int, api::Breakpoint> bp_seen;
  bool bp_seen_valid = false;

  std::map<int, api::Breakpoint> user_breakpoints() const {
    std::map<int, api::Breakpoint> out;
    for (const auto& [id, lb] : bps) {
      if (id > 0)
        out.emplace(id, shown(lb.bp));
    }
    return out;
  }

  void diff_breakpoints() {
    if (!hub->wanted()) {
      bp_seen_valid = false;
      return;
    }
    auto now = user_breakpoints();
    if (bp_seen_valid) {
      auto same = [](api::Breakpoint a, api::Breakpoint b) {
        a.hit_count.clear();
        b.hit_count.clear();
        a.total_hit_count = b.total_hit_count = 0;
        return a == b;
      };
      using C = BreakpointEvent::Change;
      for (const auto& [id, bp] : bp_seen) {
        if (!now.contains(id))
          hub->emit(BreakpointEvent{C::removed, bp});
      }
      for (const auto& [id, bp] : now) {
        auto it = bp_seen.find(id);
        if (it == bp_seen.end())
          hub->emit(BreakpointEvent{C::created, bp});
        else if (!same(it->second, bp))
          hub->emit(BreakpointEvent{C::changed, bp});
      }
    }
    bp_seen = std::move(now);
    bp_seen_valid = true;
  }
};

// ------------------------------------------------------------------- public members

Debugger::Debugger(DebuggerConfig cfg) : impl_(std::make_unique<Impl>(std::move(cfg))) {
  impl_->thread = std::thread([this] { impl_->loop(); });
  try {
    impl_->call([this] {
      impl_->start();
      impl_->create_internal_breakpoints();
    });
  } catch (...) {
    {
      std::lock_guard lock(impl_->mu);
      impl_->quit = true;
    }
    impl_->cv.notify_one();
    impl_->thread.join();
    throw;
  }
}

Debugger::~Debugger() {
  impl_->closing = true;
  request_halt();
  try {
    impl_->call([this] { impl_->detach(false); });
  } catch (const std::exception& e) {
    std::fprintf(stderr, "goscope: %s\n", e.what());
  }
  {
    std::lock_guard lock(impl_->mu);
    impl_->quit = true;
  }
  impl_->cv.notify_one();
  impl_->thread.join();
}

int Debugger::pid() const {
  return impl_->pid;
}
bool Debugger::attached_to_existing_process() const {
  return impl_->cfg.attach_pid.has_value();
}
std::string Debugger::executable_path() const {
  return impl_->cfg.attach_pid ? "/proc/" + std::to_string(*impl_->cfg.attach_pid) + "/exe"
                               : impl_->cfg.executable;
}
bool Debugger::detached() const {
  return impl_->is_detached;
}

api::DebuggerState Debugger::state(bool non_blocking) {
  if (non_blocking && impl_->running) {
    api::DebuggerState st;
    st.running = true;
    return st;
  }
  return impl_->call([this] {
    if (impl_->is_detached)
      throw DebuggerError("detached from the process");
    if (impl_->exited)
      impl_->throw_exited();
    return impl_->build_state();
  });
}

api::DebuggerState Debugger::command(const api::DebuggerCommand& cmd,
                                     const std::function<void()>& resumed) {
  if (cmd.name == "halt")
    request_halt();
  return impl_->call([&] { return impl_->command_with_events(cmd, resumed); });
}

namespace {

// Runs a tracer-thread job whose result goes to a StateCallback.
template <class F>
void report(const Debugger::StateCallback& done, F&& f) {
  std::optional<api::DebuggerState> st;
  std::exception_ptr err;
  try {
    st = f();
  } catch (...) {
    err = std::current_exception();
  }
  try {
    done(st ? &*st : nullptr, err);
  } catch (...) {
    // A front end's answer failed (a closed connection): nothing left to tell anyone.
  }
}

}  // namespace

void Debugger::command_async(const api::DebuggerCommand& cmd, std::function<void()> resumed,
                             StateCallback done) {
  if (cmd.name == "halt")
    request_halt();
  // Moved into the queue only when it is accepted: `done` is still there otherwise.
  struct Job {
    Debugger* self;
    api::DebuggerCommand cmd;
    std::function<void()> resumed;
    StateCallback done;
    void operator()() {
      report(done, [&] { return self->impl_->command_with_events(cmd, resumed); });
    }
  };
  Job job{this, cmd, std::move(resumed), std::move(done)};
  if (!impl_->post(job)) {
    report(job.done,
           []() -> api::DebuggerState { throw DebuggerError("debugger is shutting down"); });
  }
}

void Debugger::state_async(bool non_blocking, StateCallback done) {
  if (non_blocking && impl_->running) {
    report(done, [] {
      api::DebuggerState st;
      st.running = true;
      return st;
    });
    return;
  }
  struct Job {
    Debugger* self;
    StateCallback done;
    void operator()() {
      report(done, [&] {
        if (self->impl_->is_detached)
          throw DebuggerError("detached from the process");
        if (self->impl_->exited)
          self->impl_->throw_exited();
        return self->impl_->build_state();
      });
    }
  };
  Job job{this, std::move(done)};
  if (!impl_->post(job)) {
    report(job.done,
           []() -> api::DebuggerState { throw DebuggerError("debugger is shutting down"); });
  }
}

api::DebuggerState Debugger::command(const Command& cmd, const std::function<void()>& resumed) {
  return command(to_api(cmd), resumed);
}

void Debugger::command_async(const Command& cmd, std::function<void()> resumed,
                             StateCallback done) {
  command_async(to_api(cmd), std::move(resumed), std::move(done));
}

Subscription Debugger::subscribe(EventHandler handler) {
  auto sub = impl_->hub->subscribe(std::move(handler));
  // The breakpoints as they are now are the baseline of BreakpointEvents (a job: ordered
  // before every request that follows).
  auto snapshot = [impl = impl_.get()] { impl->diff_breakpoints(); };
  impl_->post(snapshot);
  return sub;
}

void Debugger::request_halt() {
  std::lock_guard lock(impl_->halt_mu);
  impl_->halt_requested = true;
  if (impl_->running) {
    if (auto* p = impl_->live.load())
      p->request_interrupt();
  }
}

api::Breakpoint Debugger::create_breakpoint(const api::Breakpoint& req, const std::string& loc_expr,
                                            bool suspended) {
  (void)suspended;
  // Delve 1.20.2's CreateBreakpoint ignores Disabled: the breakpoint starts enabled (only
  // Restart re-creates disabled ones, through the Impl).
  api::Breakpoint enabled = req;
  enabled.disabled = false;
  return impl_->call([&] { return shown(impl_->create_breakpoint(enabled, loc_expr)); });
}

api::Breakpoint Debugger::clear_breakpoint(int id, const std::string& name) {
  return impl_->call([&] { return shown(impl_->clear_breakpoint(id, name)); });
}

api::Breakpoint Debugger::create_watchpoint(const api::EvalScope& scope, const std::string& expr,
                                            int type) {
  return impl_->call([&] { return impl_->create_watchpoint(scope, expr, type); });
}

bool Debugger::hardware_watchpoints_available(std::string* why) {
  return proc::hardware_watchpoints_fire(why);
}

api::Breakpoint Debugger::toggle_breakpoint(int id, const std::string& name) {
  return impl_->call([&] {
    auto& lb = impl_->find_bp(id, name);
    std::string why;
    if (!valid_bp_name(lb.bp.name, why))  // Delve checks the name it is about to amend
      throw DebuggerError(why);
    if (lb.is_watchpoint()) {
      // As amend_breakpoint: the flag flips and the watchpoint stays, but it is an error;
      // enabling it again fails and deletes it (Delve cannot re-create a watchpoint).
      lb.bp.disabled = !lb.bp.disabled;
      if (lb.bp.disabled)
        throw DebuggerError("can not disable watchpoints");
      const int wid = lb.bp.id;
      impl_->drop_watch(lb);
      impl_->bps.erase(wid);
      throw DebuggerError("breakpoint " + std::to_string(wid) + " can not be enabled");
    }
    // Delve answers with the breakpoint as it found it, the flag flipped: the addresses
    // of before (none when it was disabled).
    api::Breakpoint reply = shown(lb.bp);
    reply.disabled = !reply.disabled;
    lb.bp.disabled = !lb.bp.disabled;
    if (!impl_->exited && impl_->p)
      impl_->set_enabled(lb, !lb.bp.disabled);
    return reply;
  });
}

void Debugger::amend_breakpoint(const api::Breakpoint& bp) {
  impl_->call([&] {
    auto& lb = impl_->find_bp(bp.id, "");
    std::string why;
    if (!valid_bp_name(bp.name, why))
      throw DebuggerError(why);
    Impl::check_condition(bp.cond);
    // A watchpoint keeps its hardware slot: Delve refuses to disable it, after it has taken
    // the new settings (and the flag, which then only shows in the listing).
    const bool refuse = lb.is_watchpoint() && bp.disabled && !lb.bp.disabled;
    const bool cannot_enable = lb.is_watchpoint() && !bp.disabled && lb.bp.disabled;
    if (!lb.is_watchpoint() && bp.disabled != lb.bp.disabled && !impl_->exited && impl_->p) {
      impl_->set_enabled(lb, !bp.disabled);
    }
    auto& b = lb.bp;
    b.name = bp.name;
    b.cond = bp.cond;
    b.hit_cond = bp.hit_cond;
    b.hit_cond_per_g = bp.hit_cond_per_g;
    b.tracepoint = bp.tracepoint;
    b.trace_return = bp.trace_return;
    b.goroutine = bp.goroutine;
    b.stacktrace = bp.stacktrace;
    b.variables = bp.variables;
    b.load_args = bp.load_args;
    b.load_locals = bp.load_locals;
    b.disabled = bp.disabled;
    if (refuse)
      throw DebuggerError("can not disable watchpoints");
    if (cannot_enable) {
      const int wid = b.id;
      impl_->drop_watch(lb);
      impl_->bps.erase(wid);
      throw DebuggerError("breakpoint " + std::to_string(wid) + " can not be enabled");
    }
  });
}

api::Breakpoint Debugger::get_breakpoint(int id, const std::string& name) {
  return impl_->call([&] { return shown(impl_->find_bp(id, name).bp); });
}

std::vector<api::Breakpoint> Debugger::breakpoints(bool all) {
  return impl_->call([&] {
    if (all) {
      // Delve lists the physical breakpoints of the live targets: none once it has exited.
      if (impl_->p == nullptr || impl_->exited)
        return std::vector<api::Breakpoint>{};
      return impl_->physical_breakpoints();
    }
    std::vector<api::Breakpoint> out;
    for (const auto& [id, lb] : impl_->bps) out.push_back(shown(lb.bp));
    // Delve lists the internal ones (-1, -2) first, then user breakpoints by id.
    std::stable_sort(out.begin(), out.end(),
                     [](const api::Breakpoint& a, const api::Breakpoint& b) {
                       const bool ai = a.id < 0, bi = b.id < 0;
                       if (ai != bi)
                         return ai;
                       return ai ? a.id > b.id : a.id < b.id;
                     });
    return out;
  });
}

std::vector<std::uint64_t> Debugger::function_return_locations(const std::string& fn_name) {
  return impl_->call([&] {
    impl_->require_live();
    const auto* fn = impl_->find_function(fn_name);
    if (fn == nullptr)  // Delve's ErrFunctionNotFound ends with a newline
      throw DebuggerError("could not find function " + fn_name + "\n");
    std::vector<std::uint64_t> out;
    for (const auto& rs : impl_->bi->return_sites(*fn)) out.push_back(rs.addr.value());
    return out;
  });
}

std::vector<api::Thread> Debugger::threads() {
  return impl_->call([&] {
    impl_->require_live();
    std::vector<api::Thread> out;
    for (pid_t tid : impl_->p->threads()) out.push_back(impl_->make_thread(tid));
    return out;
  });
}

api::Thread Debugger::thread(int tid) {
  return impl_->call([&] {
    impl_->require_live();
    const auto ts = impl_->p->threads();
    if (std::find(ts.begin(), ts.end(), tid) == ts.end()) {
      throw DebuggerError("no thread with id " + std::to_string(tid));
    }
    return impl_->make_thread(tid);
  });
}

std::vector<api::Goroutine> Debugger::goroutines(int start, int count, int* next) {
  return impl_->call([&] {
    impl_->require_live();
    std::vector<api::Goroutine> out;
    for (const auto& g : impl_->tgt->goroutines(start, count, next))
      out.push_back(impl_->convert(g));
    return out;
  });
}

std::vector<api::Stackframe> Debugger::stacktrace(std::int64_t goroutine_id, int depth, bool full,
                                                  const std::optional<api::LoadConfig>& cfg,
                                                  unsigned opts) {
  return impl_->call([&] {
    impl_->require_live();
    const auto goid = goroutine_id == -1 ? impl_->selected_goid : goroutine_id;
    std::vector<target::Frame> frames;
    if (goid == 0) {
      frames = impl_->tgt->thread_stacktrace(impl_->current_tid, depth);
    } else {
      auto g = impl_->tgt->goroutine(goid);
      if (!g)
        throw DebuggerError("unknown goroutine " + std::to_string(goid));
      frames = impl_->tgt->stacktrace(*g, depth, target::StackOptions::from_delve(opts));
    }
    std::vector<api::Stackframe> out;
    const auto c = to_target(cfg.value_or(api::kDefaultLoadConfig));
    for (const auto& f : frames) {
      auto sf = impl_->convert(f);
      for (const auto& d : f.defers) {
        api::Defer ad;
        ad.deferred_loc = impl_->convert(d.deferred);
        ad.defer_loc = impl_->convert(d.defer);
        ad.sp = d.sp;
        ad.unreadable = d.unreadable;
        sf.defers.push_back(std::move(ad));
      }
      if (full) {
        try {
          sf.arguments = to_api(impl_->tgt->function_arguments(f, c));
          sf.locals = to_api(impl_->tgt->local_variables(f, c));
          sf.vars_loaded = true;
        } catch (const std::exception& e) {
          sf.err = e.what();
        }
      }
      out.push_back(std::move(sf));
    }
    return out;
  });
}

std::vector<api::Variable> Debugger::local_vars(const api::EvalScope& scope,
                                                const api::LoadConfig& cfg) {
  return impl_->call([&]() -> std::vector<api::Variable> {
    impl_->require_live();
    auto f = impl_->tgt->frame_for(impl_->scope_of(scope));
    return to_api(impl_->tgt->local_variables(f, to_target(cfg)));
  });
}

std::vector<api::Variable> Debugger::function_args(const api::EvalScope& scope,
                                                   const api::LoadConfig& cfg) {
  return impl_->call([&]() -> std::vector<api::Variable> {
    impl_->require_live();
    auto f = impl_->tgt->frame_for(impl_->scope_of(scope));
    return to_api(impl_->tgt->function_arguments(f, to_target(cfg)));
  });
}

std::vector<api::Variable> Debugger::package_vars(const std::string& filter,
                                                  const api::LoadConfig& cfg) {
  return impl_->call([&]() -> std::vector<api::Variable> {
    impl_->require_live();
    return to_api(impl_->tgt->package_variables(filter, to_target(cfg)));
  });
}

api::Variable Debugger::eval(const api::EvalScope& scope, const std::string& expr,
                             const api::LoadConfig& cfg) {
  return impl_->call([&]() -> api::Variable {
    impl_->require_live();
    auto f = impl_->tgt->frame_for(impl_->scope_of(scope));
    return to_api(impl_->tgt->eval(expr, f, to_target(cfg)));
  });
}

void Debugger::set_variable(const api::EvalScope& scope, const std::string& symbol,
                            const std::string& value) {
  impl_->call([&] {
    impl_->require_live();
    auto f = impl_->tgt->frame_for(impl_->scope_of(scope));
    impl_->tgt->set_variable(symbol, value, f);
    impl_->invalidate();
  });
}

std::vector<api::Register> Debugger::registers(int thread_id, bool include_fp,
                                               const std::optional<api::EvalScope>& scope) {
  return impl_->call([&] {
    impl_->require_live();
    auto& p = *impl_->p;
    auto fp_of = [&](pid_t tid) -> std::optional<user_fpregs_struct> {
      if (!include_fp || tid == 0)
        return std::nullopt;
      return p.fp_registers(tid);
    };
    // The XSAVE area too: Delve shows the upper halves of live YMM/ZMM registers.
    auto xs_of = [&](pid_t tid) -> std::vector<std::byte> {
      return include_fp && tid != 0 ? p.xstate(tid) : std::vector<std::byte>{};
    };
    std::vector<target::RegisterView> views;
    if (scope) {
      const auto f = impl_->tgt->frame_for(impl_->scope_of(*scope));
      if (scope->deferred_call > 0) {
        // Delve: the current thread's registers with the deferred frame's sp.
        auto gp = p.registers(impl_->current_tid).gp;
        gp.rsp = f.sp;
        const auto fp = fp_of(impl_->current_tid);
        views = target::thread_registers(gp, fp ? &*fp : nullptr, xs_of(impl_->current_tid));
      } else {
        const auto fp = f.regs_complete ? fp_of(f.tid) : std::nullopt;
        views = target::scope_registers(f, fp ? &*fp : nullptr,
                                        f.regs_complete ? xs_of(f.tid) : std::vector<std::byte>{});
      }
    } else {
      const pid_t tid = thread_id != 0 ? thread_id : impl_->current_tid;
      const auto ts = p.threads();
      if (std::find(ts.begin(), ts.end(), tid) == ts.end())
        throw DebuggerError("couldn't find thread " + std::to_string(thread_id));
      const auto fp = fp_of(tid);
      views = target::thread_registers(p.registers(tid).gp, fp ? &*fp : nullptr, xs_of(tid));
    }
    std::vector<api::Register> out;
    out.reserve(views.size());
    for (auto& v : views) out.push_back({std::move(v.name), std::move(v.value), v.dwarf});
    return out;
  });
}

namespace {

// A general register by the name x86 Intel syntax gives it (Delve resolves an indirect
// CALL/JMP at the current pc from the registers).
std::optional<std::uint64_t> register_named(const user_regs_struct& r, const std::string& n) {
  static const std::pair<const char*, unsigned long long user_regs_struct::*> regs[] = {
      {"rax", &user_regs_struct::rax}, {"rbx", &user_regs_struct::rbx},
      {"rcx", &user_regs_struct::rcx}, {"rdx", &user_regs_struct::rdx},
      {"rsi", &user_regs_struct::rsi}, {"rdi", &user_regs_struct::rdi},
      {"rbp", &user_regs_struct::rbp}, {"rsp", &user_regs_struct::rsp},
      {"r8", &user_regs_struct::r8},   {"r9", &user_regs_struct::r9},
      {"r10", &user_regs_struct::r10}, {"r11", &user_regs_struct::r11},
      {"r12", &user_regs_struct::r12}, {"r13", &user_regs_struct::r13},
      {"r14", &user_regs_struct::r14}, {"r15", &user_regs_struct::r15},
      {"rip", &user_regs_struct::rip}};
  if (n.empty())
    return 0;  // an absent base or index adds nothing
  for (const auto& [name, field] : regs) {
    if (n == name)
      return static_cast<std::uint64_t>(r.*field);
  }
  return std::nullopt;
}

}  // namespace

std::vector<api::AsmInstruction> Debugger::disassemble(const api::EvalScope& scope,
                                                       std::uint64_t start, std::uint64_t end,
                                                       int flavour) {
  return impl_->call([&] {
    auto& I = *impl_;
    I.require_live();
    if (end == 0 && I.bi->function_at(proc::VirtAddr(start)) == nullptr) {
      char buf[96];
      std::snprintf(buf, sizeof buf, "address %#llx does not belong to any function",
                    static_cast<unsigned long long>(start));
      throw DebuggerError(buf);
    }
    // The registers of the scope's goroutine's thread, else of the current thread (which
    // is the selected goroutine's, as in Delve's FindGoroutine).
    pid_t tid = I.current_tid;
    const std::int64_t goid = scope.goroutine_id == -1 ? I.selected_goid : scope.goroutine_id;
    if (goid > 0 && goid != I.selected_goid) {
      const pid_t on = I.thread_of(goid);
      if (on != 0)
        tid = on;
      else if (!I.tgt->goroutine(goid))
        throw DebuggerError("unknown goroutine " + std::to_string(goid));
    }
    const auto regs = I.p->registers(tid).gp;
    if (!I.asm_symbols)
      I.asm_symbols.emplace(*I.bi);
    const auto f = flavour >= 0 && flavour <= 2 ? static_cast<target::AsmFlavour>(flavour)
                                                : target::AsmFlavour::intel;  // Delve's default
    std::vector<api::AsmInstruction> out;
    for (auto& in : target::disassemble(*I.bi, *I.asm_symbols, *I.p, start, end, f)) {
      api::AsmInstruction a;
      a.loc = I.location(in.pc);
      a.text = std::move(in.text);
      a.bytes = std::move(in.bytes);
      a.breakpoint = I.p->has_breakpoint(proc::VirtAddr(in.pc));
      a.at_pc = regs.rip == in.pc;
      std::optional<std::uint64_t> dest = in.dest;
      if (!dest && a.at_pc && in.indirect && !in.indirect->has_segment) {
        const auto& t = *in.indirect;
        if (!t.is_memory) {
          dest = register_named(regs, t.reg);
        } else if (auto b = register_named(regs, t.base), x = register_named(regs, t.index);
                   b && x && t.size > 0 && t.size <= 8) {
          const std::uint64_t at = *b + *x * t.scale + static_cast<std::uint64_t>(t.disp);
          std::uint64_t v = 0;
          try {
            I.p->read_memory(
                proc::VirtAddr(at),
                std::as_writable_bytes(std::span(&v, 1)).first(static_cast<std::size_t>(t.size)));
            dest = v;
          } catch (const proc::Error&) {
          }
        }
      }
      if (dest)
        a.dest_loc = I.location(*dest);
      out.push_back(std::move(a));
    }
    return out;
  });
}

api::GoroutineList Debugger::goroutines(int start, int count,
                                        const std::vector<api::GoroutineFilter>& filters,
                                        const api::GoroutineGrouping& grouping) {
  int next = -1;
  auto page = goroutines(start, count, &next);
  return list_goroutines(std::move(page), next, filters, grouping);
}

std::vector<api::PackageBuildInfo> Debugger::packages_build_info(bool include_files) {
  return impl_->call([&] {
    impl_->require_live();
    std::vector<api::PackageBuildInfo> out;
    for (auto& p : target::packages_build_info(*impl_->bi, include_files))
      out.push_back({std::move(p.import_path), std::move(p.directory_path), std::move(p.files)});
    return out;
  });
}

std::vector<std::byte> Debugger::examine_memory(std::uint64_t addr, int length) {
  return impl_->call([&] {
    impl_->require_live();
    if (length < 0)
      throw DebuggerError("len must be a positive number");
    std::vector<std::byte> mem(static_cast<std::size_t>(length));
    try {
      impl_->p->read_memory_with_traps(proc::VirtAddr(addr), mem);
    } catch (const proc::ProcessExited&) {
      throw;
    } catch (const proc::Error&) {
      throw DebuggerError("input/output error");  // Delve passes PTRACE_PEEKDATA's EIO on
    }
    return mem;
  });
}

std::vector<std::string> Debugger::functions(const std::string& filter) {
  return impl_->call([&] {
    if (impl_->bi == nullptr)
      throw DebuggerError("detached from the process");
    const auto re = make_filter(filter);
    std::set<std::string> names;
    for (const auto& fn : impl_->bi->debug().functions()) {
      if (filter.empty() || re.match(fn.name))
        names.insert(fn.name);
    }
    return std::vector<std::string>(names.begin(), names.end());
  });
}

std::vector<std::string> Debugger::sources(const std::string& filter) {
  return impl_->call([&] {
    if (impl_->bi == nullptr)
      throw DebuggerError("detached from the process");
    const auto re = make_filter(filter);
    std::set<std::string> names;
    for (const auto& f : impl_->bi->debug().lines().files()) {
      if (f.empty() || f == "<autogenerated>")
        continue;
      if (filter.empty() || re.match(f))
        names.insert(f);
    }
    return std::vector<std::string>(names.begin(), names.end());
  });
}

std::vector<std::string> Debugger::types(const std::string& filter) {
  return impl_->call([&] {
    if (impl_->bi == nullptr)
      throw DebuggerError("detached from the process");
    const auto re = make_filter(filter);
    std::set<std::string> names;
    for (auto& t : impl_->bi->debug().type_names()) {
      if (filter.empty() || re.match(t))
        names.insert(std::move(t));
    }
    return std::vector<std::string>(names.begin(), names.end());
  });
}

std::vector<api::Location> Debugger::find_location(const api::EvalScope& scope,
                                                   const std::string& spec,
                                                   bool include_non_executable_lines) {
  return impl_->call([&] {
    auto locs = impl_->find_location(scope, spec, include_non_executable_lines);
    for (auto& l : locs) l.pc_pids.assign(l.pcs.size(), impl_->pid);  // Delve's PCPids
    return locs;
  });
}

std::vector<api::DiscardedBreakpoint> Debugger::restart(
    const std::optional<std::vector<std::string>>& new_args) {
  request_halt();
  return impl_->call([&] { return impl_->restart(new_args); });
}

void Debugger::cancel_next() {
  impl_->call([&] { impl_->stepper.reset(); });
}

void Debugger::detach(bool kill) {
  impl_->closing = true;
  request_halt();
  impl_->call([&] { impl_->detach(kill); });
}

std::string Debugger::target_go_version() {
  // Delve: the producer of the first Go compile unit without its flags, and "" while the
  // target runs. Go's compiler writes "Go cmd/compile " + the toolchain version, which is
  // also the version the linker records in .go.buildinfo.
  if (impl_->running)
    return "";
  std::lock_guard lock(impl_->version_mu);
  return impl_->go_version.empty() ? "" : "Go cmd/compile " + impl_->go_version;
}

std::int64_t Debugger::last_modified_ns() const {
  struct stat st {};
  if (::stat(executable_path().c_str(), &st) != 0)
    return 0;
  return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000LL + st.st_mtim.tv_nsec;
}

}  // namespace goscope::session

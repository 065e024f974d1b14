// The logical breakpoints: traps, conditions, hit counts, what a hit collects.
#include "target/breakpoint_table.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <set>

#include "proc/error.hpp"
#include "proc/process.hpp"
#include "target/target.hpp"
#include "text/go_quote.hpp"

namespace goscope::target {
namespace {

std::string hex(std::uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(v));
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

// A logical breakpoint without its physical ones (Delve's ConvertLogicalBreakpoint, as
// Restart reports a discarded one): no addresses and no watch expression.
Breakpoint logical_only(const Breakpoint& b) {
  Breakpoint out = b;
  out.addr = 0;
  out.addrs.clear();
  out.addrpid.clear();
  out.watch_expr.clear();
  out.watch_type = 0;
  out.verbose_descr.clear();
  return out;
}

// Delve lists the internal ones (-1, -2) first, then user breakpoints by id.
bool listing_order(int a, int b) {
  const bool ai = a < 0, bi = b < 0;
  if (ai != bi)
    return ai;
  return ai ? a > b : a < b;
}

}  // namespace

bool valid_breakpoint_name(const std::string& name, std::string& why) {
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

bool hit_condition_matches(const std::string& cond, std::uint64_t count) {
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

Breakpoint shown(const Breakpoint& b) {
  if (!b.disabled || b.watch_type != 0)
    return b;
  Breakpoint out = b;
  out.addr = 0;
  out.addrs.clear();
  out.addrpid.clear();
  return out;
}

// Delve's %q of a condition in a message: quotes, backslashes and ASCII controls escaped,
// every other byte as it is.
std::string quote_for_message(const std::string& s) {
  return text::go_quote(s, text::QuoteStyle::ascii_controls());
}

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

// ---------------------------------------------------------------- creating and deleting

std::string BreakpointTable::describe_exists(std::uint64_t addr) const {
  const auto loc = dbg_.location(addr);
  return "Breakpoint exists at " + loc.file + ":" + std::to_string(loc.line) + " at " + hex(addr);
}

void BreakpointTable::check_condition(const std::string& cond) {
  if (cond.empty())
    return;
  try {
    Target::check_syntax(cond);
  } catch (const EvalError& e) {
    throw CommandError(e.what());
  }
}

Breakpoint BreakpointTable::create(Breakpoint req, const std::string& loc_expr) {
  std::string why;
  if (!valid_breakpoint_name(req.name, why))
    throw CommandError(why);
  check_condition(req.cond);
  if (!req.name.empty()) {
    for (const auto& [id, lb] : bps_) {
      if (lb.bp.name == req.name)
        throw CommandError("breakpoint name already exists");
    }
  }
  if (req.id > 0) {
    if (auto it = bps_.find(req.id); it != bps_.end())
      throw CommandError(describe_exists(it->second.bp.addr));
  }
  const auto& bi = dbg_.binary();
  auto& p = dbg_.process();
  const auto addrs = spec_.breakpoint_addresses(req);
  for (auto a : addrs) {
    if (site_owner_.contains(a))
      throw CommandError(describe_exists(a));
    if (bi.function_at(proc::VirtAddr(a)) == nullptr)
      throw CommandError("could not set breakpoint at " + hex(a) + ": no function there");
  }
  for (auto a : addrs) p.add_breakpoint(proc::VirtAddr(a));
  Breakpoint bp = std::move(req);
  bp.id = bp.id > 0 ? bp.id : next_id_++;
  if (bp.id >= next_id_)
    next_id_ = bp.id + 1;
  bp.addrs = addrs;
  bp.addr = addrs.front();
  bp.addrpid.assign(addrs.size(), dbg_.pid());
  const auto loc = dbg_.location(bp.addr);
  bp.file = loc.file;
  bp.line = loc.line;
  std::set<std::string> fns;
  for (auto a : addrs) {
    if (const auto* fn = bi.function_at(proc::VirtAddr(a)))
      fns.insert(LocationSpec::generic_base(fn->name));  // instantiations count as one
  }
  bp.function_name = fns.size() > 1 ? "(multiple functions)" : fns.empty() ? "" : *fns.begin();
  bp.hit_count.clear();
  bp.total_hit_count = 0;
  for (auto a : addrs) site_owner_[a] = bp.id;
  bps_[bp.id] = LogicalBreakpoint{bp, loc_expr};
  if (bp.disabled)
    set_enabled(bps_[bp.id], false);
  return bp;
}

void BreakpointTable::create_internal() {
  auto& p = dbg_.process();
  auto make = [&](int id, const std::string& name, const std::vector<std::string>& fns,
                  std::vector<std::string> vars) {
    std::vector<std::uint64_t> addrs;
    for (const auto& n : fns) {
      if (const auto* fn = dbg_.find_function(n))
        addrs.push_back(spec_.function_entry_pc(*fn));
    }
    if (addrs.empty())
      return;
    Breakpoint bp;
    bp.id = id;
    bp.name = name;
    bp.addrs = addrs;
    bp.addr = addrs.front();
    bp.addrpid.assign(addrs.size(), dbg_.pid());
    bp.variables = std::move(vars);
    if (addrs.size() > 1) {
      bp.file = "<multiple locations>";
      bp.function_name = "(multiple functions)";
    } else {
      const auto loc = dbg_.location(bp.addr);
      bp.file = loc.file;
      bp.line = loc.line;
      if (loc.function)
        bp.function_name = loc.function->name;
    }
    for (auto a : addrs) {
      p.add_breakpoint(proc::VirtAddr(a));
      site_owner_[a] = id;
    }
    bps_[id] = LogicalBreakpoint{bp, ""};
  };
  const bool has_startpanic = dbg_.find_function("runtime.startpanic") != nullptr;
  make(kUnrecoveredPanicId, "unrecovered-panic",
       {has_startpanic ? "runtime.startpanic" : "runtime.fatalpanic"}, {"runtime.curg._panic.arg"});
  make(kFatalThrowId, "runtime-fatal-throw", {"runtime.throw", "runtime.fatal"}, {});
}

std::map<int, LogicalBreakpoint> BreakpointTable::take_all() {
  site_owner_.clear();
  return std::exchange(bps_, {});
}

std::vector<DiscardedBreakpoint> BreakpointTable::recreate(std::map<int, LogicalBreakpoint> old,
                                                           int next_id) {
  next_id_ = std::max(next_id_, next_id);
  std::vector<DiscardedBreakpoint> discarded;
  for (auto& [id, lb] : old) {
    if (id < 0)
      continue;
    if (lb.is_watchpoint()) {
      // Delve re-creates a breakpoint from where it was set: a watchpoint has no such
      // place, and is discarded.
      Breakpoint gone = logical_only(lb.bp);
      gone.hit_count.clear();
      gone.total_hit_count = 0;
      discarded.push_back({gone, "breakpoint " + std::to_string(id) + " can not be enabled"});
      continue;
    }
    Breakpoint req = lb.bp;
    req.id = id;
    req.hit_count.clear();
    req.total_hit_count = 0;
    req.file.clear();
    req.function_name.clear();
    req.addr = 0;
    req.trace_return = false;
    try {
      create(req, lb.loc_expr);
      bps_[id].bp.trace_return = lb.bp.trace_return;
      bps_[id].nonstop = lb.nonstop;
      bps_[id].variables_cfg = lb.variables_cfg;
    } catch (const std::exception& e) {
      discarded.push_back({logical_only(lb.bp), e.what()});
    }
  }
  return discarded;
}

void BreakpointTable::set_enabled(LogicalBreakpoint& lb, bool enabled) {
  auto& p = dbg_.process();
  for (auto a : lb.bp.addrs) {
    if (enabled)
      p.add_breakpoint(proc::VirtAddr(a));
    else
      p.remove_breakpoint(proc::VirtAddr(a));
  }
}

LogicalBreakpoint& BreakpointTable::find(int id, const std::string& name) {
  if (!name.empty()) {
    for (auto& [bid, lb] : bps_) {
      if (lb.bp.name == name)
        return lb;
    }
    throw CommandError("no breakpoint with name " + name);
  }
  auto it = bps_.find(id);
  if (it == bps_.end())
    throw CommandError("no breakpoint with id " + std::to_string(id));
  return it->second;
}

LogicalBreakpoint* BreakpointTable::find(int id) {
  auto it = bps_.find(id);
  return it == bps_.end() ? nullptr : &it->second;
}

void BreakpointTable::insert(LogicalBreakpoint lb) {
  const int id = lb.bp.id;
  bps_[id] = std::move(lb);
}

Breakpoint BreakpointTable::clear(int id, const std::string& name) {
  auto& lb = find(id, name);
  Breakpoint out = lb.bp;
  if (lb.is_watchpoint())
    drop_watch(lb);
  else if (dbg_.live() && !lb.bp.disabled)
    set_enabled(lb, false);
  for (auto a : lb.bp.addrs) site_owner_.erase(a);
  bps_.erase(out.id);
  return out;
}

Breakpoint BreakpointTable::toggle(int id, const std::string& name) {
  auto& lb = find(id, name);
  std::string why;
  if (!valid_breakpoint_name(lb.bp.name, why))  // Delve checks the name it is about to amend
    throw CommandError(why);
  if (lb.is_watchpoint()) {
    // As amend(): the flag flips and the watchpoint stays, but it is an error; enabling it
    // again fails and deletes it (Delve cannot re-create a watchpoint).
    lb.bp.disabled = !lb.bp.disabled;
    if (lb.bp.disabled)
      throw CommandError("can not disable watchpoints");
    const int wid = lb.bp.id;
    drop_watch(lb);
    bps_.erase(wid);
    throw CommandError("breakpoint " + std::to_string(wid) + " can not be enabled");
  }
  // Delve answers with the breakpoint as it found it, the flag flipped: the addresses of
  // before (none when it was disabled).
  Breakpoint reply = shown(lb.bp);
  reply.disabled = !reply.disabled;
  lb.bp.disabled = !lb.bp.disabled;
  if (dbg_.live())
    set_enabled(lb, !lb.bp.disabled);
  return reply;
}

void BreakpointTable::amend(const Breakpoint& bp) {
  auto& lb = find(bp.id, "");
  std::string why;
  if (!valid_breakpoint_name(bp.name, why))
    throw CommandError(why);
  check_condition(bp.cond);
  // A watchpoint keeps its hardware slot: Delve refuses to disable it, after it has taken
  // the new settings (and the flag, which then only shows in the listing).
  const bool refuse = lb.is_watchpoint() && bp.disabled && !lb.bp.disabled;
  const bool cannot_enable = lb.is_watchpoint() && !bp.disabled && lb.bp.disabled;
  if (!lb.is_watchpoint() && bp.disabled != lb.bp.disabled && dbg_.live())
    set_enabled(lb, !bp.disabled);
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
    throw CommandError("can not disable watchpoints");
  if (cannot_enable) {
    const int wid = b.id;
    drop_watch(lb);
    bps_.erase(wid);
    throw CommandError("breakpoint " + std::to_string(wid) + " can not be enabled");
  }
}

// ---------------------------------------------------------------- listings

std::vector<Breakpoint> BreakpointTable::list() const {
  std::vector<Breakpoint> out;
  for (const auto& [id, lb] : bps_) out.push_back(shown(lb.bp));
  std::stable_sort(out.begin(), out.end(), [](const Breakpoint& a, const Breakpoint& b) {
    return listing_order(a.id, b.id);
  });
  return out;
}

std::map<int, Breakpoint> BreakpointTable::user_breakpoints() const {
  std::map<int, Breakpoint> out;
  for (const auto& [id, lb] : bps_) {
    if (id > 0)
      out.emplace(id, shown(lb.bp));
  }
  return out;
}

std::vector<Breakpoint> BreakpointTable::physical() const {
  const auto& bi = dbg_.binary();
  auto& p = dbg_.process();
  std::vector<Breakpoint> out;
  auto user_descr = [&](const Breakpoint& b) {
    return "User Cond=" + quote_for_message(b.cond) + " HitCond=" + hit_cond_verbose(b.hit_cond);
  };
  std::vector<const LogicalBreakpoint*> order;
  for (const auto& [id, lb] : bps_) order.push_back(&lb);
  std::stable_sort(order.begin(), order.end(),
                   [](const auto* a, const auto* b) { return listing_order(a->bp.id, b->bp.id); });
  for (const auto* lbp : order) {
    const auto& lb = *lbp;
    if (lb.bp.disabled && !lb.is_watchpoint())
      continue;  // no physical breakpoint
    if (lb.is_watchpoint()) {
      if (lb.watch_slot < 0)
        continue;
      Breakpoint e = lb.bp;
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
      if (const auto* fn = bi.function_at(proc::VirtAddr(lb.bp.addrs.back())))
        logical_fn = LocationSpec::generic_base(fn->name);
    }
    for (auto a : lb.bp.addrs) {
      Breakpoint e = lb.bp;
      e.addr = a;
      e.addrs = {a};
      e.addrpid = {dbg_.pid()};
      e.function_name = logical_fn;
      const auto* fn = bi.function_at(proc::VirtAddr(a));
      const std::string phys = fn ? fn->name : std::string();
      if (!logical_fn.empty() && logical_fn != phys &&
          logical_fn != LocationSpec::generic_base(phys))
        e.function_name = "(multiple functions)";
      std::uint8_t orig = 0;
      try {
        orig = p.read<std::uint8_t>(proc::VirtAddr(a));  // under the trap: the original
      } catch (const proc::Error&) {
      }
      e.verbose_descr = {"OriginalData=" + go_hex_signed(orig), user_descr(lb.bp)};
      out.push_back(std::move(e));
    }
  }
  return out;
}

// ---------------------------------------------------------------- hits

std::optional<ThreadStop> BreakpointTable::user_hit(pid_t tid, std::uint64_t pc, bool primary) {
  auto owner = site_owner_.find(pc);
  if (owner == site_owner_.end())
    return std::nullopt;
  return hit(bps_.at(owner->second), tid, primary);
}

std::optional<ThreadStop> BreakpointTable::hit(LogicalBreakpoint& lb, pid_t tid, bool primary) {
  return hit_in(lb, tid, primary ? HitMode::primary : HitMode::secondary);
}

std::optional<ThreadStop> BreakpointTable::hit_alone(LogicalBreakpoint& lb, pid_t tid) {
  return hit_in(lb, tid, HitMode::alone);
}

LogicalBreakpoint* BreakpointTable::nonstop_owner(std::uint64_t pc) {
  auto owner = site_owner_.find(pc);
  if (owner == site_owner_.end())
    return nullptr;
  auto& lb = bps_.at(owner->second);
  return lb.nonstop && !lb.bp.disabled ? &lb : nullptr;
}

void BreakpointTable::set_nonstop(int id, bool on, std::optional<LoadConfig> variables_cfg) {
  auto& lb = find(id, "");
  if (lb.is_watchpoint() && on)
    throw CommandError("a watchpoint cannot be nonstop");
  lb.nonstop = on;
  lb.variables_cfg = on ? variables_cfg : std::nullopt;
}

void BreakpointTable::stop_everything() {
  ++process_stops_;
  dbg_.stop_everything();
}

std::optional<ThreadStop> BreakpointTable::hit_in(LogicalBreakpoint& lb, pid_t tid, HitMode mode) {
  // (A watchpoint Delve refused to disable still stops: its slot is still set.)
  if (lb.bp.disabled && !lb.is_watchpoint())
    return std::nullopt;
  const bool primary = mode == HitMode::primary;
  // A hit with no condition stops the process whatever happens: stop the other threads
  // first, so that what is read about every thread comes from the same few pages.
  const bool stops_surely = lb.bp.cond.empty() && lb.bp.hit_cond.empty();
  if (primary && stops_surely) {
    stop_everything();
    dbg_.prefetch_goroutines();
  }
  std::optional<std::string> cond_error;
  if (!condition_true(lb, tid, cond_error))
    return std::nullopt;
  const auto goid = dbg_.goid_of(tid);
  lb.bp.total_hit_count++;
  const auto per_g = ++lb.bp.hit_count[std::to_string(goid)];
  if (!lb.bp.hit_cond.empty() &&
      !hit_condition_matches(lb.bp.hit_cond, lb.bp.hit_cond_per_g ? per_g : lb.bp.total_hit_count))
    return std::nullopt;
  ThreadStop ts;
  ts.kind = lb.is_watchpoint() ? StopKind::watchpoint : StopKind::breakpoint;
  ts.breakpoint_id = lb.bp.id;
  ts.cond_error = std::move(cond_error);
  std::optional<std::vector<Variable>> args;
  const auto args_cfg = lb.bp.load_args.value_or(kShortLoadConfig);
  if (lb.bp.load_args || lb.bp.trace_return)
    args = dbg_.load_params(tid, args_cfg, false);
  if (primary && !stops_surely)
    stop_everything();
  ts.info = collect_info(lb, tid, goid, args ? &*args : nullptr);
  if (lb.bp.trace_return && args) {
    std::vector<Variable> rv;
    for (const auto& v : *args) {
      if (v.flags & kFlagReturnArgument)
        rv.push_back(v);
    }
    ts.return_values = std::move(rv);
  }
  return ts;
}

// Delve's evalBreakpointCondition: a condition that cannot be evaluated, or is not a
// boolean, stops the thread (true) with `error` set.
bool BreakpointTable::condition_true(const LogicalBreakpoint& lb, pid_t tid,
                                     std::optional<std::string>& error) {
  if (lb.bp.cond.empty())
    return true;
  auto& tgt = dbg_.target();
  Variable v;
  try {
    const auto frames = tgt.thread_stacktrace(tid, 0);
    if (frames.empty())
      return true;
    v = tgt.eval(lb.bp.cond, frames[0], LoadConfig{});
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

BreakpointInfo BreakpointTable::collect_info(const LogicalBreakpoint& lb, pid_t tid,
                                             std::int64_t goid,
                                             const std::vector<Variable>* args_loaded) {
  const auto& bp = lb.bp;
  auto& tgt = dbg_.target();
  BreakpointInfo info;
  if (bp.goroutine && goid != 0)
    info.goroutine = dbg_.goroutine_view(goid, tid);
  if (bp.stacktrace > 0) {
    for (const auto& f : dbg_.thread_frames(tid, bp.stacktrace))
      info.stacktrace.push_back(dbg_.view(f));
  }
  if (bp.load_args)
    info.arguments = args_loaded ? *args_loaded : dbg_.load_params(tid, *bp.load_args, false);
  if (bp.load_locals || !bp.variables.empty()) {
    try {
      const auto frames = tgt.thread_stacktrace(tid, 0);
      if (!frames.empty()) {
        if (bp.load_locals)
          info.locals = tgt.local_variables(frames[0], *bp.load_locals);
        for (const auto& expr : bp.variables) {
          try {
            auto v = tgt.eval(expr, frames[0], lb.variables_cfg.value_or(LoadConfig{}));
            v.name = expr;
            info.variables.push_back(std::move(v));
          } catch (const std::exception& e) {
            Variable v;
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

}  // namespace goscope::target

// Hardware watchpoints and the sentinels of stack watchpoints.
#include "target/watchpoints.hpp"

#include <optional>

#include "proc/error.hpp"
#include "proc/process.hpp"
#include "proc/watch_probe.hpp"
#include "target/target.hpp"

namespace goscope::target {
namespace {

std::string hex(std::uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace

Watchpoints::Watchpoints(Debuggee& dbg, BreakpointTable& table) : dbg_(dbg), table_(table) {
  table_.set_watch_dropper([this](LogicalBreakpoint& lb) { drop(lb); });
}

bool Watchpoints::hardware_available(std::string* why) {
  return proc::hardware_watchpoints_fire(why);
}

Watchpoints::~Watchpoints() {
  table_.set_watch_dropper({});
}

std::int64_t Watchpoints::value_size(const Variable& v) const {
  // The DWARF type's size (Delve's kinds do not tell int32 from int).
  for (const auto* name : {&v.real_type, &v.type}) {
    if (name->empty())
      continue;
    if (const auto* t = dbg_.binary().debug().find_type(*name))
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

Breakpoint Watchpoints::create(const Scope& sc, const std::string& expr, int wtype) {
  auto& tgt = dbg_.target();
  auto& p = dbg_.process();
  const auto frame = tgt.frame_for(sc);
  const int id = table_.take_id();  // taken even when the watchpoint cannot be set, as Delve
  if ((wtype & 3) == 0)
    throw CommandError("at least one of read and write must be set for watchpoint");
  const auto v = tgt.eval(expr, frame, LoadConfig{});
  if (v.addr == 0 || (v.flags & kFlagFakeAddress) != 0 || v.type.empty())
    throw CommandError("can not watch " + quote_for_message(expr));
  if (!v.unreadable.empty())
    throw CommandError("expression " + quote_for_message(expr) + " is unreadable: " + v.unreadable);
  if (v.kind == 26 || v.kind == 0) {
    throw CommandError(std::string("can not watch variable of type ") +
                       (v.kind == 26 ? "unsafe.Pointer" : "invalid"));
  }
  const auto size = value_size(v);
  if (size <= 0 || size > 8)
    throw CommandError("can not watch variable of type " + v.type);
  std::optional<Goroutine> g;
  if (sc.goroutine > 0)
    g = tgt.goroutine(sc.goroutine);
  const bool stack_watch = g && !g->system_stack && v.addr >= g->stack_lo && v.addr < g->stack_hi;
  if (stack_watch && (wtype & 1) != 0)
    throw CommandError("can not watch stack allocated variable for reads");
  for (const auto& [bid, lb] : table_.all()) {
    if (lb.is_watchpoint() && lb.bp.addr == v.addr)
      throw CommandError("Breakpoint exists at :0 at " + hex(v.addr));
  }
  // The out-of-scope sentinel: where the goroutine's topmost frame returns to its caller.
  std::uint64_t sentinel = 0;
  std::int64_t sentinel_frameoff = 0;
  std::uint64_t resize = 0;
  if (stack_watch) {
    const auto frames = tgt.stacktrace(*g, 1);
    if (frames.size() < 2 || frames[1].current.pc == 0)
      throw CommandError("can not watch " + quote_for_message(expr));
    sentinel = frames[1].current.pc;
    sentinel_frameoff = frames[1].frame_offset;
    const auto* copystack = dbg_.find_function("runtime.copystack");
    if (copystack == nullptr)
      throw CommandError("could not find function runtime.copystack");
    std::vector<std::uint64_t> rets;
    for (const auto& rs : dbg_.binary().return_sites(*copystack)) {
      if (!rs.deferreturn)
        rets.push_back(rs.addr.value());
    }
    if (rets.size() != 1) {
      throw CommandError(rets.empty() ? "could not find return instruction of runtime.copystack"
                                      : "runtime.copystack has too many return instructions");
    }
    resize = rets.front();
  }
  // Some hypervisors take debug register values and never trap: refuse rather than set a
  // watchpoint that would silently never fire (measured once, at the first watchpoint).
  if (!proc::hardware_watchpoints_fire())
    throw CommandError("hardware watchpoints do not fire on this machine");
  int slot = -1;
  try {
    slot =
        p.set_watchpoint(proc::VirtAddr(v.addr), static_cast<std::size_t>(size),
                         (wtype & 1) != 0 ? proc::WatchKind::read_write : proc::WatchKind::write);
  } catch (const proc::Error& e) {
    const std::string what = e.what();
    if (what.find("in use") != std::string::npos)
      throw CommandError("hardware breakpoints exhausted");
    throw CommandError(what);
  }
  LogicalBreakpoint lb;
  auto& bp = lb.bp;
  bp.id = id;
  bool name_taken = false;
  for (const auto& [bid, other] : table_.all()) name_taken |= other.bp.name == expr;
  if (!name_taken)
    bp.name = expr;
  bp.addr = v.addr;
  bp.addrs = {v.addr};
  bp.addrpid = {dbg_.pid()};
  bp.watch_expr = expr;
  bp.watch_type = (wtype & 0xf) | static_cast<int>(size << 4);
  lb.watch_slot = slot;
  if (stack_watch) {
    lb.watch_stack_off = static_cast<std::int64_t>(v.addr - g->stack_hi);
    lb.scope_trap = sentinel;
    lb.scope_goid = g->id;
    lb.scope_frameoff = sentinel_frameoff;
    p.add_breakpoint(proc::VirtAddr(sentinel));
    scope_traps_.emplace(sentinel, id);
    lb.resize_trap = resize;
    p.add_breakpoint(proc::VirtAddr(resize));
    resize_traps_.emplace(resize, id);
  }
  Breakpoint out = bp;
  table_.insert(std::move(lb));
  return out;
}

void Watchpoints::drop(LogicalBreakpoint& lb) {
  // After a detach or an exit there is no process to take the slot and traps out of.
  if (lb.watch_slot >= 0 && dbg_.live()) {
    try {
      dbg_.process().clear_watchpoint(lb.watch_slot);
    } catch (const proc::Error&) {
    }
  }
  lb.watch_slot = -1;
  auto release = [&](std::multimap<std::uint64_t, int>& traps, std::uint64_t& trap) {
    if (trap == 0)
      return;
    for (auto it = traps.lower_bound(trap); it != traps.end() && it->first == trap;)
      it = it->second == lb.bp.id ? traps.erase(it) : std::next(it);
    if (dbg_.live()) {
      try {
        dbg_.process().remove_breakpoint(proc::VirtAddr(trap));
      } catch (const proc::Error&) {
      }
    }
    trap = 0;
  };
  release(scope_traps_, lb.scope_trap);
  release(resize_traps_, lb.resize_trap);
}

LogicalBreakpoint* Watchpoints::of_slot(int slot) {
  for (const auto& [id, lb] : table_.all()) {
    if (lb.is_watchpoint() && lb.watch_slot == slot)
      return table_.find(id);
  }
  return nullptr;
}

void Watchpoints::follow_stack_resize(pid_t tid, std::uint64_t pc) {
  auto& p = dbg_.process();
  const auto goid = dbg_.goid_of(tid);
  std::optional<Goroutine> g;
  for (auto it = resize_traps_.lower_bound(pc); it != resize_traps_.end() && it->first == pc;
       ++it) {
    auto* lbp = table_.find(it->second);
    if (lbp == nullptr || lbp->scope_goid != goid || lbp->watch_slot < 0)
      continue;
    auto& lb = *lbp;
    if (!g) {
      try {
        g = dbg_.target().goroutine_of_thread(tid);
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
      p.clear_watchpoint(lb.watch_slot);
      lb.watch_slot = p.set_watchpoint(
          proc::VirtAddr(addr), size,
          (lb.bp.watch_type & 1) != 0 ? proc::WatchKind::read_write : proc::WatchKind::write);
    } catch (const proc::Error&) {
      lb.watch_slot = -1;
    }
    lb.bp.addr = addr;
    lb.bp.addrs = {addr};
  }
}

bool Watchpoints::check_out_of_scope(pid_t tid, std::uint64_t pc) {
  std::vector<int> ids;
  for (auto it = scope_traps_.lower_bound(pc); it != scope_traps_.end() && it->first == pc; ++it)
    ids.push_back(it->second);
  std::optional<std::int64_t> frameoff;
  bool any = false;
  for (int id : ids) {
    auto* lbp = table_.find(id);
    if (lbp == nullptr)
      continue;
    auto& lb = *lbp;
    if (dbg_.goid_of(tid) != lb.scope_goid)
      continue;
    if (!frameoff) {
      try {
        const auto frames = dbg_.target().thread_stacktrace(tid, 0);
        frameoff = frames.empty() ? std::int64_t{1} : frames[0].frame_offset;
      } catch (const std::exception&) {
        frameoff = 1;  // never a frame offset (they are <= 0)
      }
    }
    if (*frameoff != lb.scope_frameoff)
      continue;
    drop(lb);
    out_of_scope_.push_back(lb.bp);
    table_.erase(id);
    any = true;
  }
  return any;
}

std::vector<Breakpoint> Watchpoints::physical_sentinels() const {
  auto& p = dbg_.process();
  std::map<std::uint64_t, std::vector<std::string>> sentinels;
  auto lookup = [&](int id) -> const LogicalBreakpoint* {
    auto it = table_.all().find(id);
    return it == table_.all().end() ? nullptr : &it->second;
  };
  for (const auto& [addr, id] : scope_traps_) {
    if (const auto* lb = lookup(id)) {
      const std::string cond = "runtime.curg.goid == " + std::to_string(lb->scope_goid) +
                               " && runtime.frameoff == " + std::to_string(lb->scope_frameoff);
      sentinels[addr].push_back("WatchOutOfScope Cond=" + quote_for_message(cond) +
                                " checkPanicCall=false");
    }
  }
  for (const auto& [addr, id] : resize_traps_) {
    if (const auto* lb = lookup(id)) {
      const std::string cond = "runtime.curg.goid == " + std::to_string(lb->scope_goid);
      sentinels[addr].push_back("StackResizeBreakpoint Cond=" + quote_for_message(cond));
    }
  }
  std::vector<Breakpoint> out;
  for (auto& [addr, descr] : sentinels) {
    Breakpoint e;
    e.addr = addr;
    e.addrs = {addr};
    e.addrpid = {dbg_.pid()};
    e.no_logical = true;
    std::uint8_t orig = 0;
    try {
      orig = p.read<std::uint8_t>(proc::VirtAddr(addr));
    } catch (const proc::Error&) {
    }
    e.verbose_descr = {"OriginalData=" + go_hex_signed(orig)};
    e.verbose_descr.insert(e.verbose_descr.end(), descr.begin(), descr.end());
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace goscope::target

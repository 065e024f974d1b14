// Goroutines from runtime.allgs, as Delve's GoroutinesInfo/GetG/parseG read them.
#include <algorithm>
#include <cstring>

#include "proc/disassembler.hpp"

#include "proc/error.hpp"
#include "target_impl.hpp"

namespace goscope::target {
namespace {

constexpr std::uint32_t kGdead = 6;
// Delve's maxGoroutineUserCurrentDepth.
constexpr int kUserCurrentDepth = 30;
// More goroutines than this in runtime.allgs (64 Mi: 512 MiB of pointers, terabytes of
// goroutines) is a damaged length read from a core, refused before allocating for it.
constexpr std::uint64_t kMaxGoroutines = std::uint64_t{1} << 26;
// load_all's prefetch: goroutines per chunk (their g's and stack tops stay within the
// process' page cache, 256 pages, and one process_vm_readv of 64 pages), and how much
// of a parked stack above g.sched.sp the walk to the first user frame usually reads.
constexpr std::size_t kPrefetchChunk = 32;
constexpr std::uint64_t kStackPrefetch = 1024;
// Go (linux/amd64, internal linking) keeps the current g at fs:-8 (runtime.tlsg).
constexpr std::uint64_t kTlsGOffset = 8;

bool starts_with(const std::string& s, const char* p) {
  return s.rfind(p, 0) == 0;
}

// runtime.Gosched and friends count as user code (Delve's exportedRuntime).
bool exported_runtime(const std::string& name) {
  constexpr std::size_t n = sizeof("runtime.") - 1;
  return name.size() > n && starts_with(name, "runtime.") && name[n] >= 'A' && name[n] <= 'Z';
}

// Delve's Function.privateRuntime: runtime.x with a lower-case x.
bool private_runtime(const std::string& name) {
  constexpr std::size_t n = sizeof("runtime.") - 1;
  return name.size() > n && starts_with(name, "runtime.") && !(name[n] >= 'A' && name[n] <= 'Z');
}

bool is_user_function(const std::string& name) {
  return name.find('.') != std::string::npos &&
         (!starts_with(name, "runtime.") || exported_runtime(name)) &&
         !starts_with(name, "internal/") && !starts_with(name, "runtime/internal");
}

}  // namespace

std::optional<Goroutine> Target::Impl::parse_g(std::uint64_t gaddr) {
  if (gaddr == 0 || !rt.ok)
    return std::nullopt;
  std::vector<std::byte> buf(rt.g_size);
  Goroutine g;
  g.g_addr = gaddr;
  if (!read(gaddr, buf)) {
    g.unreadable = "could not read runtime.g at " + std::to_string(gaddr);
    return g;
  }
  auto u64 = [&](std::uint64_t off) {
    std::uint64_t v = 0;
    if (off + 8 <= buf.size())
      std::memcpy(&v, buf.data() + off, 8);
    return v;
  };
  auto u32 = [&](std::uint64_t off) {
    std::uint32_t v = 0;
    if (off + 4 <= buf.size())
      std::memcpy(&v, buf.data() + off, 4);
    return v;
  };
  g.id = static_cast<std::int64_t>(u64(rt.goid));
  g.sched_sp = u64(rt.sched_sp);
  g.sched_pc = u64(rt.sched_pc);
  g.sched_bp = u64(rt.sched_bp);
  g.stack_lo = u64(rt.stack_lo);
  g.stack_hi = u64(rt.stack_hi);
  g.status = u32(rt.atomicstatus);
  g.wait_since = static_cast<std::int64_t>(u64(rt.waitsince));
  g.wait_reason =
      rt.waitreason_size == 1 ? static_cast<std::uint8_t>(buf[rt.waitreason]) : u32(rt.waitreason);
  g.go_statement.pc = u64(rt.gopc);
  g.start.pc = u64(rt.startpc);
  g.current = target.location(g.sched_pc);
  return g;
}

std::optional<Goroutine> Target::Impl::thread_goroutine(pid_t tid) {
  if (auto it = thread_g.find(tid); it != thread_g.end())
    return it->second;
  std::optional<Goroutine> result;
  try {
    const auto& regs = registers(tid);
    const auto* fn = bi.function_at(proc::VirtAddr(regs.gp.rip));
    // In runtime.clone the TLS of the new thread is not set up yet (Delve skips it too).
    if (!(fn && fn->name == "runtime.clone")) {
      auto gaddr = read_u64(regs.gp.fs_base - kTlsGOffset);
      if (gaddr && *gaddr) {
        result = parse_g(*gaddr);
        if (result && result->unreadable.empty() && result->id == 0) {
          // g0 (the system stack): the goroutine a user calls current is g0.m.curg.
          auto m = read_u64(*gaddr + rt.m);
          auto curg = m && *m ? read_u64(*m + rt.m_curg) : std::nullopt;
          result = curg && *curg ? parse_g(*curg) : std::nullopt;
          if (result)
            result->system_stack = true;
        }
        if (result && !result->unreadable.empty())
          result.reset();
        if (result) {
          result->thread_id = tid;
          result->current = target.location(regs.gp.rip);
        }
      }
    }
  } catch (const proc::Error&) {
    result.reset();
  }
  thread_g[tid] = result;
  if (result)
    finish(*result);
  thread_g[tid] = result;
  return result;
}

const dwarf::Function* Target::Impl::dwrap_unwrap(const dwarf::Function* fn) {
  if (fn == nullptr)
    return nullptr;
  if (!fn->trampoline && fn->name.find("\xc2\xb7"
                                       "dwrap\xc2\xb7") == std::string::npos) {
    return fn;
  }
  if (auto it = unwrapped.find(fn); it != unwrapped.end())
    return it->second;
  // Delve's dwrapUnwrap: the destination of the first direct CALL to a function that is
  // not private to the runtime (runtime.morestack_noctxt, runtime.deferreturn, ...).
  const dwarf::Function* out = fn;
  const auto size = fn->high_pc.value() - fn->low_pc.value();
  if (auto code = bi.elf().code_at(fn->low_pc, size)) {
    const auto base = bi.to_virt(fn->low_pc);
    for (const auto& ins : proc::disassemble(*code, base)) {
      if (!ins.is_call || ins.branch_target == 0)
        continue;
      const auto* callee = bi.function_at(proc::VirtAddr(ins.branch_target));
      if (callee && !private_runtime(callee->name)) {
        out = callee;
        break;
      }
    }
  }
  unwrapped.emplace(fn, out);
  return out;
}

void Target::Impl::finish(Goroutine& g) {
  // go statement: the CALL before gopc (runtime/traceback.go does the same).
  {
    const std::uint64_t gopc = g.go_statement.pc;
    std::uint64_t pc = gopc;
    const auto* fn = bi.function_at(proc::VirtAddr(gopc));
    if (fn && gopc > bi.to_virt(fn->low_pc).value())
      --pc;
    g.go_statement = target.location(pc);
    g.go_statement.pc = gopc;
    if (!fn)
      g.go_statement.function = nullptr;
  }
  {
    const auto* fn = dwrap_unwrap(bi.function_at(proc::VirtAddr(g.start.pc)));
    if (fn) {
      g.start = target.location(bi.to_virt(fn->low_pc).value());
      g.start.function = fn;
    } else {
      g.start = Location{g.start.pc, "", 0, nullptr, nullptr};
    }
    if (g.start.function) {
      const auto& n = g.start.function->name;
      g.system =
          n != "runtime.main" && n != "runtime.handleAsyncEvent" && starts_with(n, "runtime.");
    }
  }
  // User location: the first frame in user code (Delve's UserCurrent).
  g.user_current = g.current;
  // The top frame is user code: it is the first user frame (no stack walk needed).
  if (g.current.function && is_user_function(g.current.function->name))
    return finish_labels(g);
  // The walk stops at that frame: a goroutine parked in the runtime (gopark, chanrecv,
  // chanrecv1) has its user frame third or fourth, and the frames under it are not needed.
  try {
    const auto frames = walk(&g, g.thread_id, kUserCurrentDepth, true, {}, [](const Frame& f) {
      return f.call.function && is_user_function(f.call.function->name);
    });
    for (const auto& f : frames) {
      if (f.call.function && is_user_function(f.call.function->name)) {
        g.user_current = f.call;
        break;
      }
    }
  } catch (const std::exception&) {
  }
  finish_labels(g);
}

void Target::Impl::finish_labels(Goroutine& g) {
  // pprof labels: g.labels points at a runtime/pprof.labelMap (map[string]string).
  if (rt.labels != 0) {
    auto lp = read_u64(g.g_addr + rt.labels);
    const auto* lm = bi.debug().find_type("runtime/pprof.labelMap");
    if (lp && *lp && lm) {
      Variable m = loader.load("", lm, *lp, LoadConfig{true, 1, 64, 64, -1});
      for (std::size_t i = 0; i + 1 < m.children.size(); i += 2) {
        g.labels[m.children[i].value] = m.children[i + 1].value;
      }
    }
  }
}

void Target::Impl::load_all() {
  if (all_loaded)
    return;
  all.clear();
  std::map<std::int64_t, Goroutine> by_thread;
  for (pid_t tid : proc.threads()) {
    if (auto g = thread_goroutine(tid))
      by_thread.emplace(g->id, *g);
  }
  const auto* allgs = bi.debug().find_global("runtime.allgs");
  if (!allgs || !rt.ok)
    throw EvalError("could not find runtime.allgs");
  RegisterFn none = [](unsigned) -> std::optional<std::uint64_t> { return std::nullopt; };
  bool fake = false;
  std::string err;
  auto addr = loader.locate(*allgs, 0, 0, none, &fake, &err);
  if (!addr)
    throw EvalError("could not read runtime.allgs: " + err);
  auto base = read_u64(*addr);
  auto len = read_u64(*addr + 8);
  if (!base || !len)
    throw EvalError("could not read runtime.allgs");
  if (*len > kMaxGoroutines)
    throw EvalError("could not read runtime.allgs: " + std::to_string(*len) + " goroutines");
  std::vector<std::uint64_t> ptrs(*len);
  if (*len && !read(*base, std::as_writable_bytes(std::span(ptrs)))) {
    throw EvalError("could not read runtime.allgs");
  }
  all.reserve(ptrs.size());
  // On a live process each read is a system call unless its page is in the process' page
  // cache (set_stopped_read_cache): the g's of a chunk, then the tops of the stacks
  // finish() walks, are fetched together (one process_vm_readv each) before they are
  // parsed and walked, instead of a read or more per goroutine. The same bytes are read;
  // on a core, prefetch does nothing.
  std::vector<proc::VirtAddr> pages;
  std::vector<std::optional<Goroutine>> chunk;
  for (std::size_t first = 0; first < ptrs.size(); first += kPrefetchChunk) {
    const std::size_t end = std::min(ptrs.size(), first + kPrefetchChunk);
    pages.clear();
    for (std::size_t i = first; i < end; ++i) {
      if (ptrs[i] != 0) {
        pages.emplace_back(ptrs[i]);
        pages.emplace_back(ptrs[i] + rt.g_size - 1);
      }
    }
    proc.prefetch(pages);
    chunk.clear();
    for (std::size_t i = first; i < end; ++i) chunk.push_back(parse_g(ptrs[i]));
    pages.clear();
    for (const auto& g : chunk) {
      if (!g || !g->unreadable.empty() || g->status == kGdead || by_thread.contains(g->id) ||
          (g->current.function && is_user_function(g->current.function->name))) {
        continue;  // not walked from g.sched by finish()
      }
      pages.emplace_back(g->sched_sp);
      if (g->sched_sp < g->stack_hi && g->stack_hi - g->sched_sp > kStackPrefetch)
        pages.emplace_back(g->sched_sp + kStackPrefetch);
      else if (g->sched_sp < g->stack_hi)
        pages.emplace_back(g->stack_hi - 1);
    }
    proc.prefetch(pages);
    for (std::size_t i = first; i < end; ++i) {
      auto& g = chunk[i - first];
      if (!g) {
        Goroutine bad;
        bad.unreadable = "error derefing *G";
        all.emplace_back(i, std::move(bad));
        continue;
      }
      if (!g->unreadable.empty()) {
        all.emplace_back(i, std::move(*g));
        continue;
      }
      if (auto it = by_thread.find(g->id); it != by_thread.end()) {
        g->thread_id = it->second.thread_id;
        g->current = it->second.current;
        g->system_stack = it->second.system_stack;
      }
      if (g->status == kGdead)
        continue;
      finish(*g);
      all.emplace_back(i, std::move(*g));
    }
  }
  all_loaded = true;
}

std::vector<const Goroutine*> Target::goroutine_page(int start, int count, int* next) {
  impl_->load_all();
  std::vector<const Goroutine*> out;
  out.reserve(count > 0 ? std::min<std::size_t>(static_cast<std::size_t>(count), impl_->all.size())
                        : impl_->all.size());
  if (next)
    *next = -1;
  for (const auto& [index, g] : impl_->all) {
    if (static_cast<int>(index) < start)
      continue;
    if (count > 0 && static_cast<int>(out.size()) >= count) {
      if (next)
        *next = static_cast<int>(index);
      break;
    }
    out.push_back(&g);
  }
  return out;
}

std::vector<Goroutine> Target::goroutines(int start, int count, int* next) {
  const auto page = goroutine_page(start, count, next);
  std::vector<Goroutine> out;
  out.reserve(page.size());
  for (const Goroutine* g : page) out.push_back(*g);
  return out;
}

std::optional<Goroutine> Target::goroutine(std::int64_t id) {
  for (pid_t tid : process_->threads()) {
    auto g = impl_->thread_goroutine(tid);
    if (g && g->id == id)
      return g;
  }
  impl_->load_all();
  for (const auto& [index, g] : impl_->all) {
    if (g.id == id && g.unreadable.empty())
      return g;
  }
  return std::nullopt;
}

std::optional<Goroutine> Target::goroutine_of_thread(pid_t tid) {
  return impl_->thread_goroutine(tid);
}

}  // namespace goscope::target

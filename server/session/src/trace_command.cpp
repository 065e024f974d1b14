#include "session/trace_command.hpp"

#include "session/launch.hpp"

#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>

#include "proc/disassembler.hpp"
#include "proc/error.hpp"
#include "proc/process.hpp"
#include "target/binary_info.hpp"
#include "target/condition.hpp"
#include "target/target.hpp"
#include "target/tracer.hpp"
#include "target/uprobe_tracer.hpp"
#include "trace_output.hpp"

namespace goscope::session {
namespace {

std::atomic<proc::Process*> g_running{nullptr};

/// Hands events from the tracer (ptrace) thread to the writer thread, so that formatting
/// and output never delay the traced program. Unbounded: no event is ever dropped.
class EventQueue final : public target::TraceObserver {
 public:
  void on_event(target::TraceEvent&& ev) override {
    bool wake = false;
    {
      std::lock_guard lock(mu_);
      pending_.push_back(std::move(ev));
      wake = pending_.size() == kWakeBatch;
    }
    // Waking the writer per event would cost a context switch per event when both threads
    // share a CPU; it wakes for a full batch, and on its own every few milliseconds.
    if (wake)
      cv_.notify_one();
  }
  void close() {
    {
      std::lock_guard lock(mu_);
      closed_ = true;
    }
    cv_.notify_one();
  }
  /// Blocks until events arrive; false once closed and drained.
  bool take(std::deque<target::TraceEvent>& out) {
    std::unique_lock lock(mu_);
    while (!closed_ && pending_.size() < kWakeBatch) {
      cv_.wait_for(lock, std::chrono::milliseconds(5));
      if (!pending_.empty())
        break;
    }
    if (pending_.empty())
      return !closed_;
    out.swap(pending_);
    return true;
  }

 private:
  static constexpr std::size_t kWakeBatch = 4096;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<target::TraceEvent> pending_;
  bool closed_ = false;
};

std::uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

// Go package path of a function name: up to the first '.' after the last '/'.
std::string package_of(const std::string& fn) {
  const auto slash = fn.rfind('/');
  const auto dot = fn.find('.', slash == std::string::npos ? 0 : slash);
  return dot == std::string::npos ? fn : fn.substr(0, dot);
}

// Go's package patterns: "a/b" exactly, "a/b/..." for a/b and everything below it.
bool package_matches(const std::string& pkg, const std::string& pattern) {
  constexpr std::string_view kAll = "/...";
  if (pattern.size() > kAll.size() && pattern.ends_with(kAll)) {
    const auto prefix = pattern.substr(0, pattern.size() - kAll.size());
    return pkg == prefix || pkg.starts_with(prefix + "/");
  }
  return pkg == pattern;
}

// dlv HEAD's --follow-calls: the roots and every function they reach through direct calls,
// breadth first, the roots being depth 1. Calls through function values and interfaces are
// not followed (dlv resolves those with run-time breakpoints).
std::vector<const dwarf::Function*> follow_calls(const target::BinaryInfo& bi,
                                                 const std::vector<const dwarf::Function*>& roots,
                                                 int max_depth) {
  std::vector<const dwarf::Function*> out;
  std::set<const dwarf::Function*> seen;
  std::deque<std::pair<const dwarf::Function*, int>> queue;
  for (const auto* r : roots) queue.emplace_back(r, 1);
  while (!queue.empty()) {
    auto [fn, depth] = queue.front();
    queue.pop_front();
    if (!seen.insert(fn).second)
      continue;
    out.push_back(fn);
    if (depth + 1 > max_depth)
      continue;
    const auto size = fn->high_pc.value() - fn->low_pc.value();
    auto code = bi.elf().code_at(fn->low_pc, size);
    if (!code)
      continue;
    for (const auto& ins : proc::disassemble(*code, bi.to_virt(fn->low_pc))) {
      if (!ins.is_call || ins.branch_target == 0)
        continue;
      const auto* callee = bi.function_at(proc::VirtAddr(ins.branch_target));
      if (callee && callee->low_pc.value() == ins.branch_target - bi.load_bias() &&
          !seen.contains(callee)) {
        queue.emplace_back(callee, depth + 1);
      }
    }
  }
  return out;
}

struct RunningGuard {
  explicit RunningGuard(proc::Process* p) { g_running.store(p); }
  ~RunningGuard() { g_running.store(nullptr); }
};

}  // namespace

void interrupt_trace() {
  if (auto* p = g_running.load())
    p->request_interrupt();
}

int run_trace(const TraceRequest& req, std::FILE* out) {
  // Go's regexp (RE2): a hostile pattern is an error, never a stack overflow.
  std::optional<target::GoRegexp> re;
  try {
    re.emplace(req.regexp);
  } catch (const target::RegexpError& e) {
    throw Error("invalid filter argument: " + std::string(e.what()));
  }

  // The session's launch spec: builds the package when asked (removing the binary again at
  // the end), or names the binary / the attached process' executable.
  LaunchSpec spec;
  if (req.pid) {
    if (::kill(*req.pid, 0) < 0 && errno == ESRCH) {
      throw Error("could not attach to pid " + std::to_string(*req.pid) + ": no such process");
    }
    spec.mode = LaunchMode::attach;
    spec.pid = req.pid;
  } else if (req.exec_path.empty()) {
    spec.mode = req.test ? LaunchMode::test : LaunchMode::debug;
    spec.program = req.package.value_or("");
    spec.output = req.output;
  } else {
    spec.mode = LaunchMode::exec;
    spec.program = req.exec_path;
  }
  spec.args = req.args;
  std::optional<PreparedLaunch> launch;
  try {
    launch.emplace(spec);
  } catch (const LaunchError& e) {
    throw Error(e.kind() == LaunchError::Kind::build_failed
                    ? "could not build package (go build failed)"
                    : std::string(e.what()));
  }
  // As before: the path as given (dlv trace prints and loads it so).
  const std::string path = spec.mode == LaunchMode::exec ? req.exec_path : launch->executable();

  std::unique_ptr<target::BinaryInfo> bi;
  try {
    bi = target::BinaryInfo::load(path);
  } catch (const target::BinaryError& e) {
    throw Error(std::string("could not launch process: ") + e.what());
  }
  std::optional<target::GoRegexp> exclude;
  if (!req.exclude.empty()) {
    try {
      exclude.emplace(req.exclude);
    } catch (const target::RegexpError& e) {
      throw Error("invalid --exclude argument: " + std::string(e.what()));
    }
  }
  std::vector<const dwarf::Function*> functions;
  for (const auto& fn : bi->debug().functions()) {
    const bool by_regexp = !req.regexp.empty() && re->match(fn.name);
    bool by_package = false;
    for (const auto& p : req.packages) by_package |= package_matches(package_of(fn.name), p);
    if (!by_regexp && !by_package)
      continue;
    if (exclude && exclude->match(fn.name))
      continue;
    functions.push_back(&fn);
  }
  // Optimized builds inline small functions, often with no out-of-line copy left: their
  // inlined copies get entry tracepoints too.
  std::vector<const dwarf::InlinedCall*> inlined;
  for (const auto& name : bi->debug().inlined_function_names()) {
    const bool by_regexp = !req.regexp.empty() && re->match(name);
    bool by_package = false;
    for (const auto& p : req.packages) by_package |= package_matches(package_of(name), p);
    if (!by_regexp && !by_package)
      continue;
    if (exclude && exclude->match(name))
      continue;
    for (const auto* call : bi->debug().inlined_calls(name)) inlined.push_back(call);
  }
  if (functions.empty() && inlined.empty())
    throw Error("no breakpoints set");

  std::vector<std::string> roots;
  if (req.follow_calls > 0) {
    for (const auto* fn : functions) roots.push_back(fn->name);
    functions = follow_calls(*bi, functions, req.follow_calls);
  }

  TraceOutputOptions out_opts;
  out_opts.dlv_lines = !req.graph;
  out_opts.graph = req.graph;
  out_opts.stats = req.stats;
  out_opts.json_path = req.json_path;
  out_opts.folded_path = req.folded_path;
  out_opts.timestamp = req.timestamp;
  out_opts.max_depth = req.depth;
  out_opts.goroutine = req.goroutine;
  out_opts.sample = std::max<std::uint64_t>(1, req.sample);
  out_opts.follow_roots = roots;
  if (!req.min_duration.empty()) {
    auto d = parse_duration(req.min_duration);
    if (!d)
      throw Error("invalid --min-duration \"" + req.min_duration + "\" (e.g. 250us, 1.5ms)");
    out_opts.min_duration_ns = *d;
  }
  if (!req.cond.empty()) {
    std::shared_ptr<const target::TraceCondition> cond;
    try {
      cond =
          std::make_shared<const target::TraceCondition>(target::TraceCondition::parse(req.cond));
    } catch (const target::EvalError& e) {
      throw Error(e.what());
    }
    out_opts.cond = [cond](const target::TraceEvent& ev) { return cond->matches(ev.values); };
  }

  std::unique_ptr<proc::Process> process;
  try {
    if (req.pid) {
      process = proc::Process::attach(*req.pid);
    } else {
      proc::LaunchOptions lo;
      lo.path = path;
      lo.args = req.args;
      process = proc::Process::launch(lo);
    }
    bi->relocate_for(process->pid());
    // goscope runs no other child while tracing (go build ran before), so waiting can skip
    // the peek that protects other children's exit statuses: one system call less per hit.
    process->set_exclusive_children(true);
  } catch (const target::BinaryError& e) {
    throw Error(std::string("could not launch process: ") + e.what());
  } catch (const proc::Error& e) {
    throw Error(std::string(req.pid ? "could not attach to pid " + std::to_string(*req.pid)
                                    : "could not launch process") +
                ": " + e.what());
  }

  target::TraceOptions topts;
  topts.stack_depth = req.stack_depth;
  // Outputs that pair calls need to know when Goexit abandons open calls.
  topts.goroutine_exits =
      req.graph || req.stats || !req.json_path.empty() || !req.folded_path.empty();
  std::unique_ptr<target::TraceEngine> engine;
  if (req.engine != "ptrace") {
    std::string why;
    if (target::UprobeTracer::available(&why)) {
      auto up = std::make_unique<target::UprobeTracer>(*process, *bi, topts);
      up->set_process_not_started(!req.pid);
      for (const auto* fn : functions) up->trace_function(*fn);
      for (const auto* call : inlined) up->trace_inlined(*call);
      try {
        up->prepare();
        engine = std::move(up);
      } catch (const proc::Error& e) {
        why = e.what();
      }
    }
    if (!engine && req.engine == "uprobe")
      throw Error("the uprobe engine is not available: " + why);
    if (!engine && !why.empty() && std::getenv("GOSCOPE_DEBUG"))
      std::fprintf(stderr, "goscope: uprobe engine unavailable (%s); tracing with ptrace\n",
                   why.c_str());
  }
  if (!engine) {
    auto pt = std::make_unique<target::Tracer>(*process, *bi, topts);
    for (const auto* fn : functions) pt->trace_function(*fn);
    for (const auto* call : inlined) pt->trace_inlined(*call);
    engine = std::move(pt);
  }
  target::TraceEngine& tracer = *engine;

  TraceOutput output(out_opts, *bi, out);
  EventQueue queue;
  std::thread writer([&] {
    std::deque<target::TraceEvent> batch;
    while (queue.take(batch)) {
      for (const auto& ev : batch) output.on_event(ev);
      batch.clear();
    }
  });
  const auto start_ns = monotonic_ns();
  target::TraceExit exit;
  {
    RunningGuard guard(process.get());
    try {
      exit = tracer.run(queue);
    } catch (const proc::ProcessExited& e) {
      exit = {target::TraceExit::Kind::exited, e.status()};
    } catch (...) {
      queue.close();
      writer.join();
      throw;
    }
  }
  const auto end_ns = monotonic_ns();
  queue.close();
  writer.join();
  const auto engine_stats = tracer.stats();
  output.set_engine_stats(engine_stats);
  output.finish(end_ns, end_ns - start_ns);
  // Never silently: events the kernel dropped, values a capture missed.
  if (engine_stats.lost > 0)
    std::fprintf(stderr, "goscope: %llu trace events lost (ring buffer full)\n",
                 static_cast<unsigned long long>(engine_stats.lost));
  if (engine_stats.late_reads > 0)
    std::fprintf(stderr,
                 "goscope: %llu values were not captured at their tracepoint (shown unreadable)\n",
                 static_cast<unsigned long long>(engine_stats.late_reads));
  const int pid = process->pid();
  switch (exit.kind) {
    case target::TraceExit::Kind::exited:
      std::fprintf(out, "Process %d has exited with status %d\n", pid, exit.status);
      return 0;
    case target::TraceExit::Kind::killed:
      std::fprintf(out, "Process %d has exited with status %d\n", pid, -1);
      return 0;
    case target::TraceExit::Kind::exec:
      std::fprintf(out, "Process %d called exec: tracing stopped (the traced code is gone)\n", pid);
      process->detach();
      return 0;
    case target::TraceExit::Kind::interrupted:
      if (req.pid) {
        process->detach();
        std::fprintf(out, "Detached from process %d\n", pid);
      } else {
        process->kill();
      }
      return 0;
  }
  return 0;
}

}  // namespace goscope::session

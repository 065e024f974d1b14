#include "session/trace_command.hpp"

#include "session/launch.hpp"

#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>

#include "target/breakpoint.hpp"
#include "target/condition.hpp"
#include "target/trace_session.hpp"
#include "trace_output.hpp"

namespace goscope::session {
namespace {

std::atomic<target::TraceSession*> g_running{nullptr};

/// Hands events from the tracer (ptrace) thread to the writer thread, so that formatting
/// and output rarely delay the traced program. No event is ever dropped, and the queue is
/// bounded: when the writer falls kMaxPending events behind (a program making millions of
/// calls into a slow output), the tracer thread waits for it, and the engine's own
/// back-pressure (the uprobe and in-process rings block their writers, ptrace keeps the
/// thread stopped) slows the program down instead of the server growing without limit.
class EventQueue final : public target::TraceObserver {
 public:
  void on_event(target::TraceEvent&& ev) override {
    bool wake = false;
    {
      std::unique_lock lock(mu_);
      if (pending_.size() >= kMaxPending) {
        cv_.notify_one();
        space_.wait(lock, [&] { return pending_.size() < kMaxPending || closed_; });
      }
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
    space_.notify_one();
    return true;
  }

 private:
  static constexpr std::size_t kWakeBatch = 4096;
  static constexpr std::size_t kMaxPending = 16 * kWakeBatch;
  std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable space_;  ///< the writer took a batch: room for the tracer
  std::deque<target::TraceEvent> pending_;
  bool closed_ = false;
};

std::uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

/// GOSCOPE_DEBUG=1: where a trace run's wall time goes (loading, launch, engine setup, the
/// run itself, the writer's tail, the summary), to tell goscope's fixed costs from the
/// per-event ones.
class PhaseClock {
 public:
  PhaseClock() : on_(std::getenv("GOSCOPE_DEBUG") != nullptr), last_(monotonic_ns()) {}
  void mark(const char* name) {
    if (!on_)
      return;
    const auto now = monotonic_ns();
    text_ += std::string(text_.empty() ? "" : ", ") + name + " " +
             std::to_string((now - last_) / 1'000'000) + " ms";
    last_ = now;
  }
  void print() const {
    if (on_)
      std::fprintf(stderr, "goscope: phases: %s\n", text_.c_str());
  }

 private:
  bool on_;
  std::uint64_t last_;
  std::string text_;
};

struct RunningGuard {
  explicit RunningGuard(target::TraceSession* t) { g_running.store(t); }
  ~RunningGuard() { g_running.store(nullptr); }
};

}  // namespace

void interrupt_trace() {
  if (auto* t = g_running.load())
    t->request_interrupt();
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

  PhaseClock phases;
  std::optional<target::TraceSession> trace;
  try {
    trace.emplace(path);
  } catch (const target::CommandError& e) {
    throw Error(e.what());
  }
  std::optional<target::GoRegexp> exclude;
  if (!req.exclude.empty()) {
    try {
      exclude.emplace(req.exclude);
    } catch (const target::RegexpError& e) {
      throw Error("invalid --exclude argument: " + std::string(e.what()));
    }
  }
  try {
    target::TraceSelection sel;
    sel.regexp = req.regexp.empty() ? nullptr : &*re;
    sel.packages = req.packages;
    sel.exclude = exclude ? &*exclude : nullptr;
    sel.follow_calls = req.follow_calls;
    trace->select(sel);
    phases.mark("load+select");
  } catch (const target::CommandError& e) {
    throw Error(e.what());
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
  out_opts.follow_roots = trace->follow_roots();
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

  target::TraceOptions topts;
  topts.stack_depth = req.stack_depth;
  // Outputs that pair calls need to know when Goexit abandons open calls.
  topts.goroutine_exits =
      req.graph || req.stats || !req.json_path.empty() || !req.folded_path.empty();
  try {
    trace->start(req.pid, path, req.args);
    phases.mark("launch");
    trace->prepare_engine(req.engine, topts);
    phases.mark("prepare");
  } catch (const target::CommandError& e) {
    throw Error(e.what());
  }

  TraceOutput output(
      out_opts, [&](std::uint64_t pc) { return trace->source_line(pc); }, out);
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
    RunningGuard guard(&*trace);
    try {
      exit = trace->run(queue);
    } catch (...) {
      queue.close();
      writer.join();
      throw;
    }
  }
  const auto end_ns = monotonic_ns();
  phases.mark("run");
  queue.close();
  writer.join();
  phases.mark("writer");
  const auto engine_stats = trace->stats();
  output.set_engine_stats(engine_stats);
  output.finish(end_ns, end_ns - start_ns);
  phases.mark("finish");
  phases.print();
  // Never silently: events the kernel dropped, values a capture missed.
  if (engine_stats.lost > 0)
    std::fprintf(stderr, "goscope: %llu trace events lost (ring buffer full)\n",
                 static_cast<unsigned long long>(engine_stats.lost));
  if (engine_stats.late_reads > 0)
    std::fprintf(stderr,
                 "goscope: %llu values were not captured at their tracepoint (shown unreadable)\n",
                 static_cast<unsigned long long>(engine_stats.late_reads));
  const int pid = trace->pid();
  switch (exit.kind) {
    case target::TraceExit::Kind::exited:
      std::fprintf(out, "Process %d has exited with status %d\n", pid, exit.status);
      return 0;
    case target::TraceExit::Kind::killed:
      std::fprintf(out, "Process %d has exited with status %d\n", pid, -1);
      return 0;
    case target::TraceExit::Kind::exec:
      std::fprintf(out, "Process %d called exec: tracing stopped (the traced code is gone)\n", pid);
      trace->detach();
      return 0;
    case target::TraceExit::Kind::interrupted:
      if (req.pid) {
        trace->detach();
        std::fprintf(out, "Detached from process %d\n", pid);
      } else {
        trace->kill();
      }
      return 0;
  }
  return 0;
}

}  // namespace goscope::session

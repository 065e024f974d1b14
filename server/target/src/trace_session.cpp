// A `goscope trace` run: function selection, --follow-calls, launch/attach, the engine.
#include "target/trace_session.hpp"

#include <cstdio>
#include <cstdlib>
#include <deque>
#include <set>
#include <string_view>

#include "proc/disassembler.hpp"
#include "proc/error.hpp"
#include "proc/process.hpp"
#include "target/binary_info.hpp"
#include "target/breakpoint.hpp"
#include "target/inproc_tracer.hpp"
#include "target/tracer.hpp"
#include "target/uprobe_tracer.hpp"

namespace goscope::target {
namespace {

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

bool selected(const TraceSelection& sel, const std::string& name) {
  const bool by_regexp = sel.regexp != nullptr && sel.regexp->match(name);
  bool by_package = false;
  for (const auto& p : sel.packages) by_package |= package_matches(package_of(name), p);
  if (!by_regexp && !by_package)
    return false;
  return !(sel.exclude && sel.exclude->match(name));
}

// dlv HEAD's --follow-calls: the roots and every function they reach through direct calls,
// breadth first, the roots being depth 1. Calls through function values and interfaces are
// not followed (dlv resolves those with run-time breakpoints).
std::vector<const dwarf::Function*> follow_calls(const BinaryInfo& bi,
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

}  // namespace

const std::string& TraceEvent::name() const {
  return inlined ? inlined->name : function->name;
}

bool TraceEvent::function_has_results() const {
  if (inlined || function == nullptr)
    return false;
  for (const auto& p : function->params) {
    if (p.is_result)
      return true;
  }
  return false;
}

TraceSession::TraceSession(const std::string& path) {
  try {
    bi_ = BinaryInfo::load(path);
  } catch (const BinaryError& e) {
    throw CommandError(std::string("could not launch process: ") + e.what());
  }
}

TraceSession::~TraceSession() = default;

void TraceSession::select(const TraceSelection& sel) {
  functions_.clear();
  inlined_.clear();
  roots_.clear();
  for (const auto& fn : bi_->debug().functions()) {
    if (selected(sel, fn.name))
      functions_.push_back(&fn);
  }
  // Optimized builds inline small functions, often with no out-of-line copy left: their
  // inlined copies get entry tracepoints too.
  for (const auto& name : bi_->debug().inlined_function_names()) {
    if (!selected(sel, name))
      continue;
    for (const auto* call : bi_->debug().inlined_calls(name)) inlined_.push_back(call);
  }
  if (functions_.empty() && inlined_.empty())
    throw CommandError("no breakpoints set");
  if (sel.follow_calls > 0) {
    for (const auto* fn : functions_) roots_.push_back(fn->name);
    functions_ = follow_calls(*bi_, functions_, sel.follow_calls);
  }
}

void TraceSession::start(std::optional<pid_t> attach_pid, const std::string& path,
                         const std::vector<std::string>& args) {
  try {
    if (attach_pid) {
      process_ = proc::Process::attach(*attach_pid);
    } else {
      proc::LaunchOptions lo;
      lo.path = path;
      lo.args = args;
      process_ = proc::Process::launch(lo);
    }
    bi_->relocate_for(process_->pid());
    // goscope runs no other child while tracing (go build ran before), so waiting can skip
    // the peek that protects other children's exit statuses: one system call less per hit.
    process_->set_exclusive_children(true);
  } catch (const BinaryError& e) {
    throw CommandError(std::string("could not launch process: ") + e.what());
  } catch (const proc::Error& e) {
    throw CommandError(std::string(attach_pid
                                       ? "could not attach to pid " + std::to_string(*attach_pid)
                                       : "could not launch process") +
                       ": " + e.what());
  }
  pid_ = process_->pid();
  attached_ = attach_pid.has_value();
}

void TraceSession::prepare_engine(const std::string& engine, const TraceOptions& opts) {
  if (engine == "inproc") {
    // Opt-in: capture code in the program's trampolines, records in a shared ring.
    auto ip = std::make_unique<InprocTracer>(*process_, *bi_, opts);
    if (attached_)
      ip->set_attached();
    else
      ip->set_process_not_started(true);
    for (const auto* fn : functions_) ip->trace_function(*fn);
    for (const auto* call : inlined_) ip->trace_inlined(*call);
    ip->prepare();
    engine_ = std::move(ip);
  } else if (engine != "ptrace") {
    std::string why;
    if (UprobeTracer::available(&why)) {
      auto up = std::make_unique<UprobeTracer>(*process_, *bi_, opts);
      if (attached_)
        up->set_attached();
      else
        up->set_process_not_started(true);
      for (const auto* fn : functions_) up->trace_function(*fn);
      for (const auto* call : inlined_) up->trace_inlined(*call);
      try {
        up->prepare();
        engine_ = std::move(up);
      } catch (const proc::Error& e) {
        why = e.what();
      }
    }
    if (!engine_ && engine == "uprobe")
      throw CommandError("the uprobe engine is not available: " + why);
    if (!engine_ && !why.empty() && std::getenv("GOSCOPE_DEBUG"))
      std::fprintf(stderr, "goscope: uprobe engine unavailable (%s); tracing with ptrace\n",
                   why.c_str());
  }
  if (!engine_) {
    auto pt = std::make_unique<Tracer>(*process_, *bi_, opts);
    for (const auto* fn : functions_) pt->trace_function(*fn);
    for (const auto* call : inlined_) pt->trace_inlined(*call);
    engine_ = std::move(pt);
  }
}

TraceExit TraceSession::run(TraceObserver& observer) {
  try {
    return engine_->run(observer);
  } catch (const proc::ProcessExited& e) {
    return {TraceExit::Kind::exited, e.status()};
  }
}

TraceEngineStats TraceSession::stats() const {
  return engine_->stats();
}

std::optional<SourceLine> TraceSession::source_line(std::uint64_t pc) const {
  auto loc = bi_->debug().lines().find(bi_->to_file(proc::VirtAddr(pc)));
  if (!loc)
    return std::nullopt;
  return SourceLine{loc->file, loc->line};
}

void TraceSession::detach() {
  process_->detach();
}

void TraceSession::kill() {
  process_->kill();
}

void TraceSession::request_interrupt() {
  process_->request_interrupt();
}

}  // namespace goscope::target

// The Debugger's requests other than run control: breakpoints, threads and goroutines,
// stacks, values, registers, disassembly, memory, the binary's names. Each runs on the
// tracer thread and turns the target's answer into the API's shape.
#include <algorithm>
#include <set>

#include "debugger_impl.hpp"
#include "goroutine_query.hpp"
#include "target/go_regexp.hpp"

namespace goscope::session {
namespace {

// A user's filter in Go's regexp syntax (RE2: no recursion, linear time), refused in
// Delve's words.
target::GoRegexp make_filter(const std::string& filter) {
  try {
    return target::GoRegexp(filter);
  } catch (const target::RegexpError& e) {
    throw DebuggerError("invalid filter argument: " + std::string(e.what()));
  }
}

// The names of `all` that match `filter` (all when empty), sorted, each once.
std::vector<std::string> matching(const std::string& filter, std::vector<std::string> all) {
  const auto re = make_filter(filter);
  std::set<std::string> names;
  for (auto& n : all) {
    if (filter.empty() || re.match(n))
      names.insert(std::move(n));
  }
  return std::vector<std::string>(names.begin(), names.end());
}

}  // namespace

// ------------------------------------------------------------------- breakpoints

api::Breakpoint Debugger::create_breakpoint(const api::Breakpoint& req, const std::string& loc_expr,
                                            bool suspended) {
  (void)suspended;
  // Delve 1.20.2's CreateBreakpoint ignores Disabled: the breakpoint starts enabled (only
  // Restart re-creates disabled ones).
  api::Breakpoint enabled = req;
  enabled.disabled = false;
  if (is_core())
    throw DebuggerError("cannot write a breakpoint to a core file");
  return impl_->call([&] {
    impl_->require_live();
    return to_api(target::shown(impl_->bps->create(to_target(enabled), loc_expr)));
  });
}

api::Breakpoint Debugger::clear_breakpoint(int id, const std::string& name) {
  return impl_->call([&] { return to_api(target::shown(impl_->run->clear_breakpoint(id, name))); });
}

api::Breakpoint Debugger::create_watchpoint(const api::EvalScope& scope, const std::string& expr,
                                            int type) {
  return impl_->call([&] {
    impl_->require_live();
    return to_api(impl_->watches->create(impl_->scope_of(scope), expr, type));
  });
}

bool Debugger::hardware_watchpoints_available(std::string* why) {
  return target::Watchpoints::hardware_available(why);
}

api::Breakpoint Debugger::toggle_breakpoint(int id, const std::string& name) {
  return impl_->call([&] { return to_api(impl_->bps->toggle(id, name)); });
}

void Debugger::amend_breakpoint(const api::Breakpoint& bp) {
  impl_->call([&] { impl_->bps->amend(to_target(bp)); });
}

api::Breakpoint Debugger::get_breakpoint(int id, const std::string& name) {
  return impl_->call([&] { return to_api(target::shown(impl_->bps->find(id, name).bp)); });
}

std::vector<api::Breakpoint> Debugger::breakpoints(bool all) {
  return impl_->call([&] {
    if (all) {
      // Delve lists the physical breakpoints of the live targets: none once it has exited.
      if (impl_->released || impl_->exited())
        return std::vector<api::Breakpoint>{};
      return to_api(impl_->run->physical_breakpoints());
    }
    return to_api(impl_->bps->list());
  });
}

std::vector<std::uint64_t> Debugger::function_return_locations(const std::string& fn_name) {
  return impl_->call([&] {
    impl_->require_live();
    return impl_->inspector->return_locations(fn_name);
  });
}

void Debugger::create_ebpf_tracepoint(const std::string& fn_name) {
  impl_->call([&] {
    impl_->require_live();
    if (!impl_->traces)
      impl_->traces =
          std::make_unique<target::BufferedTracer>(*impl_->dbg, *impl_->run, impl_->trace_results);
    impl_->traces->add_function(fn_name);
  });
}

std::vector<api::TracepointResult> Debugger::buffered_tracepoints(std::uint64_t* dropped) {
  // Not through the tracer thread: a client polls while its continue runs (dlv trace
  // --ebpf does), and the buffer is the only state read.
  auto taken = impl_->trace_results->take();
  if (dropped)
    *dropped = taken.dropped;
  std::vector<api::TracepointResult> out;
  out.reserve(taken.results.size());
  for (auto& r : taken.results) {
    api::TracepointResult t;
    t.addr = r.addr;
    t.file = std::move(r.file);
    t.line = r.line;
    t.is_ret = r.is_ret;
    t.function_name = std::move(r.function);
    t.goroutine_id = r.goroutine_id;
    t.input_params = std::move(r.input_params);
    t.return_params = std::move(r.return_params);
    out.push_back(std::move(t));
  }
  return out;
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

// ------------------------------------------------------------------- threads, goroutines

std::vector<api::Thread> Debugger::threads() {
  return impl_->call([&] {
    impl_->require_live();
    std::vector<api::Thread> out;
    for (pid_t tid : impl_->dbg->threads()) out.push_back(impl_->make_thread(tid));
    return out;
  });
}

api::Thread Debugger::thread(int tid) {
  return impl_->call([&] {
    impl_->require_live();
    if (!impl_->dbg->has_thread(tid))
      throw DebuggerError("no thread with id " + std::to_string(tid));
    return impl_->make_thread(tid);
  });
}

std::vector<api::Goroutine> Debugger::goroutines(int start, int count, int* next) {
  return impl_->call([&] {
    impl_->require_live();
    return to_api(impl_->inspector->goroutines(start, count, next));
  });
}

std::optional<api::Goroutine> Debugger::goroutine(std::int64_t id) {
  return impl_->call([&]() -> std::optional<api::Goroutine> {
    impl_->require_live();
    const auto g = impl_->inspector->goroutine(id);
    if (!g)
      return std::nullopt;
    return to_api(*g);
  });
}

api::GoroutineList Debugger::goroutines(int start, int count,
                                        const std::vector<api::GoroutineFilter>& filters,
                                        const api::GoroutineGrouping& grouping) {
  int next = -1;
  auto page = goroutines(start, count, &next);
  return list_goroutines(std::move(page), next, filters, grouping);
}

std::vector<api::Stackframe> Debugger::stacktrace(std::int64_t goroutine_id, int depth, bool full,
                                                  const std::optional<api::LoadConfig>& cfg,
                                                  unsigned opts) {
  return impl_->call([&] {
    impl_->require_live();
    const auto goid = goroutine_id == -1 ? impl_->dbg->selected_goroutine() : goroutine_id;
    const auto c = cfg.value_or(api::kDefaultLoadConfig);
    std::vector<api::Stackframe> out;
    for (auto& f : impl_->inspector->stack(goid, depth, opts, full, c))
      out.push_back(to_api(std::move(f)));
    return out;
  });
}

// ------------------------------------------------------------------- values

std::vector<api::Variable> Debugger::local_vars(const api::EvalScope& scope,
                                                const api::LoadConfig& cfg) {
  return impl_->call([&]() -> std::vector<api::Variable> {
    impl_->require_live();
    return impl_->inspector->local_variables(impl_->scope_of(scope), cfg);
  });
}

std::vector<api::Variable> Debugger::function_args(const api::EvalScope& scope,
                                                   const api::LoadConfig& cfg) {
  return impl_->call([&]() -> std::vector<api::Variable> {
    impl_->require_live();
    return impl_->inspector->function_arguments(impl_->scope_of(scope), cfg);
  });
}

std::vector<api::Variable> Debugger::package_vars(const std::string& filter,
                                                  const api::LoadConfig& cfg) {
  return impl_->call([&]() -> std::vector<api::Variable> {
    impl_->require_live();
    return impl_->inspector->package_variables(filter, cfg);
  });
}

api::Variable Debugger::eval(const api::EvalScope& scope, const std::string& expr,
                             const api::LoadConfig& cfg) {
  return impl_->call([&]() -> api::Variable {
    impl_->require_live();
    return impl_->inspector->eval(impl_->scope_of(scope), expr, cfg);
  });
}

void Debugger::set_variable(const api::EvalScope& scope, const std::string& symbol,
                            const std::string& value) {
  impl_->call([&] {
    impl_->require_live();
    impl_->inspector->set_variable(impl_->scope_of(scope), symbol, value);
  });
}

// ------------------------------------------------------------------- machine level

std::vector<api::Register> Debugger::registers(int thread_id, bool include_fp,
                                               const std::optional<api::EvalScope>& scope) {
  return impl_->call([&] {
    impl_->require_live();
    auto& dbg = *impl_->dbg;
    std::vector<target::RegisterView> views;
    if (scope) {
      views = impl_->inspector->scope_registers(impl_->scope_of(*scope), include_fp);
    } else {
      const pid_t tid = thread_id != 0 ? thread_id : dbg.current_thread();
      if (!dbg.has_thread(tid))
        throw DebuggerError("couldn't find thread " + std::to_string(thread_id));
      views = impl_->inspector->thread_registers(tid, include_fp);
    }
    std::vector<api::Register> out;
    out.reserve(views.size());
    for (auto& v : views) out.push_back({std::move(v.name), std::move(v.value), v.dwarf});
    return out;
  });
}

std::vector<api::AsmInstruction> Debugger::disassemble(const api::EvalScope& scope,
                                                       std::uint64_t start, std::uint64_t end,
                                                       int flavour) {
  return impl_->call([&] {
    auto& I = *impl_;
    I.require_live();
    auto& dbg = *I.dbg;
    // The registers of the scope's goroutine's thread, else of the current thread (which
    // is the selected goroutine's, as in Delve's FindGoroutine). A start outside every
    // function is refused first.
    pid_t tid = dbg.current_thread();
    const std::int64_t goid =
        scope.goroutine_id == -1 ? dbg.selected_goroutine() : scope.goroutine_id;
    auto check_goroutine = [&] {
      if (goid > 0 && goid != dbg.selected_goroutine()) {
        const pid_t on = dbg.thread_of(goid);
        if (on != 0)
          tid = on;
        else if (!I.inspector->goroutine_exists(goid))
          throw DebuggerError("unknown goroutine " + std::to_string(goid));
      }
    };
    if (end != 0 || dbg.location(start).function)
      check_goroutine();
    std::vector<api::AsmInstruction> out;
    for (auto& in : I.inspector->disassemble(start, end, flavour, tid)) {
      api::AsmInstruction a;
      a.loc = I.location(in.pc);
      a.text = std::move(in.text);
      a.bytes = std::move(in.bytes);
      a.breakpoint = in.breakpoint;
      a.at_pc = in.at_pc;
      if (in.dest)
        a.dest_loc = I.location(*in.dest);
      out.push_back(std::move(a));
    }
    return out;
  });
}

std::vector<api::PackageBuildInfo> Debugger::packages_build_info(bool include_files) {
  return impl_->call([&] {
    impl_->require_live();
    std::vector<api::PackageBuildInfo> out;
    for (auto& p : impl_->inspector->packages(include_files))
      out.push_back({std::move(p.import_path), std::move(p.directory_path), std::move(p.files)});
    return out;
  });
}

std::vector<std::byte> Debugger::examine_memory(std::uint64_t addr, int length) {
  return impl_->call([&] {
    impl_->require_live();
    if (length < 0)
      throw DebuggerError("len must be a positive number");
    return impl_->inspector->examine_memory(addr, static_cast<std::size_t>(length));
  });
}

// ------------------------------------------------------------------- the binary's names

std::vector<std::string> Debugger::functions(const std::string& filter) {
  return impl_->call([&] {
    if (impl_->released)
      throw DebuggerError("detached from the process");
    return matching(filter, impl_->inspector->function_names());
  });
}

std::vector<std::string> Debugger::sources(const std::string& filter) {
  return impl_->call([&] {
    if (impl_->released)
      throw DebuggerError("detached from the process");
    auto files = impl_->inspector->source_files();
    std::erase_if(files, [](const std::string& f) { return f.empty() || f == "<autogenerated>"; });
    return matching(filter, std::move(files));
  });
}

std::vector<std::string> Debugger::types(const std::string& filter) {
  return impl_->call([&] {
    if (impl_->released)
      throw DebuggerError("detached from the process");
    return matching(filter, impl_->inspector->type_names());
  });
}

}  // namespace goscope::session

// The process under run control: launch/attach, the user's thread and goroutine, the
// goroutine ids of stopped threads.
#include "target/debuggee.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstring>

#include "proc/core_file.hpp"
#include "proc/error.hpp"
#include "proc/process.hpp"
#include "target/breakpoint.hpp"
#include "target/readers.hpp"
#include "target/stepper.hpp"
#include "target/target.hpp"
#include "target/value_loader.hpp"

namespace goscope::target {
namespace {

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

// A target read from a core file: the executable, then the core, checked against each
// other (CoreFile::use_executable gives the load bias of a position-independent one).
std::unique_ptr<proc::Process> open_core(const LaunchSpec& spec, BinaryInfo& b) {
  try {
    proc::CoreFile core = proc::CoreFile::open(spec.core_path);
    const std::uint64_t bias = core.use_executable(spec.path);
    b.set_load_bias(bias);
    return proc::Process::open_core(std::move(core));
  } catch (const proc::Error& e) {
    throw CommandError(e.what());
  }
}

std::string failure_prefix(const LaunchSpec& spec) {
  return spec.attach_pid ? "could not attach to pid " + std::to_string(*spec.attach_pid)
                         : "could not launch process";
}

}  // namespace

Debuggee::Debuggee(LaunchSpec spec, const std::function<void(LaunchSpec&)>& before_start) {
  if (!spec.core_path.empty()) {
    // Delve opens the core, then the executable; a missing one is Go's open error.
    for (const std::string* f : {&spec.core_path, &spec.path}) {
      if (::access(f->c_str(), F_OK) != 0) {
        std::string why = std::strerror(errno);
        if (!why.empty())
          why[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(why[0])));
        throw CommandError("open " + *f + ": " + why);
      }
    }
  }
  std::unique_ptr<BinaryInfo> b;
  const std::string path =
      spec.attach_pid ? "/proc/" + std::to_string(*spec.attach_pid) + "/exe" : spec.path;
  try {
    b = BinaryInfo::load(path);
  } catch (const BinaryError& e) {
    if (!spec.core_path.empty())
      throw CommandError(e.what());
    throw CommandError(failure_prefix(spec) + ": " + e.what());
  }
  if (before_start)
    before_start(spec);
  std::unique_ptr<proc::Process> pr;
  if (!spec.core_path.empty()) {
    pr = open_core(spec, *b);
    is_core_ = true;
  }
  try {
    if (is_core_) {
      // read above
    } else if (spec.attach_pid) {
      pr = proc::Process::attach(*spec.attach_pid);
    } else {
      proc::LaunchOptions lo;
      lo.path = spec.path;
      lo.args = spec.args;
      lo.working_dir = spec.working_dir;
      lo.disable_aslr = spec.disable_aslr;
      lo.stdin_path = spec.stdin_path;
      lo.stdout_path = spec.stdout_path;
      lo.stderr_path = spec.stderr_path;
      lo.tty_path = spec.tty_path;
      lo.new_process_group = spec.new_process_group;
      lo.env = spec.env;
      pr = proc::Process::launch(lo);
    }
  } catch (const proc::Error& e) {
    throw CommandError(failure_prefix(spec) + ": " + e.what());
  }
  pr->set_signal_passthrough(SIGURG, true);
  pid_ = pr->pid();
  try {
    if (!is_core_)
      b->relocate_for(pid_);  // position-independent executables are slid by ASLR
  } catch (const BinaryError& e) {
    throw CommandError(std::string("could not launch process: ") + e.what());
  }
  go_version_ = buildinfo_version(b->elf());
  tgt_ = std::make_unique<Target>(std::move(pr), std::move(b));
  p_ = &tgt_->process();
  bi_ = &tgt_->binary();
  // No other code of this program waits for children while the target lives (`go build`
  // runs before, dlv is exec'd by `connect` only): one waitpid per event, not two.
  p_->set_exclusive_children(true);
  // All-stop: a stop reads g, m and stack words of every thread, a few pages in all.
  p_->set_stopped_read_cache(true);
  // Idle threads (futex, sleep, netpoll) stay in their system calls across stops.
  p_->set_park_blocked(true);
  const auto threads = p_->threads();
  current_tid_ = threads.empty() ? 0 : threads.front();
  // A core's current thread is its first (the kernel writes the one that got the signal
  // first), as in Delve.
  if (const auto* core = p_->core(); core != nullptr && !core->threads().empty())
    current_tid_ = core->threads().front().tid;
  selected_goid_ = 0;
  if (current_tid_ != 0)
    selected_goid_ = goid_of(current_tid_);
}

Debuggee::~Debuggee() = default;

void Debuggee::request_interrupt() {
  p_->request_interrupt();
}

void Debuggee::mark_exit(int status) {
  exited_ = true;
  exit_status_ = status;
  if (on_exit_)
    on_exit_();
}

void Debuggee::throw_exited() const {
  throw CommandError("Process " + std::to_string(pid_) + " has exited with status " +
                     std::to_string(exit_status_));
}

int Debuggee::exit_status_of(const proc::StopEvent& ev) {
  return ev.kind == proc::StopEvent::Kind::exited ? ev.exit_status : -ev.signal;
}

void Debuggee::end(bool kill) {
  if (!exited_ && !ended_) {
    try {
      if (kill)
        p_->kill();
      else
        p_->detach();
    } catch (const std::exception&) {
    }
  }
  ended_ = true;
  // The process goes now, on the tracer thread (ptrace calls are bound to it).
  tgt_.reset();
  p_ = nullptr;
  bi_ = nullptr;
}

void Debuggee::select_thread(pid_t tid) {
  current_tid_ = tid;
  selected_goid_ = goid_of(tid);
}

Scope Debuggee::scope(std::int64_t goroutine_id, int frame, int deferred_call) {
  // A scope with no goroutine (the entry stop, a halt on a thread without one) is the
  // current thread's, as in Delve: the target must know which thread that is.
  tgt_->set_current_thread(current_tid_);
  Scope out;
  out.goroutine = goroutine_id == -1 && selected_goid_ != 0 ? selected_goid_ : goroutine_id;
  out.requested_goroutine = goroutine_id;
  out.frame = frame;
  out.deferred_call = deferred_call;
  return out;
}

std::vector<pid_t> Debuggee::threads() {
  return p_->threads();
}

bool Debuggee::has_thread(pid_t tid) {
  const auto ts = p_->threads();
  return std::find(ts.begin(), ts.end(), tid) != ts.end();
}

std::uint64_t Debuggee::pc_of(pid_t tid) {
  return p_->registers(tid).gp.rip;
}

std::int64_t Debuggee::goid_of(pid_t tid) {
  if (auto it = goid_cache_.find(tid); it != goid_cache_.end())
    return it->second;
  std::int64_t goid = 0;
  try {
    goid = goroutine_id_of(*p_, *bi_, tid, p_->registers(tid));
  } catch (const proc::Error&) {
    return 0;
  }
  goid_cache_.emplace(tid, goid);
  return goid;
}

pid_t Debuggee::thread_of(std::int64_t goid) {
  if (goid == 0)
    return 0;
  if (current_tid_ != 0 && goid_of(current_tid_) == goid)
    return current_tid_;
  for (pid_t tid : p_->threads()) {
    if (goid_of(tid) == goid)
      return tid;
  }
  return 0;
}

void Debuggee::prefetch_goroutines() {
  prefetch_goroutines(p_->threads());
}

// Every thread is stopped: brings the words goid_of() and the selected goroutine read
// (each thread's TLS g slot, then g.goid/g.m of those g's) into the process' page cache
// with two system calls, instead of one or more per thread, and reads every thread's
// goroutine id from there (goid_cache_), so that a later call finds nothing to do.
void Debuggee::prefetch_goroutines(const std::vector<pid_t>& tids) {
  std::vector<proc::VirtAddr> slots;
  for (pid_t tid : tids) {
    if (goid_cache_.contains(tid))
      continue;
    try {
      const auto fs = p_->registers(tid).gp.fs_base;
      if (fs != 0)
        slots.emplace_back(fs - 8);  // Go's TLS g slot on linux/amd64
    } catch (const proc::Error&) {
    }
  }
  if (slots.empty())
    return;
  p_->prefetch(slots);
  std::vector<proc::VirtAddr> gs;
  gs.reserve(2 * slots.size());
  for (auto slot : slots) {
    try {
      const auto g = p_->read<std::uint64_t>(slot);
      if (g != 0) {
        gs.emplace_back(g + bi_->goid_offset());
        gs.emplace_back(g + bi_->g_m_offset());
      }
    } catch (const proc::Error&) {
    }
  }
  p_->prefetch(gs);
  for (pid_t tid : tids) goid_of(tid);
}

Goroutine Debuggee::goroutine_on(std::int64_t goid, pid_t tid) {
  try {
    // The thread is known: read its goroutine only (goroutine() tries every thread).
    if (tid != 0) {
      if (auto g = tgt_->goroutine_of_thread(tid); g && g->id == goid)
        return *g;
    }
    if (auto g = tgt_->goroutine(goid))
      return *g;
  } catch (const std::exception&) {
  }
  Goroutine g;
  g.id = goid;
  if (tid != 0) {
    g.current = tgt_->location(pc_of(tid));
    g.user_current = g.current;
    g.thread_id = tid;
    g.status = 2;  // _Grunning
  }
  return g;
}

std::vector<Variable> Debuggee::load_params(pid_t tid, const LoadConfig& cfg, bool results_only) {
  std::vector<Variable> out;
  const auto regs = p_->registers(tid);
  const auto* fn = bi_->function_at(regs.pc());
  if (fn == nullptr)
    return out;
  const auto cfa = frame_cfa(*bi_, regs);
  const RegisterFn read_reg = thread_register_reader(*p_, tid, regs);
  ValueLoader l(*bi_, process_memory_reader(*p_));
  for (const auto& param : fn->params) {
    if (results_only && !param.is_result)
      continue;
    out.push_back(l.load_variable(param, regs.gp.rip, cfa, read_reg, cfg));
  }
  return out;
}

std::vector<Frame> Debuggee::thread_frames(pid_t tid, int depth) {
  try {
    return tgt_->thread_stacktrace(tid, depth);
  } catch (const std::exception&) {
    return {};
  }
}

void Debuggee::invalidate() {
  tgt_->invalidate();
  goid_cache_.clear();
}

void Debuggee::forget_thread(pid_t tid) {
  goid_cache_.erase(tid);
  tgt_->invalidate();
}

void Debuggee::stop_everything() {
  p_->stop_all();
  // The goroutine ids cached so far belong to threads that were stopped already and stay
  // valid; the target's caches are rebuilt.
  tgt_->invalidate();
}

PcLocation Debuggee::location(std::uint64_t pc) const {
  PcLocation loc;
  loc.pc = pc;
  if (auto l = bi_->debug().lines().find(bi_->to_file(proc::VirtAddr(pc)))) {
    loc.file = l->file;
    loc.line = static_cast<int>(l->line);
  }
  if (const auto* fn = bi_->function_at(proc::VirtAddr(pc)))
    loc.function = FunctionSummary{fn->name, bi_->to_virt(fn->low_pc).value(), fn->optimized};
  return loc;
}

std::optional<FunctionSummary> Debuggee::function_of(const Location& l) const {
  if (!l.function)
    return std::nullopt;
  return FunctionSummary{l.function->name, bi_->to_virt(l.function->low_pc).value(),
                         l.function->optimized};
}

PcLocation Debuggee::view(const Location& l) const {
  PcLocation out;
  out.pc = l.pc;
  out.file = l.file;
  out.line = l.line;
  out.function = function_of(l);
  // Delve's appendInlineCalls: an inlined frame's function is the inlined one's name with
  // the physical function's entry.
  if (out.function && l.inlined)
    out.function->name = l.inlined->name;
  return out;
}

FrameView Debuggee::view(const Frame& f) const {
  FrameView out;
  // Delve reports a caller's CALL line (frame.Call) with the return address as its pc.
  out.location = view(f.call);
  out.location.pc = f.current.pc;
  out.frame_offset = f.frame_offset;
  out.frame_pointer_offset = f.frame_pointer_offset;
  out.bottom = f.bottom;
  out.err = f.err;
  return out;
}

GoroutineView Debuggee::view(const Goroutine& g) const {
  GoroutineView out;
  out.id = g.id;
  out.current = view(g.current);
  out.user_current = view(g.user_current);
  out.go_statement = view(g.go_statement);
  out.start = view(g.start);
  out.thread_id = g.thread_id;
  out.status = g.status;
  out.wait_since = g.wait_since;
  out.wait_reason = g.wait_reason;
  out.labels = g.labels;
  return out;
}

GoroutineView Debuggee::goroutine_view(std::int64_t goid, pid_t tid) {
  return view(goroutine_on(goid, tid));
}

const dwarf::Function* Debuggee::find_function(const std::string& name) const {
  return bi_->debug().find_function(name);
}

}  // namespace goscope::target

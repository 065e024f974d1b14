// Launching (fork, exec, PTRACE_SEIZE) and attaching, and the teardown:
// kill and detach with every trap and watchpoint removed.
#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "proc/emulator.hpp"
#include "proc/error.hpp"
#include "proc/unique_fd.hpp"
#include "process_impl.hpp"

extern char** environ;

namespace goscope::proc {

using namespace detail;

namespace {

constexpr long kBaseOptions =
    PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC | PTRACE_O_TRACEEXIT;

// Reported by the child through the close-on-exec pipe.
struct ChildFailure {
  int stage;  // 0 exec, 1 chdir, 2 open stdout, 3 open stderr
  int err;
};

[[noreturn]] void child_fail(int fd, int stage) {
  ChildFailure f{stage, errno};
  ssize_t ignored = ::write(fd, &f, sizeof f);
  (void)ignored;
  ::_exit(127);
}

}  // namespace

Process::Process(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

std::unique_ptr<Process> Process::launch(const LaunchOptions& opts) {
  // Everything the child needs is prepared before fork: after it, only async-signal-safe
  // calls are allowed (the caller may be multi-threaded).
  std::vector<std::string> argv_storage;
  argv_storage.push_back(opts.path);
  argv_storage.insert(argv_storage.end(), opts.args.begin(), opts.args.end());
  std::vector<char*> argv;
  for (auto& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_storage = opts.env.value_or(std::vector<std::string>{});
  std::vector<char*> envp;
  for (auto& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);

  int err_pipe[2];
  int go_pipe[2];
  if (::pipe2(err_pipe, O_CLOEXEC) < 0)
    Error::send_errno("pipe");
  UniqueFd err_read(err_pipe[0]), err_write(err_pipe[1]);
  if (::pipe2(go_pipe, O_CLOEXEC) < 0)
    Error::send_errno("pipe");
  UniqueFd go_read(go_pipe[0]), go_write(go_pipe[1]);

  // The highest descriptor the child may have to mark close-on-exec without close_range.
  rlimit nofile{};
  const int max_fd = ::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < 65536
                         ? static_cast<int>(nofile.rlim_cur)
                         : 65536;

  pid_t pid = ::fork();
  if (pid < 0)
    Error::send_errno("fork");
  if (pid == 0) {
    // Child: wait until the parent has seized us, so that exec is traced from the start.
    char c;
    while (::read(go_read.get(), &c, 1) < 0 && errno == EINTR) {
    }
    // Do not pass on the debugger's own signal set-up: a server typically ignores SIGPIPE
    // and may block signals in its threads; exec keeps both.
    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    if (opts.disable_aslr) {
      // Keeps the other persona flags (0xffffffff only queries them).
      const int persona = ::personality(0xffffffff);
      ::personality(static_cast<unsigned long>(persona < 0 ? 0 : persona) | ADDR_NO_RANDOMIZE);
    }
    if (opts.new_process_group && opts.tty_path.empty())
      ::setpgid(0, 0);  // (with a tty, setsid below gives it a group of its own)
    if (!opts.tty_path.empty()) {
      // As Go's SysProcAttr{Setsid, Setctty} with the terminal on 0, 1 and 2 (dlv --tty).
      ::setsid();
      int fd = ::open(opts.tty_path.c_str(), O_RDWR | O_NOCTTY);
      if (fd < 0 || ::dup2(fd, STDIN_FILENO) < 0 || ::dup2(fd, STDOUT_FILENO) < 0 ||
          ::dup2(fd, STDERR_FILENO) < 0 || ::ioctl(STDIN_FILENO, TIOCSCTTY, 0) < 0)
        child_fail(err_write.get(), 5);
    }
    if (!opts.stdin_path.empty()) {
      int fd = ::open(opts.stdin_path.c_str(), O_RDONLY);
      if (fd < 0 || ::dup2(fd, STDIN_FILENO) < 0)
        child_fail(err_write.get(), 4);
    }
    if (!opts.working_dir.empty() && ::chdir(opts.working_dir.c_str()) < 0) {
      child_fail(err_write.get(), 1);
    }
    if (!opts.stdout_path.empty()) {
      int fd = ::open(opts.stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd < 0 || ::dup2(fd, STDOUT_FILENO) < 0)
        child_fail(err_write.get(), 2);
    }
    if (!opts.stderr_path.empty()) {
      int fd = ::open(opts.stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd < 0 || ::dup2(fd, STDERR_FILENO) < 0)
        child_fail(err_write.get(), 3);
    }
    // The program gets stdin, stdout and stderr only, as under dlv (Go's os/exec): none of
    // the debugger's descriptors (its listening socket, its connections, files it opened)
    // may outlive us in the debuggee. Marked close-on-exec, so the error pipe still reports
    // a failed exec.
    if (::syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
      for (int fd = 3; fd < max_fd; ++fd) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
    ::execve(opts.path.c_str(), argv.data(), opts.env ? envp.data() : environ);
    child_fail(err_write.get(), 0);
  }

  go_read.reset();
  err_write.reset();
  // Reaps the child on every failure path below.
  auto reap = [pid] {
    ::kill(pid, SIGKILL);
    for (;;) {
      int st = 0;
      pid_t r = ::waitpid(pid, &st, __WALL);
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0 || WIFEXITED(st) || WIFSIGNALED(st))
        break;
      pt(PTRACE_CONT, pid);  // e.g. PTRACE_EVENT_EXIT
    }
  };

  if (pt(PTRACE_SEIZE, pid, 0, kBaseOptions | PTRACE_O_EXITKILL) < 0) {
    int err = errno;
    reap();
    throw Error("cannot trace " + opts.path + ": " + errno_string(err));
  }
  char go = 'g';
  if (::write(go_write.get(), &go, 1) != 1) {
    int err = errno;
    reap();
    throw Error("launch " + opts.path + ": " + errno_string(err));
  }
  go_write.reset();

  ChildFailure failure{};
  ssize_t n;
  while ((n = ::read(err_read.get(), &failure, sizeof failure)) < 0 && errno == EINTR) {
  }
  if (n > 0) {
    reap();
    static const char* const kStage[] = {"cannot execute ",
                                         "cannot change directory for ",
                                         "cannot open stdout file for ",
                                         "cannot open stderr file for ",
                                         "cannot open stdin file for ",
                                         "cannot open the terminal for "};
    std::string what = kStage[failure.stage >= 0 && failure.stage < 6 ? failure.stage : 0];
    switch (failure.stage) {
      case 1:
        what += opts.path + " to " + opts.working_dir;
        break;
      case 2:
        what += opts.path + " (" + opts.stdout_path + ")";
        break;
      case 3:
        what += opts.path + " (" + opts.stderr_path + ")";
        break;
      case 4:
        what += opts.path + " (" + opts.stdin_path + ")";
        break;
      case 5:
        what += opts.path + " (" + opts.tty_path + ")";
        break;
      default:
        what += opts.path;
        break;
    }
    throw Error(what + ": " + errno_string(failure.err));
  }

  // Exec succeeded: wait for its PTRACE_EVENT_EXEC stop.
  for (;;) {
    int status = 0;
    if (::waitpid(pid, &status, __WALL) < 0) {
      if (errno == EINTR)
        continue;
      int err = errno;
      reap();
      throw Error("launch " + opts.path + ": waitpid: " + errno_string(err));
    }
    if (WIFEXITED(status) || WIFSIGNALED(status)) {
      throw Error("launch " + opts.path + ": process exited before it started");
    }
    if (WIFSTOPPED(status) && event_of(status) == PTRACE_EVENT_EXEC)
      break;
    // Anything before exec (a signal sent to the child, a stale stop): pass it through.
    int sig = WSTOPSIG(status);
    bool signal_stop = event_of(status) == 0 && sig != SIGTRAP;
    pt(PTRACE_CONT, pid, 0, static_cast<std::uintptr_t>(signal_stop ? sig : 0));
  }

  auto impl = std::make_unique<Impl>();
  impl->pid_ = pid;
  impl->launched_ = true;
  Impl::Thread& t = impl->threads_[pid];
  t.state = Impl::ThreadState::stopped;
  t.held = true;
  try {
    impl->open_mem();
  } catch (...) {
    reap();
    throw;
  }
  return std::unique_ptr<Process>(new Process(std::move(impl)));
}

std::unique_ptr<Process> Process::attach(pid_t pid) {
  auto impl = std::make_unique<Impl>();
  impl->pid_ = pid;
  impl->launched_ = false;
  Impl& p = *impl;

  if (pt(PTRACE_SEIZE, pid, 0, kBaseOptions) < 0) {
    const int err = errno;
    const char st = task_state(pid, pid);
    if (err == EPERM && (st == 'Z' || st == 'X'))
      throw Error("cannot attach to process " + std::to_string(pid) + ": it has exited");
    throw Error("cannot attach to process " + std::to_string(pid) + ": " + errno_string(err));
  }
  // From here on the destructor detaches whatever we have seized if something throws.
  std::unique_ptr<Process> proc(new Process(std::move(impl)));
  p.threads_[pid];
  char leader_state = task_state(pid, pid);
  if (leader_state == 'Z' || leader_state == 'X') {
    // The main thread has exited (pthread_exit) while others run on: it never stops again.
    p.threads_[pid].state = Impl::ThreadState::exiting;
  } else {
    p.interrupt_thread(pid, p.threads_[pid]);
  }
  // Threads can be created while we attach: list again until every thread is stopped and
  // the list no longer grows (a stopped process cannot create threads).
  for (;;) {
    bool added = false;
    for (pid_t tid : list_tasks(pid)) {
      if (p.threads_.contains(tid))
        continue;
      char st = task_state(pid, tid);
      if (st == 'Z' || st == 'X' || st == 0)
        continue;
      if (pt(PTRACE_SEIZE, tid, 0, kBaseOptions) < 0) {
        // EPERM: already ours (auto-attached on clone; its stop is on the way). ESRCH: gone.
        continue;
      }
      p.threads_[tid];
      p.interrupt_thread(tid, p.threads_[tid]);
      added = true;
    }
    p.stop_all();
    if (p.life_ != Impl::Life::alive) {
      throw Error("cannot attach to process " + std::to_string(pid) + ": it exited");
    }
    if (!added) {
      bool unknown = false;
      for (pid_t tid : list_tasks(pid)) {
        char st = task_state(pid, tid);
        if (!p.threads_.contains(tid) && st != 'Z' && st != 'X' && st != 0)
          unknown = true;
      }
      if (!unknown)
        break;
    }
  }
  if (std::all_of(p.threads_.begin(), p.threads_.end(),
                  [](const auto& kv) { return kv.second.state == Impl::ThreadState::exiting; })) {
    throw Error("cannot attach to process " + std::to_string(pid) + ": it is exiting");
  }
  p.open_mem();
  return proc;
}

Process::~Process() {
  try {
    if (impl_->life_ == Impl::Life::alive) {
      if (impl_->launched_) {
        impl_->kill();
      } else {
        impl_->detach();
      }
    }
  } catch (const std::exception&) {
    // Destructors must not throw; the process is as good as gone.
  }
}

// ---- Teardown

void Process::Impl::kill() {
  if (core_) {
    life_ = Life::detached;  // nothing runs; a core's pid may be another process now
    return;
  }
  if (life_ != Life::alive)
    return;
  ::kill(pid_, SIGKILL);
  // SIGKILL takes threads out of ptrace-stops too; reap until the leader is gone.
  stopping_all_ = false;
  while (life_ == Life::alive) {
    auto w = wait_any(true);
    if (!w)
      continue;
    auto [tid, status] = *w;
    if (WIFSTOPPED(status)) {
      pt(PTRACE_CONT, tid);
      continue;
    }
    handle_status(tid, status);
  }
  queue_.clear();
}

// A trap raised just as the thread was being stopped (a watchpoint hit) may still be
// pending: taken after we are gone, it would kill the process with SIGTRAP. The thread
// takes it under ptrace first (its debug registers are already clear, so no new one
// comes); another signal met on the way is kept for the detach to deliver.
void Process::Impl::take_pending_trap(pid_t tid, int& sig) {
  auto pending = [&] {
    std::ifstream in("/proc/" + std::to_string(pid_) + "/task/" + std::to_string(tid) + "/status");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("SigPnd:", 0) == 0)
        return ((std::stoull(line.substr(7), nullptr, 16) >> (SIGTRAP - 1)) & 1) != 0;
    }
    return false;
  };
  for (int i = 0; i < 4 && pending(); ++i) {
    if (::ptrace(PTRACE_CONT, tid, 0, sig) != 0)
      return;
    sig = 0;
    int status = 0;
    if (::waitpid(tid, &status, __WALL) != tid || !WIFSTOPPED(status) || (status >> 16) != 0)
      return;  // gone, or an event stop: nothing more to do safely here
    if (WSTOPSIG(status) != SIGTRAP && WSTOPSIG(status) != SIGSTOP)
      sig = WSTOPSIG(status);
  }
}

void Process::Impl::detach() {
  if (core_) {
    life_ = Life::detached;
    return;
  }
  if (life_ != Life::alive)
    return;
  stop_all();
  unpark_all();  // PTRACE_DETACH needs a real stop (and drops PTRACE_SYSCALL with it)
  if (life_ != Life::alive)
    return;
  remove_all_breakpoints();
  // A SIGSTOP from request_interrupt() may still be pending: SIGCONT discards it, so the
  // process does not stop once we are gone.
  if (interrupt_signals_sent_.load() > interrupt_signals_seen_)
    ::kill(pid_, SIGCONT);
  for (auto& [tid, t] : threads_) {
    if (t.state != ThreadState::stopped)
      continue;
    flush_regs(tid, t);  // rewound pcs of reported/queued breakpoint hits
    if (t.dr7 != 0) {
      // Debug registers outlive the tracer: a watchpoint left enabled would kill the
      // process with SIGTRAP at its next hit.
      pt(PTRACE_POKEUSER, tid, debugreg_offset(7), 0);
      t.dr7 = 0;
    }
    int sig = t.reported_signal != 0 ? t.reported_signal : t.signal_to_deliver;
    if (sig == SIGTRAP)
      sig = 0;
    take_pending_trap(tid, sig);
    pt(PTRACE_DETACH, tid, 0, static_cast<std::uintptr_t>(sig));
  }
  threads_.clear();
  queue_.clear();
  life_ = Life::detached;
}

}  // namespace goscope::proc

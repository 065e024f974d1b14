#pragma once
#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "proc/addr.hpp"
#include "proc/registers.hpp"

namespace goscope::proc {

class CoreFile;

struct LaunchOptions {
  std::string path;               ///< Executable; searched as given (no PATH lookup).
  std::vector<std::string> args;  ///< argv[1..]; argv[0] is `path`.
  std::string working_dir;        ///< Empty: inherit.
  bool disable_aslr = false;
  std::string stdout_path;  ///< Empty: inherit. Otherwise created/truncated.
  std::string stderr_path;  ///< Empty: inherit. Otherwise created/truncated.
  std::string stdin_path;   ///< Empty: inherit. Otherwise opened read-only (dlv -r FILE).
  /// dlv --tty: the program starts a new session with this terminal as its controlling
  /// terminal and as stdin, stdout and stderr. Empty: none.
  std::string tty_path;
  /// The program gets a process group of its own (setpgid), so that the terminal's Ctrl-C
  /// reaches the debugger's terminal client and not the program, as under dlv.
  bool new_process_group = false;
  std::optional<std::vector<std::string>> env;  ///< "KEY=VALUE" each; nullopt: inherit.
};

/// What one call to Process::wait_event() reports. Exactly one thread is stopped per event
/// (non-stop model) unless the caller used stop_all().
struct StopEvent {
  enum class Kind {
    breakpoint,   ///< `tid` executed an int3 of ours; `pc` is the site address (rewound).
    single_step,  ///< A step_instruction() completed.
    signal,       ///< `tid` received `signal`; pass it back via resume_thread(tid, signal).
    exited,       ///< The whole process exited with `exit_status`.
    killed,       ///< The whole process died of `signal`.
    interrupted,  ///< request_interrupt() was called; every thread is stopped.
    /// `tid` triggered hardware watchpoint `watchpoint` (set_watchpoint()) at
    /// `watch_address`. For write and read_write watchpoints the access has happened and
    /// `pc` is the instruction after it; for execute watchpoints `pc` is the watched
    /// instruction, not yet executed (resume_thread() runs it without trapping again).
    watchpoint,
    /// `tid` (now the process id) completed an execve: the new image runs from `pc`. Every
    /// breakpoint and watchpoint is gone (and the other threads with them); resume_thread()
    /// lets the new program start.
    exec,
  };
  Kind kind = Kind::signal;
  pid_t tid = 0;  ///< The thread; the process id for exited/killed/interrupted.
  /// Set for breakpoint and single_step only (signal stops skip the register read so that
  /// forwarding SIGURG stays cheap; call registers(tid) when needed).
  VirtAddr pc;
  int signal = 0;
  int exit_status = 0;
  int watchpoint = -1;       ///< For watchpoint: the slot id set_watchpoint() returned.
  VirtAddr watch_address{};  ///< For watchpoint: the watched address.
};

/// What a hardware watchpoint traps on.
enum class WatchKind {
  write,       ///< Data writes (reported after the writing instruction).
  read_write,  ///< Data reads or writes (x86 has no read-only watchpoint).
  execute,     ///< Instruction fetch at the address (reported before it executes).
};

/// A traced process and all of its threads.
///
/// Threading: every member except request_interrupt() must be called from the single thread
/// that created the Process (ptrace requires it). request_interrupt() is async-signal-safe.
/// One live Process per tracer thread: wait_event() waits for any traced child of that
/// thread (it leaves the exit statuses of other, untraced children to their owner).
///
/// Model: breakpoints are non-stop. A thread that hits one stops alone and is reported by
/// wait_event(); the others keep running. resume_thread() moves the thread past the trap
/// without removing it (emulating the displaced instruction where it can, see
/// EmulatedInstruction), so no other thread can run through a missing trap. Instructions
/// that cannot be emulated are single-stepped with every other thread stopped (counted in
/// Stats::single_steps; a trap on a blocking `syscall` instruction would deadlock there, so
/// do not put one on a syscall). New threads (clone) are traced and started automatically;
/// thread exits are absorbed; an exec by the tracee is reported as Kind::exec (its traps
/// and watchpoints are gone).
///
/// A thread is in one of three states for the caller: running; stopped with an event that
/// wait_event() has not returned yet (it stays stopped, resume_thread() ignores it, and the
/// event comes out of wait_event() later); stopped with its event reported, or held by
/// stop_all()/launch()/attach() (resume_thread()/resume_all() restart it).
///
/// A process killed from outside shows up as a `killed` event from wait_event(); calls on
/// it meanwhile throw ProcessExited (status -1 when not reaped yet) or are no-ops
/// (resume_thread on a vanished thread).
///
/// Destruction leaves the tracee as found: every trap is removed; a launched process is
/// killed and reaped, an attached one detached and left running.
class Process {
 public:
  /// Forks and execs `opts.path` under ptrace. The exec failure (missing file, not
  /// executable) is reported through a close-on-exec pipe and thrown as proc::Error.
  /// Returns with the process stopped at its first instruction.
  static std::unique_ptr<Process> launch(const LaunchOptions& opts);
  /// Attaches to every thread of `pid`; returns with all of them stopped.
  static std::unique_ptr<Process> attach(pid_t pid);
  /// A process read from a core file (post-mortem): memory and registers come from `core`
  /// instead of ptrace, every thread is stopped for good, and nothing touches a live
  /// process (pid() is the dumped one's). What needs a live process throws Error with
  /// Delve's text: running or stepping ("can not continue execution of core process"),
  /// writing memory, registers or breakpoints. kill() and detach() only end it.
  static std::unique_ptr<Process> open_core(CoreFile core);
  /// The core file this Process reads (open_core), or nullptr for a live process.
  const CoreFile* core() const;

  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  ~Process();

  pid_t pid() const;
  bool running() const;  ///< false once exited/killed/detached.
  std::vector<pid_t> threads() const;

  /// Inserts an int3 at `addr` (no-op with a refcount bump if one is there already).
  void add_breakpoint(VirtAddr addr);
  /// Drops one reference; the original byte is restored when the last goes. A thread that
  /// was reported at the trap then no longer counts as stopped at it: if a trap is inserted
  /// at its pc again before it resumes, resume_thread() executes that trap (a new event)
  /// instead of stepping over it.
  void remove_breakpoint(VirtAddr addr);
  bool has_breakpoint(VirtAddr addr) const;
  /// Removes every trap (used before detach and at shutdown).
  void remove_all_breakpoints();

  /// Hardware watchpoints through the x86 debug registers (DR0-DR3, DR7): at most four at
  /// once. `size` is 1, 2, 4 or 8 and `addr` must be aligned to it; an execute watchpoint
  /// has size 1. Set on every thread, and on each thread created later (debug registers are
  /// per thread and not inherited); stops running threads for a moment to do so. Reported
  /// by wait_event() as Kind::watchpoint. Returns the slot id (0-3) for clear_watchpoint().
  /// Throws Error when every slot is in use or the size/alignment is invalid.
  /// Caveat: an instruction that resume_thread() emulates at one of our breakpoints (see
  /// EmulatedInstruction) accesses memory in software and does not trigger watchpoints.
  int set_watchpoint(VirtAddr addr, std::size_t size, WatchKind kind);
  /// Frees a slot on every thread. No-op for an id that is not in use.
  void clear_watchpoint(int id);
  /// Clears every watchpoint (detach and destruction do it too).
  void clear_all_watchpoints();

  /// Reads tracee memory; bytes under our traps read as the original code.
  void read_memory(VirtAddr addr, std::span<std::byte> out);
  std::vector<std::byte> read_memory(VirtAddr addr, std::size_t size);
  /// Reads several ranges with one system call (process_vm_readv); throws if any fails.
  struct ReadRequest {
    VirtAddr addr;
    std::span<std::byte> out;
  };
  void read_memory_batch(std::span<ReadRequest> requests);
  /// Memory as the process holds it, our int3s included (what Delve's ExamineMemory shows).
  void read_memory_with_traps(VirtAddr addr, std::span<std::byte> out);
  template <class T>
  T read(VirtAddr addr) {
    T value{};
    read_memory(addr, std::as_writable_bytes(std::span(&value, 1)));
    return value;
  }
  void write_memory(VirtAddr addr, std::span<const std::byte> data);

  Registers registers(pid_t tid);
  void set_registers(pid_t tid, const Registers& regs);
  /// x87/SSE state (PTRACE_GETFPREGS): Go's register ABI passes floats in X0-X14.
  /// (Implemented in proc/src/fp_registers.cpp, with xstate().)
  user_fpregs_struct fp_registers(pid_t tid);
  /// Writes the x87/SSE state back (PTRACE_SETFPREGS): float arguments of an injected call.
  void set_fp_registers(pid_t tid, const user_fpregs_struct& fp);
  /// The thread's XSAVE area (PTRACE_GETREGSET NT_X86_XSTATE: AVX and AVX-512 state beyond
  /// fp_registers()); empty where the kernel has none.
  std::vector<std::byte> xstate(pid_t tid);

  /// Resumes a stopped thread, stepping it over the trap it was reported at (if that trap
  /// is still there and its pc was not moved), and delivering `signal` (0 = none). No-op
  /// for a thread that is running, gone, or has an event not yet returned by wait_event().
  void resume_thread(pid_t tid, int signal = 0);
  /// Resumes every stopped thread (used after launch/attach and after stop_all()) except
  /// those whose event is still queued. A signal reported by wait_event() and not yet
  /// passed to resume_thread() is delivered.
  void resume_all();
  /// Executes one instruction of `tid` (reported as single_step by wait_event()). At one
  /// of our traps the real instruction is executed, not the int3.
  void step_instruction(pid_t tid);
  /// Stops every thread (all-stop, for interactive breakpoints); events that arrive while
  /// stopping are queued and reported later by wait_event().
  void stop_all();

  /// Blocks until something happens. Never loses an event: when several threads stop at
  /// once, they are queued and reported one by one. Throws ProcessExited once the exit has
  /// been reported, and Error if every thread is stopped (nothing could ever happen).
  StopEvent wait_event();
  /// The next event already queued (e.g. a breakpoint hit that stop_all() collected), as
  /// wait_event() would return it, or nothing; never blocks, makes no system call.
  std::optional<StopEvent> take_queued_event();

  /// Async-signal-safe and callable from any thread: makes wait_event() return
  /// Kind::interrupted soon (all threads stopped), e.g. from a SIGINT handler. Sends the
  /// process a SIGSTOP to wake the tracer; that SIGSTOP is recognised and never forwarded.
  void request_interrupt();

  /// Kills the process and reaps it.
  void kill();
  /// Removes every trap and detaches, leaving the process running.
  void detach();

  /// When `pass` is true, `signal` is forwarded to the thread by the event loop itself and
  /// never reported (e.g. SIGURG, Go's preemption signal, which is frequent). Default: every
  /// signal is reported.
  void set_signal_passthrough(int signal, bool pass);

  /// Promises that no other code of this program waits for child processes (waitpid,
  /// waitid, std::system, ...) while this Process lives, so wait_event() may reap with a
  /// single waitpid(-1, __WALL) per event instead of a waitid(WNOWAIT) peek followed by a
  /// waitpid: one system call less per breakpoint hit. A foreign child's exit status is
  /// then consumed and lost. Default false (the safe behaviour); goscope's trace command,
  /// which runs `go build` only before launching, can turn it on.
  void set_exclusive_children(bool exclusive);
  /// When `park` is true, a thread resumed from inside a blocking system call that a stop
  /// interrupted (a futex wait, a sleep, a read: what idle Go threads sit in) is resumed with
  /// PTRACE_SYSCALL. It then cannot execute an instruction of its own without first
  /// reporting the call's exit, so stop_all() leaves it where it is instead of interrupting
  /// and waiting for it, and the next resume has nothing to do for it: an all-stop round
  /// trip costs the threads that ran, not every thread. Such a thread is "parked": listed
  /// by threads(), registers() answers with its registers as of its last stop (rax as the
  /// interrupted call left it), and whatever needs it truly stopped (set_registers,
  /// fp_registers, step_instruction, watchpoints, detach) interrupts it first. Parking
  /// costs one extra stop when a thread enters it and one when its call returns. Caveat:
  /// the parked call itself still completes while the process is stopped (a read may fill
  /// its buffer). Default off.
  void set_park_blocked(bool park);

  /// When `on`, memory read while every thread is stopped is read and kept by whole pages
  /// (4 KiB, up to 1 MiB) until any thread is let run again or memory is written through
  /// this Process: an all-stop debugger reading g, m and stacks at a stop then makes one
  /// process_vm_readv per page instead of one per read. Memory that something else changes
  /// while every thread is stopped (a mapping shared with another process) reads stale
  /// until the next resume. Default off (a non-stop tracer gains nothing from it).
  void set_stopped_read_cache(bool on);
  /// With that cache on and every thread stopped: fetches the pages holding `addrs` that
  /// are not cached yet, together in one system call, so that the reads that follow need
  /// none. Unreadable addresses are skipped. No-op otherwise.
  void prefetch(std::span<const VirtAddr> addrs);

  /// Statistics for benchmarks and reports.
  struct Stats {
    std::uint64_t breakpoint_hits = 0;
    std::uint64_t emulated_steps = 0;
    std::uint64_t single_steps = 0;
    std::uint64_t watchpoint_hits = 0;
    /// Emulated instructions whose memory read was served from what the caller had just
    /// read while the thread was stopped at the trap (no system call).
    std::uint64_t cached_reads = 0;
    /// set_stopped_read_cache(): system calls that fetched pages, and reads served without one.
    std::uint64_t page_fills = 0;
    std::uint64_t page_cache_hits = 0;
    /// set_park_blocked(): resumes that parked a thread, syscall-stops those threads
    /// reported, and parked threads interrupted because a caller needed them stopped.
    std::uint64_t parked = 0;
    std::uint64_t syscall_stops = 0;
    std::uint64_t unparked = 0;
  };
  Stats stats() const;

 private:
  /// Brings a parked thread to a real stop (no-op for others).
  void make_stopped(pid_t tid);
  struct Impl;
  explicit Process(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace goscope::proc

#pragma once
// Helpers shared by the proc tests: fixture paths, ELF symbol lookup (proc must not depend
// on the dwarf layer, so this is a minimal .symtab reader), temp files, native runs.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "proc/process.hpp"

namespace goscope::proc::test {

std::string fixture(const std::string& name);

/// Exits the test program with 77 (CTest: skipped) when this environment forbids ptrace.
void require_ptrace();
/// require_ptrace(), then exits with 77 (skipped), printing the reason, when hardware
/// watchpoints do not trap on this machine (proc::hardware_watchpoints_fire()).
void require_hardware_watchpoints();

struct Symbol {
  std::uint64_t address = 0;
  std::uint64_t size = 0;
};
/// Looks `name` up in the ELF .symtab of `path`.
std::optional<Symbol> find_symbol(const std::string& path, const std::string& name);
/// Every symbol whose name starts with `prefix`, sorted by address.
std::vector<std::pair<std::string, Symbol>> symbols_with_prefix(const std::string& path,
                                                                const std::string& prefix);
/// Raw bytes of the file at the given virtual address (through the program headers).
std::vector<std::byte> file_bytes_at(const std::string& path, std::uint64_t vaddr,
                                     std::size_t size);

/// A fresh path under the temp directory, unique per call.
std::string temp_path(const std::string& stem);
std::string read_text(const std::string& path);

struct NativeRun {
  int exit_status = -1;
  std::string out;
};
/// Runs the program untraced and returns its exit status and stdout.
NativeRun run_native(const std::string& path, const std::vector<std::string>& args);

/// Forks and execs `path` untraced with stdout to `stdout_path`; returns the pid.
pid_t spawn(const std::string& path, const std::vector<std::string>& args,
            const std::string& stdout_path);

/// Resumes every thread, calls request_interrupt() from another thread `after` later, and
/// waits for the stop, passing the program's own signals on meanwhile (a Go program gets
/// SIGURG). Returns the event that ended the wait: `interrupted` unless the program ended.
StopEvent run_then_interrupt(Process& p, std::chrono::milliseconds after);

/// Raw tracee memory through /proc/PID/mem (shows our int3s, unlike read_memory).
std::vector<std::byte> raw_memory(pid_t pid, std::uint64_t addr, std::size_t size);

}  // namespace goscope::proc::test

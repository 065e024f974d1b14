#pragma once
// An ELF core file of an x86-64 Linux process (the kernel's, gcore's, or a dump of ours),
// read-only: its threads' registers from the notes and its memory from the dumped segments,
// with what the core left out (unmodified file-backed pages, per coredump_filter) read from
// the mapped files NT_FILE names. Every offset and size in the file is checked against the
// file: a truncated or corrupt core is a one-line CoreError, never a crash or an overread.
#include <sys/user.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "proc/addr.hpp"
#include "proc/error.hpp"
#include "proc/registers.hpp"
#include "proc/unique_fd.hpp"

namespace goscope::proc {

/// Why a core file cannot be opened (one line, names the file).
class CoreError : public Error {
 public:
  using Error::Error;
};

/// One thread of the dumped process: NT_PRSTATUS and the notes that follow it.
struct CoreThread {
  int tid = 0;
  int signal = 0;  ///< pr_cursig: the signal the thread was stopped with (0: none)
  Registers regs;
  std::vector<std::byte> fpregs;  ///< NT_FPREGSET (user_fpregs_struct), empty if absent
  std::vector<std::byte> xstate;  ///< NT_X86_XSTATE (the XSAVE area), empty if absent
};

/// A file mapping of the process (NT_FILE).
struct CoreMapping {
  VirtAddr start, end;
  std::uint64_t file_offset = 0;  ///< bytes into the file where `start` maps
  std::string path;
};

/// A PT_LOAD segment: [vaddr, vaddr+memsz) of the process, the first filesz bytes dumped.
struct CoreSegment {
  VirtAddr vaddr;
  std::uint64_t memsz = 0;
  std::uint64_t filesz = 0;
  std::uint64_t offset = 0;  ///< in the core file
  std::uint32_t flags = 0;   ///< PF_R | PF_W | PF_X
};

class CoreFile {
 public:
  /// Opens and indexes the core. Throws CoreError: not an ELF file, not a core file, not
  /// x86-64, truncated (a segment or note past the end of the file), no thread.
  static CoreFile open(const std::string& path);

  CoreFile(CoreFile&&) noexcept;
  CoreFile& operator=(CoreFile&&) noexcept;
  ~CoreFile();

  const std::string& path() const;
  /// The process id (NT_PRPSINFO, else the first thread's).
  int pid() const;
  /// The command name the kernel recorded (pr_fname, at most 15 characters), or "".
  const std::string& command() const;
  /// Threads in the order of their notes: the first is the one that received the signal
  /// (the kernel writes it first).
  const std::vector<CoreThread>& threads() const;
  const std::vector<CoreMapping>& mappings() const;
  const std::vector<CoreSegment>& segments() const;
  /// An auxiliary-vector value (AT_ENTRY, AT_PHDR, ...), if the core has NT_AUXV.
  std::optional<std::uint64_t> auxv(std::uint64_t type) const;

  /// Reads process memory at `addr`: dumped bytes first, then what a mapped file holds for
  /// pages the core left out. Returns how many bytes were read from `addr` on before the
  /// first unreadable one (0: `addr` is not readable).
  std::size_t read(VirtAddr addr, std::span<std::byte> out) const;

  /// Checks that `executable` is the program the core was taken from (its entry point where
  /// the core's auxiliary vector says the process started, and the bytes there, where the
  /// core dumped them) and returns the load bias (0 for a non-PIE executable). From then on,
  /// pages of the executable that the core left out are read from `executable` rather than
  /// from the path the core recorded. Throws CoreError when it is another program.
  std::uint64_t use_executable(const std::string& executable);

 private:
  struct Impl;
  explicit CoreFile(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace goscope::proc

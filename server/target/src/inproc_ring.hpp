#pragma once
// The in-process engine's ring: a memfd mapped into goscope and into the traced process, which
// the capture code in the trampolines writes records into and goscope's consumer reads. No
// system call on either side per record.
//
// Layout (the same in both processes): one header page, then the data area of `capacity`
// bytes (a power of two) mapped twice back to back, so a record that wraps around the end
// is still contiguous for the writer and the reader.
//
//   header +0    head     bytes ever reserved (writers: lock xadd)
//          +64   tail     bytes ever consumed (goscope; writers compare with it)
//          +128  enabled  0: the capture code records nothing (after a detach)
//   data   slot = [u64 size, written last: the commit][record (capture::RecordHeader ...)]
//
// A writer reserves `size` bytes with one `lock xadd` on head, waits while the ring has no
// room for them (reserved - tail > capacity: it traps to goscope, which drains; the
// back-pressure), writes the record and then the size word. The consumer reads slots in
// order while their size word is set, zeroes what it read and advances tail: a slot's size
// word is 0 until its writer commits it, so a record still being written ends the drain.
#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>

#include "proc/addr.hpp"
#include "proc/unique_fd.hpp"

namespace goscope::proc {
class Process;
}

namespace goscope::target::inproc {

inline constexpr std::uint64_t kHeadOffset = 0;
inline constexpr std::uint64_t kTailOffset = 64;
inline constexpr std::uint64_t kEnabledOffset = 128;
inline constexpr std::uint64_t kHeaderBytes = 4096;

class SharedRing {
 public:
  /// `capacity`: a power of two, a multiple of the page size, below 2 GiB.
  explicit SharedRing(std::uint64_t capacity);
  ~SharedRing();
  SharedRing(const SharedRing&) = delete;
  SharedRing& operator=(const SharedRing&) = delete;

  /// Maps the ring into the process (thread `tid` stopped, not yet run: goscope makes it run
  /// open/mmap/close at `syscall_insn`). Throws proc::Error; then nothing is mapped.
  void map_into(proc::Process& process, pid_t tid, proc::VirtAddr syscall_insn);
  /// The header's address in the traced process.
  std::uint64_t remote_base() const { return remote_base_; }
  /// For capture code that runs in this process (the unit tests): the ring's address here.
  void use_local_address() { remote_base_ = reinterpret_cast<std::uint64_t>(local_); }
  std::uint64_t capacity() const { return capacity_; }

  /// Consumes every committed slot in order; `f(position, record)` for each. Stops at a
  /// slot not committed yet. A slot whose size word is not a plausible size (the process
  /// scribbled over the ring) ends consumption for good: counted in corrupt().
  std::size_t consume(const std::function<void(std::uint64_t, std::span<const std::byte>)>& f);
  /// Bytes reserved by writers so far (positions below it belong to earlier hits).
  std::uint64_t head() const;
  std::uint64_t tail() const { return tail_; }
  /// The record of the slot at `position` (for a writer stopped before committing it).
  std::span<const std::byte> slot_at(std::uint64_t position, std::uint64_t size) const;
  /// Position of the slot a writer's slot pointer (in the process) points to, given the
  /// tail: the slot is between tail and head.
  std::uint64_t position_of(std::uint64_t remote_slot) const;
  void set_enabled(bool on);
  bool corrupt() const { return corrupt_; }

 private:
  std::atomic<std::uint64_t>& word(std::uint64_t offset) const;
  std::uint64_t capacity_;
  proc::UniqueFd memfd_;
  std::byte* local_ = nullptr;  ///< header, then the data twice
  std::uint64_t tail_ = 0;
  std::uint64_t remote_base_ = 0;
  bool corrupt_ = false;
};

}  // namespace goscope::target::inproc

#include "inproc_ring.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "capture_plan.hpp"
#include "proc/error.hpp"
#include "proc/inject.hpp"
#include "proc/process.hpp"

namespace goscope::target::inproc {

SharedRing::SharedRing(std::uint64_t capacity) : capacity_(capacity) {
  if (capacity == 0 || (capacity & (capacity - 1)) != 0 || capacity % kHeaderBytes != 0 ||
      capacity >= (1ULL << 31))
    proc::Error::send("inproc ring: bad capacity");
  memfd_.reset(static_cast<int>(::syscall(SYS_memfd_create, "goscope-ring", MFD_CLOEXEC)));
  if (!memfd_)
    proc::Error::send_errno("memfd_create(ring)");
  if (::ftruncate(memfd_.get(), static_cast<off_t>(kHeaderBytes + capacity)) != 0)
    proc::Error::send_errno("ftruncate(ring)");
  // Reserve the whole range, then put the file over it: header + data, and data again.
  const std::size_t total = kHeaderBytes + 2 * capacity;
  void* base = ::mmap(nullptr, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED)
    proc::Error::send_errno("mmap(ring)");
  local_ = static_cast<std::byte*>(base);
  if (::mmap(local_, kHeaderBytes + capacity, PROT_READ | PROT_WRITE,
             MAP_SHARED | MAP_FIXED | MAP_POPULATE, memfd_.get(), 0) == MAP_FAILED ||
      ::mmap(local_ + kHeaderBytes + capacity, capacity, PROT_READ | PROT_WRITE,
             MAP_SHARED | MAP_FIXED | MAP_POPULATE, memfd_.get(),
             static_cast<off_t>(kHeaderBytes)) == MAP_FAILED) {
    const int e = errno;
    ::munmap(local_, total);
    local_ = nullptr;
    errno = e;
    proc::Error::send_errno("mmap(ring data)");
  }
  word(kEnabledOffset).store(1, std::memory_order_release);
}

SharedRing::~SharedRing() {
  if (local_)
    ::munmap(local_, kHeaderBytes + 2 * capacity_);
}

std::atomic<std::uint64_t>& SharedRing::word(std::uint64_t offset) const {
  static_assert(sizeof(std::atomic<std::uint64_t>) == 8);
  return *reinterpret_cast<std::atomic<std::uint64_t>*>(local_ + offset);
}

void SharedRing::map_into(proc::Process& process, pid_t tid, proc::VirtAddr syscall_insn) {
  // The memfd's path as the process opens it, on its stack below the red zone (the process
  // has not run: nothing lives there).
  const std::string path =
      "/proc/" + std::to_string(::getpid()) + "/fd/" + std::to_string(memfd_.get());
  const auto regs = process.registers(tid);
  const std::uint64_t str_at = (regs.gp.rsp - 4096) & ~15ULL;
  process.write_memory(proc::VirtAddr(str_at),
                       std::as_bytes(std::span(path.c_str(), path.size() + 1)));
  auto sys = [&](long nr, std::array<std::uint64_t, 6> args) {
    return proc::inject_syscall(process, tid, syscall_insn, nr, args);
  };
  const auto fd = sys(SYS_open, {str_at, O_RDWR | O_CLOEXEC, 0, 0, 0, 0});
  if (fd < 0)
    proc::Error::send("inproc ring: open " + path +
                      " in the process: " + std::strerror(static_cast<int>(-fd)));
  const auto ufd = static_cast<std::uint64_t>(fd);
  const std::uint64_t total = kHeaderBytes + 2 * capacity_;
  const auto base = sys(SYS_mmap, {0, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
                                   static_cast<std::uint64_t>(-1), 0});
  std::string failure;
  if (base < 0 && base > -4096) {
    failure = std::string("mmap: ") + std::strerror(static_cast<int>(-base));
  } else {
    const auto b = static_cast<std::uint64_t>(base);
    // Populated: a writer's first touch of a page would otherwise cost it a page fault.
    const auto r1 = sys(SYS_mmap, {b, kHeaderBytes + capacity_, PROT_READ | PROT_WRITE,
                                   MAP_SHARED | MAP_FIXED | MAP_POPULATE, ufd, 0});
    const auto r2 = sys(SYS_mmap, {b + kHeaderBytes + capacity_, capacity_, PROT_READ | PROT_WRITE,
                                   MAP_SHARED | MAP_FIXED | MAP_POPULATE, ufd, kHeaderBytes});
    if (r1 != base || r2 != static_cast<std::int64_t>(b + kHeaderBytes + capacity_)) {
      failure = "mmap of the ring failed";
      sys(SYS_munmap, {b, total, 0, 0, 0, 0});
    } else {
      remote_base_ = b;
    }
  }
  sys(SYS_close, {ufd, 0, 0, 0, 0, 0});
  if (!failure.empty())
    proc::Error::send("inproc ring: " + failure);
}

std::uint64_t SharedRing::head() const {
  return word(kHeadOffset).load(std::memory_order_acquire);
}

void SharedRing::set_enabled(bool on) {
  word(kEnabledOffset).store(on ? 1 : 0, std::memory_order_release);
}

std::span<const std::byte> SharedRing::slot_at(std::uint64_t position, std::uint64_t size) const {
  return {local_ + kHeaderBytes + (position & (capacity_ - 1)), size};
}

std::uint64_t SharedRing::position_of(std::uint64_t remote_slot) const {
  const std::uint64_t off = remote_slot - remote_base_ - kHeaderBytes;
  return tail_ + ((off - tail_) & (capacity_ - 1));
}

std::size_t SharedRing::consume(
    const std::function<void(std::uint64_t, std::span<const std::byte>)>& f) {
  std::size_t n = 0;
  const std::uint64_t head_now = head();
  while (!corrupt_ && tail_ < head_now) {
    std::byte* slot = local_ + kHeaderBytes + (tail_ & (capacity_ - 1));
    auto& size_word = *reinterpret_cast<std::atomic<std::uint64_t>*>(slot);
    const std::uint64_t size = size_word.load(std::memory_order_acquire);
    if (size == 0)
      break;  // still being written
    if (size % 8 != 0 || size < 8 + sizeof(capture::RecordHeader) || size > capacity_ / 2 ||
        tail_ + size > head_now) {
      corrupt_ = true;
      break;
    }
    f(tail_, std::span<const std::byte>(slot + 8, size - 8));
    // Zero what was read, so that the size word of whatever is written here next reads 0
    // until committed; then give the bytes back to the writers.
    std::memset(slot, 0, size);
    tail_ += size;
    word(kTailOffset).store(tail_, std::memory_order_release);
    ++n;
  }
  return n;
}

}  // namespace goscope::target::inproc

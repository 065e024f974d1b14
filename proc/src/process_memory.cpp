// Tracee memory: reads (process_vm_readv, /proc/PID/mem where it fails), writes, breakpoint
// bytes masked out of what callers read, and the caches of reads made while threads are
// stopped (the small read cache and the page cache of set_stopped_read_cache).
#include <fcntl.h>
#include <sys/uio.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstddef>
#include <cstring>

#include "proc/emulator.hpp"
#include "proc/error.hpp"
#include "proc/unique_fd.hpp"
#include "process_impl.hpp"

namespace goscope::proc {

using namespace detail;

void Process::Impl::open_mem() {
  std::string path = "/proc/" + std::to_string(pid_) + "/mem";
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0)
    Error::send_errno("open " + path);
  mem_fd_.reset(fd);
}

// Writes through /proc/PID/mem, which (unlike process_vm_writev) can write read-only text
// and does not need a stopped thread.
void Process::Impl::poke(std::uint64_t addr, std::byte value) {
  if (::pwrite(mem_fd_.get(), &value, 1, static_cast<off_t>(addr)) != 1) {
    fail("write memory at " + hex(addr), errno);
  }
}

void Process::Impl::mask_traps(std::uint64_t addr, std::span<std::byte> out) const {
  for (auto it = sites_.lower_bound(addr); it != sites_.end() && it->first < addr + out.size();
       ++it) {
    out[it->first - addr] = it->second.orig;
  }
}

void Process::Impl::drop_read_cache() {
  read_cache_size_ = 0;
  read_cache_next_ = 0;
  drop_pages();
}

// ---- Page cache (set_stopped_read_cache)

void Process::Impl::drop_pages() {
  for (auto& [addr, page] : pages_) free_pages_.push_back(std::move(page));
  pages_.clear();
}

// Whether reads may be served from (and fill) the page cache now: enabled, and nothing
// has been let run since every thread was last seen stopped. A thread that is running,
// listening (group-stop) or exiting may change memory, so any of those disables it until
// the next generation.
bool Process::Impl::pages_usable() {
  if (!page_cache_enabled_ || life_ != Life::alive || core_)
    return false;
  if (page_cache_gen_ != resume_gen_) {
    drop_pages();
    page_cache_gen_ = resume_gen_;
    page_cache_usable_ = false;
    if (!gen_pages_.empty())
      speculative_pages_.swap(gen_pages_);
    gen_pages_.clear();
  }
  // Not usable yet in this generation: maybe every thread has stopped since (threads
  // only stop without a new generation; clock_ counts the stops).
  if (!page_cache_usable_ && page_cache_clock_ != clock_) {
    page_cache_clock_ = clock_;
    page_cache_usable_ = !threads_.empty();
    for (const auto& [tid, t] : threads_) {
      if (t.state != ThreadState::stopped && t.state != ThreadState::parked) {
        page_cache_usable_ = false;
        break;
      }
    }
  }
  return page_cache_usable_;
}

// Fetches the pages in [first, last] that are not cached, with one system call; false if
// any of them cannot be read with process_vm_readv (the caller then reads directly).
bool Process::Impl::fill_pages(std::span<const std::uint64_t> wanted) {
  // Room first: pages of this request found cached below must still be there after.
  if (pages_.size() + wanted.size() + speculative_pages_.size() > kMaxCachedPages)
    drop_pages();
  std::array<std::uint64_t, kMaxPagesPerFill> addrs;  // the first n are set below
  std::size_t n = 0;
  auto add = [&](std::uint64_t page) {
    const auto end = addrs.begin() + static_cast<std::ptrdiff_t>(n);
    if (pages_.contains(page) || std::find(addrs.begin(), end, page) != end)
      return true;
    if (n == kMaxPagesPerFill)
      return false;
    addrs[n++] = page;
    return true;
  };
  for (std::uint64_t page : wanted) {
    if (!add(page))
      return false;
  }
  if (n == 0) {
    ++stats_.page_cache_hits;
    return true;
  }
  if (!speculative_pages_.empty()) {
    // First fetch of this generation: the previous one's pages come along.
    const std::size_t needed = n;
    std::vector<std::uint64_t> spec;
    spec.swap(speculative_pages_);
    for (std::uint64_t page : spec) add(page);
    if (n > needed && fetch_pages(std::span(addrs).first(n)))
      return true;
    n = needed;  // one of them is gone: fetch only what was asked for
  }
  return fetch_pages(std::span(addrs).first(n));
}

// Reads whole pages (none of them cached) with one process_vm_readv.
bool Process::Impl::fetch_pages(std::span<const std::uint64_t> addrs) {
  const std::size_t n = addrs.size();
  std::array<iovec, kMaxPagesPerFill> local{}, remote{};
  std::vector<std::unique_ptr<std::byte[]>> bufs;
  bufs.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    if (free_pages_.empty()) {
      bufs.push_back(std::make_unique_for_overwrite<std::byte[]>(kPageSize));
    } else {
      bufs.push_back(std::move(free_pages_.back()));
      free_pages_.pop_back();
    }
    local[i] = {bufs[i].get(), kPageSize};
    remote[i] = {reinterpret_cast<void*>(addrs[i]), kPageSize};
  }
  const ssize_t got = ::process_vm_readv(pid_, local.data(), n, remote.data(), n, 0);
  if (got != static_cast<ssize_t>(n * kPageSize)) {
    for (auto& b : bufs) free_pages_.push_back(std::move(b));
    return false;
  }
  for (std::size_t i = 0; i < n; ++i) {
    pages_.emplace(addrs[i], std::move(bufs[i]));
    if (gen_pages_.size() < kSpeculativePages)
      gen_pages_.push_back(addrs[i]);
  }
  ++stats_.page_fills;
  return true;
}

void Process::Impl::prefetch(std::span<const VirtAddr> addrs) {
  if (!pages_usable())
    return;
  std::vector<std::uint64_t> wanted;
  wanted.reserve(addrs.size());
  for (auto a : addrs) {
    if (a.value() != 0)
      wanted.push_back(a.value() & ~(kPageSize - 1));
  }
  std::sort(wanted.begin(), wanted.end());
  wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
  if (wanted.size() > kMaxPagesPerFill)
    wanted.resize(kMaxPagesPerFill);
  if (fill_pages(wanted))
    return;
  // One of them is not readable: take the others one by one.
  for (auto page : wanted) fill_pages(std::span(&page, 1));
}

// Serves [addr, addr + out.size()) from cached pages, fetching the missing ones; false
// when the cache cannot be used for it.
bool Process::Impl::read_through_pages(std::uint64_t addr, std::span<std::byte> out) {
  const std::uint64_t end = addr + out.size();
  if (end < addr)
    return false;
  const std::uint64_t first = addr & ~(kPageSize - 1);
  const std::uint64_t last = (end - 1) & ~(kPageSize - 1);
  if ((last - first) / kPageSize + 1 > kMaxPagesPerRead)
    return false;
  std::array<std::uint64_t, kMaxPagesPerRead> wanted{};
  std::size_t n = 0;
  for (std::uint64_t page = first;; page += kPageSize) {
    wanted[n++] = page;
    if (page == last)
      break;
  }
  if (!fill_pages(std::span(wanted).first(n)))
    return false;
  copy_from_pages(addr, out);
  return true;
}

void Process::Impl::copy_from_pages(std::uint64_t addr, std::span<std::byte> out) {
  std::size_t done = 0;
  while (done < out.size()) {
    const std::uint64_t a = addr + done;
    const std::uint64_t page = a & ~(kPageSize - 1);
    const std::size_t off = a - page;
    const std::size_t n = std::min<std::size_t>(kPageSize - off, out.size() - done);
    std::memcpy(out.data() + done, pages_.at(page).get() + off, n);
    done += n;
  }
}

void Process::Impl::remember_read(std::uint64_t addr, std::span<const std::byte> bytes) {
  if (bytes.empty() || bytes.size() > CachedRead{}.bytes.size())
    return;
  CachedRead& c = read_cache_[read_cache_next_];
  read_cache_next_ = (read_cache_next_ + 1) % kReadCacheSize;
  read_cache_size_ = std::min(read_cache_size_ + 1, kReadCacheSize);
  c.addr = addr;
  c.clock = clock_;
  c.size = static_cast<std::uint8_t>(bytes.size());
  std::copy(bytes.begin(), bytes.end(), c.bytes.begin());
}

bool Process::Impl::cached_read(const Thread& t, std::uint64_t addr, std::span<std::byte> out) {
  if (t.stop_clock == kNotStopped)
    return false;
  for (std::size_t i = 0; i < read_cache_size_; ++i) {
    const CachedRead& c = read_cache_[i];
    if (c.clock < t.stop_clock || addr < c.addr || addr + out.size() > c.addr + c.size)
      continue;
    std::copy_n(c.bytes.begin() + static_cast<std::ptrdiff_t>(addr - c.addr), out.size(),
                out.begin());
    ++stats_.cached_reads;
    return true;
  }
  return false;
}

void Process::Impl::read_memory(std::uint64_t addr, std::span<std::byte> out) {
  ensure_alive();
  if (out.empty())
    return;
  if (core_) {
    core_read(addr, out);
    return;
  }
  if (pages_usable() && read_through_pages(addr, out)) {
    mask_traps(addr, out);
    remember_read(addr, out);
    return;
  }
  iovec local{out.data(), out.size()};
  iovec remote{reinterpret_cast<void*>(addr), out.size()};
  ssize_t n = ::process_vm_readv(pid_, &local, 1, &remote, 1, 0);
  if (n != static_cast<ssize_t>(out.size())) {
    // process_vm_readv cannot read mappings without PROT_READ; /proc/PID/mem can.
    std::size_t done = 0;
    while (done < out.size()) {
      ssize_t r = ::pread(mem_fd_.get(), out.data() + done, out.size() - done,
                          static_cast<off_t>(addr + done));
      if (r <= 0) {
        if (r < 0 && errno == EINTR)
          continue;
        fail("read memory at " + hex(addr + done), r == 0 ? EIO : errno);
      }
      done += static_cast<std::size_t>(r);
    }
  }
  mask_traps(addr, out);
  remember_read(addr, out);
}

void Process::Impl::read_memory_batch(std::span<ReadRequest> requests) {
  ensure_alive();
  if (core_) {
    for (auto& r : requests) core_read(r.addr.value(), r.out);
    return;
  }
  if (pages_usable() && read_batch_through_pages(requests))
    return;
  constexpr std::size_t kChunk = 1024;  // IOV_MAX
  for (std::size_t start = 0; start < requests.size(); start += kChunk) {
    std::size_t count = std::min(kChunk, requests.size() - start);
    std::vector<iovec> local(count), remote(count);
    std::size_t total = 0;
    for (std::size_t i = 0; i < count; ++i) {
      auto& r = requests[start + i];
      local[i] = {r.out.data(), r.out.size()};
      remote[i] = {reinterpret_cast<void*>(r.addr.value()), r.out.size()};
      total += r.out.size();
    }
    ssize_t n = ::process_vm_readv(pid_, local.data(), count, remote.data(), count, 0);
    if (n == static_cast<ssize_t>(total)) {
      for (std::size_t i = 0; i < count; ++i) {
        auto& r = requests[start + i];
        mask_traps(r.addr.value(), r.out);
        remember_read(r.addr.value(), r.out);
      }
      continue;
    }
    // Partial: redo one by one so that the failing range is named (and so that
    // unreadable-but-mapped ranges get the /proc/PID/mem fallback).
    for (std::size_t i = 0; i < count; ++i) {
      auto& r = requests[start + i];
      read_memory(r.addr.value(), r.out);
    }
  }
}

// read_memory_batch() from cached pages: every missing page fetched with one system call.
bool Process::Impl::read_batch_through_pages(std::span<ReadRequest> requests) {
  std::vector<std::uint64_t> wanted;
  for (const auto& r : requests) {
    if (r.out.empty())
      continue;
    const std::uint64_t addr = r.addr.value();
    const std::uint64_t end = addr + r.out.size();
    if (end < addr)
      return false;
    const std::uint64_t last = (end - 1) & ~(kPageSize - 1);
    for (std::uint64_t page = addr & ~(kPageSize - 1);; page += kPageSize) {
      wanted.push_back(page);
      if (wanted.size() > kMaxPagesPerFill)
        return false;
      if (page == last)
        break;
    }
  }
  if (!fill_pages(wanted))
    return false;
  for (auto& r : requests) {
    if (r.out.empty())
      continue;
    copy_from_pages(r.addr.value(), r.out);
    mask_traps(r.addr.value(), r.out);
    remember_read(r.addr.value(), r.out);
  }
  return true;
}

void Process::Impl::write_memory(std::uint64_t addr, std::span<const std::byte> data) {
  ensure_alive();
  if (data.empty())
    return;
  drop_read_cache();
  std::vector<std::byte> buf(data.begin(), data.end());
  // Bytes under our traps become the new "original" code; the trap stays.
  for (auto it = sites_.lower_bound(addr); it != sites_.end() && it->first < addr + buf.size();
       ++it) {
    it->second.orig = buf[it->first - addr];
    buf[it->first - addr] = kInt3;
  }
  // Cached decodes of instructions overlapping the write are stale.
  std::uint64_t from = addr >= 15 ? addr - 15 : 0;
  for (auto it = sites_.lower_bound(from); it != sites_.end() && it->first < addr + buf.size();
       ++it) {
    it->second.decoded = false;
    it->second.emu.reset();
  }
  std::size_t done = 0;
  while (done < buf.size()) {
    ssize_t r = ::pwrite(mem_fd_.get(), buf.data() + done, buf.size() - done,
                         static_cast<off_t>(addr + done));
    if (r <= 0) {
      if (r < 0 && errno == EINTR)
        continue;
      fail("write memory at " + hex(addr + done), r == 0 ? EIO : errno);
    }
    done += static_cast<std::size_t>(r);
  }
}

}  // namespace goscope::proc

// Process over a core file (Process::open_core): the same Process, with a CoreFile as the
// source of memory and registers instead of ptrace. Every dumped thread is a stopped thread
// whose registers are already loaded, so the register, memory and thread paths of the
// rest of Process serve it unchanged; the few places that would make a system call on the
// process (reads, FP registers, teardown, interrupts) ask core_ first, and what needs a
// live process refuses with Delve's text (refuse_on_core).
#include <algorithm>
#include <cstring>

#include "proc/core_file.hpp"
#include "proc/error.hpp"
#include "proc/process.hpp"
#include "process_impl.hpp"

namespace goscope::proc {

std::unique_ptr<Process> Process::open_core(CoreFile core) {
  auto impl = std::make_unique<Impl>();
  impl->core_ = std::make_unique<CoreFile>(std::move(core));
  impl->pid_ = impl->core_->pid();
  impl->launched_ = false;
  for (const CoreThread& ct : impl->core_->threads()) {
    Impl::Thread t;
    t.state = Impl::ThreadState::stopped;
    t.held = true;
    t.regs = ct.regs.gp;
    t.regs_valid = true;
    // A core may name a thread twice (a corrupt or hand-made one): the first note wins,
    // as the first thread is the one that received the signal.
    impl->threads_.emplace(ct.tid, t);
  }
  return std::unique_ptr<Process>(new Process(std::move(impl)));
}

const CoreFile* Process::core() const {
  return impl_->core_.get();
}

const std::byte* Process::Impl::core_page(std::uint64_t page) {
  if (auto it = core_pages_.find(page); it != core_pages_.end())
    return it->second.get();
  if (core_pages_.size() >= kMaxCorePages)
    core_pages_.clear();
  auto bytes = std::make_unique<std::byte[]>(kPageSize);
  if (core_->read(VirtAddr(page), std::span(bytes.get(), kPageSize)) != kPageSize)
    bytes.reset();
  return core_pages_.emplace(page, std::move(bytes)).first->second.get();
}

void Process::Impl::core_read(std::uint64_t addr, std::span<std::byte> out) {
  // Small reads through the page cache; larger ones (or ones touching a page the core does
  // not hold whole) straight from the core.
  if (out.size() <= kMaxPagesPerRead * kPageSize) {
    std::size_t done = 0;
    while (done < out.size()) {
      const std::uint64_t at = addr + done;
      if (at < addr)
        break;  // wrapped past the top of the address space
      const std::uint64_t page = at & ~(kPageSize - 1);
      const std::byte* bytes = core_page(page);
      if (bytes == nullptr)
        break;
      const std::size_t off = static_cast<std::size_t>(at - page);
      const std::size_t n = std::min<std::size_t>(kPageSize - off, out.size() - done);
      std::memcpy(out.data() + done, bytes + off, n);
      done += n;
    }
    if (done == out.size())
      return;
  }
  const std::size_t n = core_->read(VirtAddr(addr), out);
  if (n != out.size())
    throw Error("read memory at " + detail::hex(addr + n) + ": not in the core file");
}

const CoreThread& Process::Impl::core_thread(pid_t tid) const {
  for (const CoreThread& t : core_->threads()) {
    if (t.tid == tid)
      return t;
  }
  throw Error("thread " + std::to_string(tid) + " is not in the core file");
}

user_fpregs_struct core_fp_registers(const CoreThread& t) {
  user_fpregs_struct fp{};
  // NT_FPREGSET is user_fpregs_struct; the XSAVE area begins with the same FXSAVE layout
  // (Delve reads the FP state from NT_X86_XSTATE alone).
  if (t.fpregs.size() >= sizeof fp)
    std::memcpy(&fp, t.fpregs.data(), sizeof fp);
  else if (t.xstate.size() >= sizeof fp)
    std::memcpy(&fp, t.xstate.data(), sizeof fp);
  return fp;
}

}  // namespace goscope::proc

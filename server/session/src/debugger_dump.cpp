// Delve's DumpStart, DumpWait and DumpCancel: a core file of the stopped process, written
// on the tracer thread (which answers nothing else meanwhile, as Delve holds its target
// lock for the dump) while any thread may ask how far it got or cancel it.
#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "debugger_impl.hpp"
#include "target/core_dump.hpp"

namespace goscope::session {
namespace {

// Go's text for a failed system call: strerror in lower case ("no such file or directory").
std::string go_errno_text(int err) {
  std::string s = std::strerror(err);
  if (!s.empty())
    s[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[0])));
  return s;
}

}  // namespace

bool Debugger::is_core() const {
  return !impl_->cfg.core_file.empty();
}

DumpState Debugger::dump_start(const std::string& path) {
  if (is_core())
    throw DebuggerError("core dumping not supported");
  {
    std::lock_guard lock(impl_->dump_mu);
    if (impl_->dump_state.dumping)
      throw DebuggerError("core dump in progress");
  }
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0)
    throw DebuggerError("open " + path + ": " + go_errno_text(errno));
  {
    std::lock_guard lock(impl_->dump_mu);
    impl_->dump_state = DumpState{};
    impl_->dump_state.dumping = true;
    impl_->dump_canceled = false;
  }
  Impl* impl = impl_.get();
  std::function<void()> job = [impl, fd, path] {
    std::string err;
    bool done = false;
    try {
      if (impl->is_detached)
        throw DebuggerError("detached from the process");
      if (!impl->dbg || !impl->dbg->live())
        impl->throw_exited();
      done = translate_errors([&] {
        return target::dump_core(*impl->dbg, fd, [impl](const target::DumpProgress& p) {
          std::lock_guard lock(impl->dump_mu);
          auto& st = impl->dump_state;
          st.threads_done = p.threads_done;
          st.threads_total = p.threads_total;
          st.mem_done = p.mem_done;
          st.mem_total = p.mem_total;
          return !impl->dump_canceled;
        });
      });
    } catch (const std::exception& e) {
      err = e.what();
    }
    if (::close(fd) != 0 && err.empty())
      err = "error writing output file: " + go_errno_text(errno);
    if (!done)
      ::unlink(path.c_str());  // cancelled or failed: no half-written core left behind
    {
      std::lock_guard lock(impl->dump_mu);
      impl->dump_state.dumping = false;
      impl->dump_state.all_done = done && err.empty();
      impl->dump_state.err = err;
    }
    impl->dump_cv.notify_all();
  };
  if (!impl_->post(job)) {
    ::close(fd);
    ::unlink(path.c_str());
    std::lock_guard lock(impl_->dump_mu);
    impl_->dump_state.dumping = false;
    throw DebuggerError("debugger is shutting down");
  }
  std::lock_guard lock(impl_->dump_mu);
  return impl_->dump_state;
}

DumpState Debugger::dump_wait(int wait_ms) {
  std::unique_lock lock(impl_->dump_mu);
  if (wait_ms > 0) {
    impl_->dump_cv.wait_for(lock, std::chrono::milliseconds(wait_ms),
                            [this] { return !impl_->dump_state.dumping; });
  }
  return impl_->dump_state;
}

void Debugger::dump_cancel() {
  std::lock_guard lock(impl_->dump_mu);
  impl_->dump_canceled = true;
}

}  // namespace goscope::session

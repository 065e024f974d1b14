#include "output_reader.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "session/debugger.hpp"

namespace goscope::session {
namespace {
void close_fd(int& fd) {
  if (fd >= 0)
    ::close(fd);
  fd = -1;
}
}  // namespace

OutputReader::OutputReader() {
  if (::pipe2(out_, O_CLOEXEC) < 0 || ::pipe2(err_, O_CLOEXEC) < 0) {
    const int e = errno;
    close_fd(out_[0]);
    close_fd(out_[1]);
    throw DebuggerError(ErrorKind::internal,
                        std::string("could not launch process: pipe: ") + std::strerror(e));
  }
  wake_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_ < 0) {
    const int e = errno;
    for (int* fd : {&out_[0], &out_[1], &err_[0], &err_[1]}) close_fd(*fd);
    throw DebuggerError(ErrorKind::internal,
                        std::string("could not launch process: eventfd: ") + std::strerror(e));
  }
}

OutputReader::~OutputReader() {
  if (thread_.joinable()) {
    const std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_, &one, sizeof one);
    thread_.join();
  }
  for (int* fd : {&out_[0], &out_[1], &err_[0], &err_[1], &wake_}) close_fd(*fd);
}

std::string OutputReader::stdout_path() const {
  return "/proc/self/fd/" + std::to_string(out_[1]);
}
std::string OutputReader::stderr_path() const {
  return "/proc/self/fd/" + std::to_string(err_[1]);
}

void OutputReader::start(Sink sink) {
  close_fd(out_[1]);
  close_fd(err_[1]);
  sink_ = std::move(sink);
  thread_ = std::thread([this] { loop(); });
}

bool OutputReader::wait_eof(std::chrono::milliseconds limit) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, limit, [&] { return eof_; });
}

void OutputReader::loop() {
  std::array<char, 64 * 1024> buf{};
  bool open[2] = {true, true};
  const int fds[2] = {out_[0], err_[0]};
  while (open[0] || open[1]) {
    pollfd p[3] = {
        {open[0] ? fds[0] : -1, POLLIN, 0}, {open[1] ? fds[1] : -1, POLLIN, 0}, {wake_, POLLIN, 0}};
    if (::poll(p, 3, -1) < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    if (p[2].revents != 0)
      break;
    for (int i = 0; i < 2; ++i) {
      if (!open[i] || p[i].revents == 0)
        continue;
      const ssize_t n = ::read(fds[i], buf.data(), buf.size());
      if (n < 0 && (errno == EINTR || errno == EAGAIN))
        continue;
      if (n <= 0) {
        open[i] = false;
        continue;
      }
      try {
        sink_(i == 0 ? OutputEvent::Stream::out : OutputEvent::Stream::err,
              std::string(buf.data(), static_cast<std::size_t>(n)));
      } catch (...) {
        // A subscriber's failure does not stop the reading: the target must not block.
      }
    }
  }
  {
    std::lock_guard lock(mu_);
    eof_ = true;
  }
  cv_.notify_all();
}

}  // namespace goscope::session

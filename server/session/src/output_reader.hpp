#pragma once
// The debuggee's stdout and stderr through pipes, read by a thread of their own (dlv dap's
// output events; `dlv --headless` leaves the streams to the target).
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "session/events.hpp"

namespace goscope::session {

class OutputReader {
 public:
  using Sink = std::function<void(OutputEvent::Stream, std::string data)>;

  /// Creates the pipes (close-on-exec: only the child's own reopened copies reach the
  /// target). Throws DebuggerError.
  OutputReader();
  ~OutputReader();
  OutputReader(const OutputReader&) = delete;
  OutputReader& operator=(const OutputReader&) = delete;

  /// Paths that open the write ends in the child between fork and exec (proc's
  /// LaunchOptions::stdout_path/stderr_path): /proc/self/fd/N.
  std::string stdout_path() const;
  std::string stderr_path() const;

  /// After the launch: drops our write ends (so that the target's exit is seen as end of
  /// file) and starts reading. `sink` gets each chunk (at most 64 KB) on the reader thread,
  /// in order per stream. It may take its time: while it has not returned, nothing more is
  /// read, the pipe fills and the debuggee waits in write(2). That is the bound on memory;
  /// a sink that keeps up never slows the debuggee, and reading never stops the target.
  void start(Sink sink);

  /// Waits until both streams reached end of file (every writer, the target and what it
  /// started, is gone), at most `limit`. True when they did.
  bool wait_eof(std::chrono::milliseconds limit);

 private:
  void loop();

  int out_[2] = {-1, -1};
  int err_[2] = {-1, -1};
  int wake_ = -1;  ///< eventfd: stop reading
  Sink sink_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool eof_ = false;
};

}  // namespace goscope::session

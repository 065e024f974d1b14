#pragma once
// Where one DAP session's messages go: the client's connection (a net::Connection in the
// server, protocol.cpp) or a fake in the unit tests. Every member may be called from any
// thread and never blocks.
#include <functional>
#include <string>

namespace goscope::dap {

class Transport {
 public:
  virtual ~Transport() = default;
  /// Queues one framed message; dropped once the connection is closed.
  virtual void send(std::string framed) = 0;
  /// True while the client has more unsent output than the connection's bound: producers
  /// that may wait (the debuggee's output) wait for when_writable().
  virtual bool backlogged() const { return false; }
  /// Runs `fn` (on some other thread) once the output is under the bound again.
  virtual void when_writable(std::function<void()> fn) { fn(); }
  /// Stops reading the client's requests / reads again (counted): the session's queue of
  /// requests is full / has room.
  virtual void hold_reading() {}
  virtual void resume_reading() {}
  /// Closes the connection once what was sent is written.
  virtual void close() {}
  /// Closes at once and stops the whole server (headless disconnect with terminateDebuggee).
  virtual void stop_server() { close(); }
};

}  // namespace goscope::dap

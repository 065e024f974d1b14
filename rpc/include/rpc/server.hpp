#pragma once
#include <memory>
#include <string>

namespace goscope::session {
class Debugger;
}

namespace goscope::rpc {

struct ServerConfig {
  std::string listen = "127.0.0.1:0";  ///< host:port; port 0 picks one
  bool accept_multiclient = false;     ///< keep accepting; a disconnect leaves the target
  bool only_same_user = true;          ///< refuse loopback peers of another uid
  std::string version = "0.0.0";       ///< goscope version, reported by GetVersion
};

/// Delve's JSON-RPC API v2 server (rpccommon.ServerImpl + rpc2.RPCServer).
///
/// Concurrency: the acceptor and the signal handler run on the thread that calls run(); every
/// connection has its own reader thread, as Delve has one goroutine per connection. Synchronous
/// methods run inline on that reader (the connection's next request is read after the reply), the
/// asynchronous ones (Command, State, Restart) on a thread of their own once they signalled
/// "setup done", so a `halt` can overtake a running `continue` on the same connection.
/// Writes of one connection are serialised by a mutex. Every exception a method throws is
/// caught in one place (the dispatcher) and becomes the response's error string.
class Server {
 public:
  explicit Server(ServerConfig cfg);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Binds and listens; returns the address to print ("127.0.0.1:41227"). Throws
  /// std::runtime_error when the address cannot be used.
  std::string listen();
  /// Serves `dbg` until Detach, the single client's disconnect, SIGINT/SIGTERM or stop().
  /// Then shuts down as Delve's ServerImpl.Stop does: stops accepting, detaches `dbg`
  /// (halting a running command; a launched target is killed, an attached one left
  /// running without traps), shuts every connection down and joins every thread the server
  /// started. When run() returns, nothing of the server uses `dbg` any more.
  void run(session::Debugger& dbg);
  /// Makes run() return; callable from any thread.
  void stop();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

/// True if the loopback TCP peer at `peer_addr:peer_port`, connected to this server's
/// `local_addr:local_port`, belongs to the current uid, from /proc/net/tcp and
/// /proc/net/tcp6 (Delve's sameuser check). The client's socket is the entry whose local
/// address is the peer's and whose remote address is ours: matching the local one alone
/// could pick another socket bound to the same port (a TIME_WAIT entry shows uid 0, another
/// user's connection to elsewhere shows that user). Non-loopback peers are not checked (true).
bool peer_is_same_user(const std::string& peer_addr, unsigned short peer_port,
                       const std::string& local_addr, unsigned short local_port);

}  // namespace goscope::rpc

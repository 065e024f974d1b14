#pragma once
// The transport every debug front end shares (JSON-RPC v2, DAP): one listener, connections
// served from one Asio event loop, protocol sniffing, a bounded worker pool, shutdown.
// Asio only: no JSON, nothing of the session below it.
#include <cstddef>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "net/worker_pool.hpp"

namespace goscope::net {

class Server;

/// One client connection. Reads and writes happen on the server's event-loop thread; every
/// member here may be called from any thread.
///
/// Back-pressure: output is queued and written asynchronously; while more than
/// ServerConfig::max_unsent bytes are unsent the connection stops reading (the client's
/// requests stay in the kernel's buffers, then in the client), as Delve stops reading a
/// client that does not read its replies. So a client never makes the server buffer more
/// than one read chunk of requests plus max_unsent plus one reply.
class Connection {
 public:
  virtual ~Connection() = default;

  /// Queues bytes to send. Never blocks; dropped when the connection is closed.
  virtual void send(std::string bytes) = 0;
  /// Holds reading (a request is being served and the next must wait for it, as Delve
  /// reads a request once the previous one is set up); counted, resume() undoes one hold.
  virtual void hold() = 0;
  virtual void resume() = 0;
  /// Runs `fn` on the event-loop thread (after what is already queued there), where the
  /// handler's on_data runs: a handler that keeps its state on that thread needs no lock.
  virtual void post(std::function<void()> fn) = 0;
  /// True while the unsent output is over the bound; `fn` runs on the event-loop thread
  /// once it is not (at once, posted, when it is not over it now).
  virtual bool backlogged() const = 0;
  virtual void when_writable(std::function<void()> fn) = 0;
  /// Closes once the queued output is written (or at once with `now`).
  virtual void close(bool now = false) = 0;
  virtual bool closed() const = 0;
  /// "127.0.0.1:54321"
  virtual std::string peer() const = 0;
  virtual Server& server() = 0;
};

/// A protocol's side of one connection. Created when the first bytes chose the protocol;
/// on_data and on_close run on the event-loop thread, one at a time.
class ProtocolHandler {
 public:
  virtual ~ProtocolHandler() = default;
  /// Bytes from the client (the sniffed first bytes included).
  virtual void on_data(std::string_view bytes) = 0;
  /// The peer will send nothing more (it closed or shut down its writing side); the
  /// connection reads no more. The handler closes it (Connection::close) once what the peer
  /// sent before is dealt with: a client that half-closes after its last request still gets
  /// the replies the protocol owes it. The default closes once the queued output is written.
  virtual void on_end_of_input(Connection& c) { c.close(); }
  /// The connection is closed (the peer left, or the server shuts down). No on_data after.
  virtual void on_close() {}
};

/// What the first bytes of a connection say about a protocol.
enum class Sniff { match, no, need_more };

/// A front end registered with the server (Server::add_protocol).
struct Protocol {
  std::string name;  ///< "json-rpc", "dap": logs
  /// Decides from the first bytes (at least one); protocols are asked in registration order
  /// and the first `match` wins. A catch-all returns `match` always: register it last.
  std::function<Sniff(std::string_view first_bytes)> sniff;
  /// The handler of a connection that chose this protocol.
  std::function<std::shared_ptr<ProtocolHandler>(const std::shared_ptr<Connection>&)> open;
};

/// Delve's rule for a headless server (service/rpccommon): a connection whose first byte is
/// 'C' (DAP's "Content-Length") is DAP, any other is JSON-RPC.
Sniff sniff_dap(std::string_view first_bytes);

struct ServerConfig {
  std::string listen = "127.0.0.1:0";  ///< as dlv's --listen
  bool accept_multiclient = false;     ///< keep accepting; without it one connection only
  bool only_same_user = true;          ///< refuse local peers of another uid
  std::string log_layer = "rpc";       ///< dlv's log layer for the listener's warnings
  /// Unsent bytes per connection above which it stops reading.
  std::size_t max_unsent = 4u << 20;
  /// Threads of the worker pool (requests that block).
  std::size_t max_workers = 16;
};

/// The listener, the event loop, the protocols and the shutdown policy of a debug server.
///
/// Shutdown (Detach, the single client gone, SIGINT/SIGTERM, stop()): the acceptor is
/// closed, `release_target` runs (the front end's Debugger detaches or kills the target,
/// every trap removed; this ends requests waiting for a running target), every connection
/// is closed and every pool thread joined. When run() returns nothing of the server runs.
class Server {
 public:
  explicit Server(ServerConfig cfg);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Registers a front end. Before run().
  void add_protocol(Protocol p);

  /// Binds as dlv does and listens; returns the bound address as dlv prints it
  /// ("127.0.0.1:41227", "[::]:2345"). Throws ListenError.
  std::string listen();
  /// Instead of listen(): connects to a client that is already listening at `addr`
  /// ("host:port"), which run() serves as the server's single connection (dlv dap
  /// --client-addr). Throws ListenError with Go's dial error text.
  void dial(const std::string& addr);
  /// dlv's warning (and a line naming the address) when the bound address is not loopback;
  /// dlv prints it after its "listening at" line.
  void warn_if_remote(std::FILE* to) const;
  /// Serves until stop() (or SIGINT/SIGTERM, or the single client leaving), then shuts
  /// down as described above.
  void run(const std::function<void()>& release_target);
  /// Makes run() shut down; callable from any thread, also from a handler.
  void stop();
  bool stopping() const;

  const ServerConfig& config() const;
  /// The pool for requests that block. Jobs submitted after shutdown began are not run.
  WorkerPool& pool();
  /// Connections open now (tests, logs).
  std::size_t connections() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace goscope::net

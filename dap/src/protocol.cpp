// DAP as a protocol of server/net: the event loop frames the client's bytes and queues
// message bodies; the session runs on a worker-pool thread of its own (dap/server.hpp).
#include <cstdio>

#include "dap/codec.hpp"
#include "dap/server.hpp"
#include "log/log.hpp"
#include "session.hpp"

namespace goscope::dap {
namespace {

/// The session's output side over a net::Connection.
class ConnectionTransport final : public Transport {
 public:
  explicit ConnectionTransport(std::shared_ptr<net::Connection> c) : conn_(std::move(c)) {}
  void send(std::string framed) override { conn_->send(std::move(framed)); }
  bool backlogged() const override { return conn_->backlogged(); }
  void when_writable(std::function<void()> fn) override { conn_->when_writable(std::move(fn)); }
  void hold_reading() override { conn_->hold(); }
  void resume_reading() override { conn_->resume(); }
  void close() override { conn_->close(); }
  void stop_server() override {
    conn_->close();
    conn_->server().stop();
  }

 private:
  std::shared_ptr<net::Connection> conn_;
};

/// One connection's handler: on_data and on_close run on the event loop.
class DapHandler final : public net::ProtocolHandler {
 public:
  DapHandler(std::shared_ptr<net::Connection> conn, std::shared_ptr<DapSession> s)
      : conn_(std::move(conn)), session_(std::move(s)) {}

  void on_data(std::string_view bytes) override {
    if (done_)
      return;
    reader_.feed(bytes);
    for (;;) {
      auto r = reader_.next();
      if (r.status == FrameReader::Status::need_more)
        return;
      if (r.status == FrameReader::Status::message) {
        session_->post_message(std::move(r.body));
      } else if (r.status == FrameReader::Status::bad_header) {
        session_->post_bad_header(r.error);
      } else {
        // Oversized: dlv closes the connection, and so do we.
        log::error(log::Layer::dap, "closing the connection: " + r.error);
        done_ = true;
        session_->post_eof();
        conn_->close(true);
        return;
      }
    }
  }

  void on_close() override {
    if (!done_)
      session_->post_eof();
    done_ = true;
  }

 private:
  std::shared_ptr<net::Connection> conn_;
  std::shared_ptr<DapSession> session_;
  FrameReader reader_;
  bool done_ = false;
};

}  // namespace

net::Protocol dap_protocol(ProtocolConfig cfg) {
  net::Protocol p;
  p.name = "dap";
  p.sniff = net::sniff_dap;
  p.open =
      [cfg = std::move(cfg)](
          const std::shared_ptr<net::Connection>& conn) -> std::shared_ptr<net::ProtocolHandler> {
    if (cfg.debugger != nullptr)
      log::debug(log::Layer::rpc, "serving DAP on new connection");
    auto session = std::make_shared<DapSession>(std::make_shared<ConnectionTransport>(conn), cfg);
    // The session's requests may wait for the target (as dlv's session goroutine does):
    // a thread of its own from the pool (`overtake`: it never queues behind JSON-RPC jobs
    // that wait for a target only it may halt). The pool joins it at shutdown, after every
    // connection was closed (which ends run()).
    if (!conn->server().pool().submit([session] { session->run(); }, true))
      return nullptr;  // shutting down
    return std::make_shared<DapHandler>(conn, std::move(session));
  };
  return p;
}

}  // namespace goscope::dap

// The shared debug-server transport: one Asio event loop reads and writes every
// connection (no thread per connection), the first bytes pick the protocol, output is
// bounded per connection, and shutdown releases the target before joining the pool.
#include "net/server.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <mutex>
#include <optional>
#include <unordered_set>

#include "net/listen.hpp"

namespace goscope::net {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

Sniff sniff_dap(std::string_view first) {
  if (first.empty())
    return Sniff::need_more;
  return first[0] == 'C' ? Sniff::match : Sniff::no;
}

namespace {
/// What the first bytes may take before a connection matching no protocol is closed.
constexpr std::size_t kMaxSniff = 64;
}  // namespace

class ConnImpl;

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
  explicit Impl(Server& o, ServerConfig c) : owner(o), cfg(std::move(c)), pool(cfg.max_workers) {}

  Server& owner;
  ServerConfig cfg;
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  asio::signal_set signals{io, SIGINT, SIGTERM};
  std::vector<Protocol> protocols;
  WorkerPool pool;
  std::atomic<bool> stopping{false};
  std::atomic<std::size_t> open_conns{0};
  std::string bound, bound_ip;  ///< set by listen()
  /// Set at the end of run(): nothing may be posted to the loop any more.
  std::mutex post_mu;
  bool finished = false;
  /// Event-loop thread only.
  std::unordered_set<std::shared_ptr<ConnImpl>> conns;
  /// dial(): the one connection run() serves instead of accepting.
  std::optional<tcp::socket> dialed;

  bool post(std::function<void()> fn) {
    std::lock_guard lock(post_mu);
    if (finished)
      return false;
    asio::post(io, std::move(fn));
    return true;
  }

  void stop() {
    if (stopping.exchange(true))
      return;
    post([self = shared_from_this()] {
      boost::system::error_code ec;
      self->acceptor.close(ec);
      self->signals.cancel(ec);
      self->io.stop();
    });
  }

  void accept_next();
  void serve(tcp::socket s, const std::string& peer_text);
  void closed(const std::shared_ptr<ConnImpl>& c);
};

class ConnImpl final : public Connection, public std::enable_shared_from_this<ConnImpl> {
 public:
  ConnImpl(std::shared_ptr<Server::Impl> s, tcp::socket sock, std::string peer)
      : srv_(std::move(s)), sock_(std::move(sock)), peer_(std::move(peer)) {}

  // ---- any thread
  void send(std::string bytes) override {
    std::unique_lock lock(mu_);
    if (closed_ || bytes.empty())
      return;
    std::string_view rest = bytes;
    if (!writing_ && pending_.empty()) {
      // Nothing queued: write from this thread (the tracer thread answering a Command, a
      // pool thread) without a hop to the loop; only what the socket does not take now is
      // queued.
      const int fd = sock_.native_handle();
      while (!rest.empty()) {
        const ssize_t n = ::send(fd, rest.data(), rest.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
          rest.remove_prefix(static_cast<std::size_t>(n));
          continue;
        }
        if (n < 0 && errno == EINTR)
          continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
          break;
        return;  // the peer is gone: the reader sees it
      }
      if (rest.empty())
        return;
    }
    pending_.append(rest);
    unsent_ += rest.size();
    if (writing_)
      return;
    writing_ = true;
    lock.unlock();
    post([self = shared_from_this()] { self->start_write(); });
  }

  void hold() override { holds_.fetch_add(1); }
  void resume() override {
    if (holds_.fetch_sub(1) == 1)
      post([self = shared_from_this()] { self->maybe_read(); });
  }
  void post(std::function<void()> fn) override { srv_->post(std::move(fn)); }
  bool backlogged() const override {
    std::lock_guard lock(mu_);
    return unsent_ > srv_->cfg.max_unsent;
  }
  void when_writable(std::function<void()> fn) override {
    {
      std::lock_guard lock(mu_);
      if (unsent_ > srv_->cfg.max_unsent && !closed_) {
        writable_.push_back(std::move(fn));
        return;
      }
    }
    post(std::move(fn));
  }
  void close(bool now) override {
    post([self = shared_from_this(), now] {
      {
        std::lock_guard lock(self->mu_);
        if (!now && (self->writing_ || !self->pending_.empty())) {
          self->close_after_flush_ = true;
          return;
        }
      }
      self->do_close();
    });
  }
  bool closed() const override {
    std::lock_guard lock(mu_);
    return closed_;
  }
  std::string peer() const override { return peer_; }
  Server& server() override { return srv_->owner; }

  // ---- event-loop thread
  void start() { maybe_read(); }

  void maybe_read() {
    if (reading_ || input_ended_ || holds_.load() > 0 || backlogged() || closed())
      return;
    reading_ = true;
    sock_.async_read_some(asio::buffer(buf_),
                          [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
                            self->reading_ = false;
                            if (ec == asio::error::eof && self->handler_ && !self->closed()) {
                              // The peer's writing side is closed: the handler says when
                              // the connection is done (it may still owe replies).
                              self->input_ended_ = true;
                              auto h = self->handler_;
                              h->on_end_of_input(*self);
                              return;
                            }
                            if (ec) {
                              self->do_close();
                              return;
                            }
                            self->received(std::string_view(self->buf_.data(), n));
                            self->maybe_read();
                          });
  }

  void do_close() {
    {
      std::lock_guard lock(mu_);
      if (closed_)
        return;
      closed_ = true;
      pending_.clear();
      unsent_ = 0;
      writable_.clear();
      boost::system::error_code ec;
      sock_.shutdown(tcp::socket::shutdown_both, ec);
      sock_.close(ec);
    }
    auto h = std::move(handler_);
    handler_.reset();
    if (h)
      h->on_close();
    srv_->closed(shared_from_this());
  }

 private:
  void received(std::string_view bytes) {
    if (handler_) {
      handler_->on_data(bytes);
      return;
    }
    first_.append(bytes);
    bool maybe = false;
    for (const auto& p : srv_->protocols) {
      const auto s = p.sniff(first_);
      if (s == Sniff::match) {
        handler_ = p.open(shared_from_this());
        std::string first = std::move(first_);
        first_.clear();
        if (handler_)
          handler_->on_data(first);
        else
          do_close();
        return;
      }
      maybe = maybe || s == Sniff::need_more;
    }
    if (!maybe || first_.size() >= kMaxSniff)
      do_close();  // no protocol of ours
  }

  void start_write() {
    {
      std::lock_guard lock(mu_);
      if (closed_)
        return;
      inflight_.swap(pending_);
      pending_.clear();
    }
    asio::async_write(sock_, asio::buffer(inflight_),
                      [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                        self->written(ec);
                      });
  }

  void written(boost::system::error_code ec) {
    std::vector<std::function<void()>> ready;
    bool again = false;
    bool close_now = false;
    {
      std::lock_guard lock(mu_);
      if (closed_)
        return;
      unsent_ -= std::min(unsent_, inflight_.size());
      inflight_.clear();
      inflight_.shrink_to_fit();  // a large reply's buffer is not kept for the next
      if (ec) {
        close_now = true;
      } else if (!pending_.empty()) {
        again = true;
      } else {
        writing_ = false;
        close_now = close_after_flush_;
      }
      if (unsent_ <= srv_->cfg.max_unsent)
        ready.swap(writable_);
    }
    if (close_now) {
      do_close();
      return;
    }
    if (again)
      start_write();
    for (auto& fn : ready) fn();
    maybe_read();
  }

  std::shared_ptr<Server::Impl> srv_;
  tcp::socket sock_;
  const std::string peer_;
  std::atomic<int> holds_{0};

  mutable std::mutex mu_;  // output state and the socket's lifetime
  std::string pending_;
  std::size_t unsent_ = 0;
  bool writing_ = false;
  bool closed_ = false;
  bool close_after_flush_ = false;
  std::vector<std::function<void()>> writable_;

  // event-loop thread only
  std::string inflight_;
  bool reading_ = false;
  bool input_ended_ = false;  ///< the peer sent its end of stream: read no more
  std::array<char, 64 * 1024> buf_{};
  std::string first_;
  std::shared_ptr<ProtocolHandler> handler_;
};

void Server::Impl::accept_next() {
  acceptor.async_accept([self = shared_from_this()](boost::system::error_code ec, tcp::socket s) {
    if (ec || self->stopping)
      return;
    boost::system::error_code pec, lec;
    const auto peer = s.remote_endpoint(pec);
    const auto local = s.local_endpoint(lec);
    const std::string peer_text =
        pec ? std::string("?") : format_address(peer.address().to_string(), peer.port());
    if (self->cfg.only_same_user) {
      const bool ok = !pec && !lec &&
                      peer_is_same_user(peer.address().to_string(), peer.port(),
                                        local.address().to_string(), local.port());
      if (!ok) {
        std::fprintf(stderr, "%s\n", different_user_message(peer_text).c_str());
        boost::system::error_code cec;
        s.close(cec);
        self->accept_next();
        return;
      }
    }
    self->serve(std::move(s), peer_text);
    // Without --accept-multiclient Delve serves exactly one connection.
    if (self->cfg.accept_multiclient)
      self->accept_next();
  });
}

void Server::Impl::serve(tcp::socket s, const std::string& peer_text) {
  boost::system::error_code oec;
  s.set_option(tcp::no_delay(true), oec);  // replies are small and awaited
  auto conn = std::make_shared<ConnImpl>(shared_from_this(), std::move(s), peer_text);
  conns.insert(conn);
  open_conns = conns.size();
  conn->start();
}

void Server::Impl::closed(const std::shared_ptr<ConnImpl>& c) {
  conns.erase(c);
  open_conns = conns.size();
  // The single client gone: the server stops (and releases the target), as Delve does.
  if (!cfg.accept_multiclient)
    stop();
}

Server::Server(ServerConfig cfg) : impl_(std::make_shared<Impl>(*this, std::move(cfg))) {}

Server::~Server() {
  stop();
  impl_->pool.shut_down();
  {
    std::lock_guard lock(impl_->post_mu);
    impl_->finished = true;
  }
  // Runs (and so releases) what is still queued, e.g. the stop() above when run() never ran.
  impl_->io.restart();
  impl_->io.poll();
  impl_->conns.clear();
}

void Server::add_protocol(Protocol p) {
  impl_->protocols.push_back(std::move(p));
}

std::string Server::listen() {
  const auto& l = impl_->cfg.listen;
  const ListenSpec spec = parse_listen(l);
  auto& acc = impl_->acceptor;
  boost::system::error_code ec;
  auto fail = [&](const std::string& what) -> ListenError {
    return ListenError("listen tcp " + format_address(spec.host, spec.port) + ": " + what);
  };
  tcp::endpoint ep;
  bool dual_stack = false;
  if (spec.wildcard) {
    // Go's wildcard "tcp" listener: one IPv6 socket with IPV6_V6ONLY off, serving IPv4
    // clients as ::ffff:a.b.c.d; plain 0.0.0.0 where the machine has no IPv6.
    tcp::acceptor probe(impl_->io);
    probe.open(tcp::v6(), ec);
    if (!ec) {
      probe.close();
      ep = tcp::endpoint(tcp::v6(), spec.port);
      dual_stack = true;
    } else {
      ep = tcp::endpoint(tcp::v4(), spec.port);
    }
  } else {
    auto addr = asio::ip::make_address(spec.host, ec);
    if (ec) {
      tcp::resolver resolver(impl_->io);
      auto results = resolver.resolve(spec.host, "", ec);
      if (ec || results.empty())
        throw ListenError("listen tcp: lookup " + spec.host + ": no such host");
      // Go prefers an IPv4 address of a name ("localhost" is 127.0.0.1).
      addr = results.begin()->endpoint().address();
      for (const auto& r : results) {
        if (r.endpoint().address().is_v4()) {
          addr = r.endpoint().address();
          break;
        }
      }
    }
    ep = tcp::endpoint(addr, spec.port);
  }
  acc.open(ep.protocol(), ec);
  if (ec)
    throw fail("socket: " + ec.message());
  acc.set_option(tcp::acceptor::reuse_address(true), ec);
  if (dual_stack)
    acc.set_option(asio::ip::v6_only(false), ec);
  acc.bind(ep, ec);
  if (ec)
    throw fail("bind: " + ec.message());
  acc.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    throw fail("listen: " + ec.message());
  const auto bound = acc.local_endpoint();
  impl_->bound_ip = bound.address().to_string();
  impl_->bound = format_address(impl_->bound_ip, bound.port());
  return impl_->bound;
}

void Server::dial(const std::string& addr) {
  const ListenSpec spec = parse_listen(addr);
  const std::string host = spec.host.empty() ? "127.0.0.1" : spec.host;
  boost::system::error_code ec;
  tcp::resolver resolver(impl_->io);
  const auto results = resolver.resolve(host, std::to_string(spec.port), ec);
  if (ec || results.empty())
    throw ListenError("dial tcp: lookup " + host + ": no such host");
  tcp::socket sock(impl_->io);
  asio::connect(sock, results, ec);
  if (ec) {
    std::string why = ec.message();  // Go's words are lower case ("connection refused")
    if (!why.empty())
      why[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(why[0])));
    throw ListenError("dial tcp " + format_address(host, spec.port) + ": connect: " + why);
  }
  impl_->dialed.emplace(std::move(sock));
}

void Server::warn_if_remote(std::FILE* to) const {
  if (!impl_->bound.empty() && !is_loopback_ip(impl_->bound_ip))
    warn_remote_listener(to, impl_->cfg.log_layer, impl_->bound);
}

void Server::run(const std::function<void()>& release_target) {
  auto& im = *impl_;
  im.signals.async_wait([impl = impl_](boost::system::error_code ec, int) {
    if (!ec)
      impl->stop();
  });
  if (im.dialed) {
    // dial(): that connection is the only one; nothing is accepted.
    boost::system::error_code pec;
    const auto peer = im.dialed->remote_endpoint(pec);
    im.serve(std::move(*im.dialed),
             pec ? std::string("?") : format_address(peer.address().to_string(), peer.port()));
    im.dialed.reset();
  } else if (!im.stopping) {
    im.accept_next();
  }
  im.io.run();

  // Delve's ServerImpl.Stop: stop accepting, release the target (requests waiting for it
  // end), close every connection, join every thread.
  boost::system::error_code ec;
  im.acceptor.close(ec);
  im.signals.cancel(ec);
  if (release_target) {
    try {
      release_target();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "goscope: %s\n", e.what());
    }
  }
  auto conns = im.conns;
  for (const auto& c : conns) c->do_close();
  im.pool.shut_down();
  {
    std::lock_guard lock(im.post_mu);
    im.finished = true;
  }
  // What was posted meanwhile (replies to closed connections) runs now, against closed
  // connections, so that nothing holding the server stays queued in the loop.
  im.io.restart();
  im.io.poll();
  im.conns.clear();
}

void Server::stop() {
  impl_->stop();
}

bool Server::stopping() const {
  return impl_->stopping;
}

const ServerConfig& Server::config() const {
  return impl_->cfg;
}

WorkerPool& Server::pool() {
  return impl_->pool;
}

std::size_t Server::connections() const {
  return impl_->open_conns;
}

}  // namespace goscope::net

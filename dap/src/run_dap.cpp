// `goscope dap`: listen (or dial), one client, one session, exit (dap.md §1.1).
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "dap/codec.hpp"
#include "dap/server.hpp"
#include "session.hpp"
#include "tcp_transport.hpp"

namespace goscope::dap {
namespace {

namespace asio = boost::asio;

// The connection's descriptor, for the SIGINT/SIGTERM handler: shutting it down ends the
// session through the normal path (debuggee killed or detached, binary deleted).
std::atomic<int> g_conn_fd{-1};
std::atomic<int> g_listen_fd{-1};
// Set by the handler: a signal that came before a descriptor was published still ends the
// session (the code checks it after publishing each one).
std::atomic<bool> g_terminated{false};

void on_terminate(int) {
  g_terminated = true;
  if (const int fd = g_conn_fd.load(); fd >= 0)
    ::shutdown(fd, SHUT_RDWR);
  if (const int fd = g_listen_fd.load(); fd >= 0)
    ::shutdown(fd, SHUT_RDWR);
}

void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_terminate;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
}

// Where the readiness line and logs go: --log-dest N (a descriptor, as vscode-go's fd 3)
// or a file; stdout otherwise.
FILE* open_log_dest(const std::string& dest) {
  if (dest.empty())
    return stdout;
  char* end = nullptr;
  const long fd = std::strtol(dest.c_str(), &end, 10);
  if (end != nullptr && *end == '\0' && fd >= 0) {
    if (FILE* f = ::fdopen(static_cast<int>(fd), "w"))
      return f;
    return stdout;
  }
  if (FILE* f = std::fopen(dest.c_str(), "w"))
    return f;
  return stdout;
}

std::string endpoint_text(const asio::ip::tcp::endpoint& ep) {
  const auto a = ep.address();
  const std::string host = a.is_v6() ? "[" + a.to_string() + "]" : a.to_string();
  return host + ":" + std::to_string(ep.port());
}

void read_loop(Transport& t, DapSession& s) {
  FrameReader reader;
  char buf[64 * 1024];
  for (;;) {
    const auto n = t.read_some(buf, sizeof buf);
    if (n == 0)
      break;
    reader.feed(std::string_view(buf, n));
    for (;;) {
      auto r = reader.next();
      if (r.status == FrameReader::Status::need_more)
        break;
      if (r.status == FrameReader::Status::message) {
        s.post_message(std::move(r.body));
      } else if (r.status == FrameReader::Status::bad_header) {
        s.post_bad_header(r.error);
      } else {
        // Oversized: dlv closes the connection, and so do we.
        std::fprintf(stderr, "dap: closing the connection: %s\n", r.error.c_str());
        s.post_eof();
        return;
      }
    }
  }
  s.post_eof();
}

}  // namespace

int run_dap(const DapOptions& opts) {
  install_signal_handlers();
  asio::io_context io;
  asio::ip::tcp::socket sock(io);
  FILE* log = open_log_dest(opts.log_dest);
  if (!opts.client_addr.empty()) {
    const auto ep = parse_endpoint(io, opts.client_addr);
    boost::system::error_code ec;
    sock.connect(ep, ec);
    if (ec)
      throw std::runtime_error("dial tcp " + opts.client_addr + ": " + ec.message());
  } else {
    const auto ep = parse_endpoint(io, opts.listen);
    asio::ip::tcp::acceptor acceptor(io);
    boost::system::error_code ec;
    acceptor.open(ep.protocol(), ec);
    if (!ec)
      acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec)
      acceptor.bind(ep, ec);
    if (!ec)
      acceptor.listen(1, ec);
    if (ec)
      throw std::runtime_error("listen tcp " + opts.listen + ": " + ec.message());
    const auto local = acceptor.local_endpoint();
    if (!local.address().is_loopback()) {
      std::fprintf(stderr,
                   "Warning: listening on a non-loopback address: anyone who can reach %s "
                   "can debug as this user (no authentication)\n",
                   endpoint_text(local).c_str());
    }
    // Published before the readiness line: a client (or an editor's SIGTERM) may act on
    // that line at once.
    g_listen_fd = acceptor.native_handle();
    std::fprintf(log, "DAP server listening at: %s\n", endpoint_text(local).c_str());
    std::fflush(log);
    if (g_terminated)
      return 0;
    acceptor.accept(sock, ec);
    g_listen_fd = -1;
    if (ec)
      return 0;  // interrupted before a client came
    // One connection, one session: nobody else is accepted.
    acceptor.close(ec);
  }
  TcpTransport transport(std::move(sock));
  g_conn_fd = transport.native_handle();
  if (g_terminated)
    ::shutdown(transport.native_handle(), SHUT_RDWR);
  {
    // --log --log-output=dap traces every message (dlv's default output is "debugger").
    const bool trace_dap =
        opts.log && ("," + opts.log_output + ",").find(",dap,") != std::string::npos;
    DapSession session(transport, trace_dap ? (log != stdout ? log : stderr) : nullptr);
    std::thread reader([&] { read_loop(transport, session); });
    session.run();
    transport.shutdown();
    reader.join();
  }
  g_conn_fd = -1;
  if (log != stdout)
    std::fclose(log);
  return 0;
}

}  // namespace goscope::dap

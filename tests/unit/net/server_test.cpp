// The shared transport on loopback: protocol sniffing, back-pressure, connections without
// threads, the worker pool's bound, shutdown.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "net/server.hpp"

using namespace goscope::net;
using namespace std::chrono_literals;

namespace {

struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  Fd(Fd&& o) noexcept : fd(o.fd) { o.fd = -1; }
  ~Fd() {
    if (fd >= 0)
      ::close(fd);
  }
};

Fd dial(const std::string& bound) {
  const auto colon = bound.rfind(':');
  const int c = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<unsigned short>(std::stoi(bound.substr(colon + 1))));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  return Fd(c);
}

void send_all(int fd, const std::string& s) {
  std::size_t done = 0;
  while (done < s.size()) {
    const auto n = ::send(fd, s.data() + done, s.size() - done, MSG_NOSIGNAL);
    REQUIRE(n > 0);
    done += static_cast<std::size_t>(n);
  }
}

// Reads until `want` bytes came or 10 s passed.
std::string read_n(int fd, std::size_t want) {
  std::string out;
  const auto until = std::chrono::steady_clock::now() + 10s;
  while (out.size() < want && std::chrono::steady_clock::now() < until) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0)
      continue;
    char buf[65536];
    const auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0)
      break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

int threads_of_self() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Threads:", 0) == 0)
      return std::stoi(line.substr(8));
  }
  return -1;
}

// Answers every chunk with `tag` + the chunk repeated `times`.
struct Echo final : ProtocolHandler {
  Echo(std::shared_ptr<Connection> c, std::string t, int k, std::atomic<std::size_t>* n)
      : conn(std::move(c)), tag(std::move(t)), times(k), received(n) {}
  void on_data(std::string_view b) override {
    if (received)
      *received += b.size();
    std::string out = tag;
    for (int i = 0; i < times; ++i) out.append(b);
    conn->send(std::move(out));
  }
  std::shared_ptr<Connection> conn;
  std::string tag;
  int times;
  std::atomic<std::size_t>* received;
};

Protocol echo(const std::string& name, std::function<Sniff(std::string_view)> sniff,
              std::string tag, int times = 1, std::atomic<std::size_t>* received = nullptr) {
  Protocol p;
  p.name = name;
  p.sniff = std::move(sniff);
  p.open = [tag, times, received](const std::shared_ptr<Connection>& c) {
    return std::make_shared<Echo>(c, tag, times, received);
  };
  return p;
}

// A server running on its own thread for the length of a test.
struct Running {
  explicit Running(ServerConfig cfg, std::vector<Protocol> ps) : server(std::move(cfg)) {
    for (auto& p : ps) server.add_protocol(std::move(p));
    bound = server.listen();
    thread = std::thread([this] { server.run([this] { released = true; }); });
  }
  ~Running() {
    server.stop();
    thread.join();
  }
  Server server;
  std::string bound;
  std::atomic<bool> released{false};
  std::thread thread;
};

}  // namespace

TEST_CASE("the first bytes pick the protocol: 'C' is DAP, anything else JSON-RPC", "[net]") {
  ServerConfig cfg;
  cfg.accept_multiclient = true;
  Running r(cfg, {echo("dap", sniff_dap, "D:"),
                  echo(
                      "json-rpc", [](std::string_view) { return Sniff::match; }, "R:")});
  auto dap = dial(r.bound);
  auto rpc = dial(r.bound);
  send_all(rpc.fd, "{\"method\":\"RPCServer.State\"}");
  send_all(dap.fd, "Content-Length: 2\r\n\r\n{}");
  const std::string want_dap = "D:Content-Length: 2\r\n\r\n{}";
  const std::string want_rpc = "R:{\"method\":\"RPCServer.State\"}";
  CHECK(read_n(dap.fd, want_dap.size()) == want_dap);
  CHECK(read_n(rpc.fd, want_rpc.size()) == want_rpc);
}

TEST_CASE("a connection no protocol wants is closed", "[net]") {
  ServerConfig cfg;
  cfg.accept_multiclient = true;
  Running r(cfg, {echo("dap", sniff_dap, "D:")});
  auto c = dial(r.bound);
  send_all(c.fd, "{}");
  CHECK(read_n(c.fd, 1).empty());  // end of file, nothing sent
}

TEST_CASE("a client that does not read its replies stops being read", "[net]") {
  ServerConfig cfg;
  cfg.accept_multiclient = true;
  cfg.max_unsent = 1 << 20;
  std::atomic<std::size_t> received{0};
  // Every byte in makes 16 out: without back-pressure, 16 MB sent would queue 256 MB.
  Running r(cfg, {echo(
                     "amp", [](std::string_view) { return Sniff::match; }, "", 16, &received)});
  auto c = dial(r.bound);
  ::fcntl(c.fd, F_SETFL, O_NONBLOCK);
  const std::string chunk(64 * 1024, 'x');
  std::size_t sent = 0;
  const auto until = std::chrono::steady_clock::now() + 5s;
  int stalls = 0;
  while (sent < (16u << 20) && std::chrono::steady_clock::now() < until && stalls < 20) {
    const auto n = ::send(c.fd, chunk.data(), chunk.size(), MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      stalls = 0;
    } else {
      ++stalls;  // the kernel's buffers are full: the server does not read
      std::this_thread::sleep_for(50ms);
    }
  }
  // The server read at most what its unsent bound allows (plus one read chunk, plus what
  // the kernel took of its output), not what the client sent.
  INFO("sent " << sent << ", server read " << received.load());
  CHECK(sent < (16u << 20));
  CHECK(received.load() < (1u << 20));
  // Reading the replies lets the server read the rest.
  ::fcntl(c.fd, F_SETFL, 0);
  const auto all = read_n(c.fd, sent * 16);
  CHECK(all.size() == sent * 16);
  CHECK(received.load() == sent);
}

TEST_CASE("idle connections cost no thread", "[net]") {
  ServerConfig cfg;
  cfg.accept_multiclient = true;
  Running r(cfg, {echo(
                     "any", [](std::string_view) { return Sniff::match; }, "")});
  auto first = dial(r.bound);
  send_all(first.fd, "x");
  REQUIRE(read_n(first.fd, 1) == "x");
  const int before = threads_of_self();
  std::vector<Fd> conns;
  for (int i = 0; i < 300; ++i) {
    conns.push_back(dial(r.bound));
    send_all(conns.back().fd, "y");
  }
  for (auto& c : conns) REQUIRE(read_n(c.fd, 1) == "y");
  CHECK(r.server.connections() == 301);
  CHECK(threads_of_self() == before);
}

TEST_CASE("the worker pool stays within its bound; an overtaking job is never queued", "[net]") {
  WorkerPool pool(4);
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  std::atomic<int> done{0};
  for (int i = 0; i < 40; ++i) {
    pool.submit([&] {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return release; });
      ++done;
    });
  }
  CHECK(pool.threads() <= 4);
  // Every thread waits for something only this job does (Detach halting the target).
  pool.submit(
      [&] {
        {
          std::lock_guard lock(mu);
          release = true;
        }
        cv.notify_all();
      },
      true);
  pool.shut_down();
  CHECK(done == 40);
  CHECK(pool.threads() == 0);
  CHECK_FALSE(pool.submit([] {}));
}

TEST_CASE("the single client leaving stops the server and releases the target", "[net]") {
  ServerConfig cfg;  // no --accept-multiclient
  Server server(cfg);
  server.add_protocol(echo(
      "any", [](std::string_view) { return Sniff::match; }, ""));
  const auto bound = server.listen();
  std::atomic<bool> released{false};
  std::thread t([&] { server.run([&] { released = true; }); });
  {
    auto c = dial(bound);
    send_all(c.fd, "z");
    REQUIRE(read_n(c.fd, 1) == "z");
  }
  t.join();  // run() returns by itself
  CHECK(released);
  CHECK(server.connections() == 0);
}

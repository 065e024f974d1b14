// cxx_client: the round-trip benchmark's leanest client, so that rpc_bench.py can show the
// server's round trip with as little client in it as possible: one blocking TCP socket
// (TCP_NODELAY), Go's jsonrpc framing written by hand, each reply parsed whole by
// Boost.JSON and checked as the other clients check it.
//
//   cxx_client ADDR CALLS WARMUP [canned]
//
// prints one line per timed round trip (microseconds). "canned": the server answers every
// request with one recorded reply (canned_server), so only Command is sent.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace json = boost::json;

namespace {

class Client {
 public:
  explicit Client(const std::string& addr) {
    const auto colon = addr.rfind(':');
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(std::stoi(addr.substr(colon + 1))));
    if (::inet_pton(AF_INET, addr.substr(0, colon).c_str(), &a.sin_addr) != 1)
      die("bad address " + addr);
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0)
      die("connect " + addr);
    const int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~Client() { ::close(fd_); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  json::value call(const std::string& method, const std::string& params) {
    const std::string req = R"({"method":"RPCServer.)" + method + R"(","params":[)" + params +
                            R"(],"id":)" + std::to_string(++id_) + "}";
    if (::send(fd_, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size()))
      die("send");
    // One reply per request, ended by the encoder's newline.
    std::size_t end;
    while ((end = buf_.find('\n')) == std::string::npos) {
      char chunk[65536];
      const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n <= 0)
        die("connection closed during " + method);
      buf_.append(chunk, static_cast<std::size_t>(n));
    }
    json::value v = json::parse(std::string_view(buf_).substr(0, end));
    buf_.erase(0, end + 1);
    const auto& err = v.as_object().at("error");
    if (!err.is_null())
      die(method + ": " + json::serialize(err));
    return v.as_object().at("result");
  }

  [[noreturn]] static void die(const std::string& what) {
    std::fprintf(stderr, "cxx_client: %s\n", what.c_str());
    std::exit(1);
  }

 private:
  int fd_ = -1;
  long id_ = 0;
  std::string buf_;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: cxx_client ADDR CALLS WARMUP [canned]\n");
    return 2;
  }
  const int calls = std::atoi(argv[2]);
  const int warmup = std::atoi(argv[3]);
  const bool canned = argc > 4 && std::string(argv[4]) == "canned";
  Client c(argv[1]);
  std::int64_t bp_id = 0;
  if (!canned) {
    c.call("SetApiVersion", R"({"APIVersion":2})");
    bp_id = c.call("CreateBreakpoint", R"({"Breakpoint":{"functionName":"main.work","line":-1}})")
                .at("Breakpoint")
                .at("id")
                .to_number<std::int64_t>();
  }
  std::vector<double> times;
  times.reserve(static_cast<std::size_t>(calls));
  for (int i = 0; i < warmup + calls; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    const json::value out = c.call("Command", R"({"name":"continue"})");
    const auto t1 = std::chrono::steady_clock::now();
    if (!canned) {
      const auto& st = out.at("State").as_object();
      const auto* th = st.if_contains("currentThread");
      const json::value* bp =
          th && th->is_object() ? th->as_object().if_contains("breakPoint") : nullptr;
      if (st.at("exited").as_bool() || !bp || !bp->is_object() ||
          bp->at("id").to_number<std::int64_t>() != bp_id)
        Client::die("round trip " + std::to_string(i) + " did not stop at main.work");
    }
    if (i >= warmup)
      times.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  if (!canned) {
    try {
      c.call("Detach", R"({"Kill":true})");
    } catch (const std::exception&) {
      // the server may close the connection as it answers
    }
  }
  for (double t : times) std::printf("%.3f\n", t);
  return 0;
}

// canned_server: a JSON-RPC "server" that answers every request with the same recorded
// response line (its "id" replaced by the request's), so that rpc_bench.py can measure what
// the client and the loopback TCP connection alone cost for a reply of that size: the floor
// under the continue -> breakpoint numbers on the client's side.
//
//   canned_server REPLY_FILE    prints "API server listening at: 127.0.0.1:PORT", serves one
//                               connection until it closes
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: canned_server REPLY_FILE\n");
    return 2;
  }
  std::ifstream in(argv[1], std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string reply = ss.str();
  const auto rest = reply.find(",\"result\"");
  if (rest == std::string::npos) {
    std::fprintf(stderr, "canned_server: %s is not a response line\n", argv[1]);
    return 2;
  }
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0 || ::listen(s, 1) < 0 ||
      ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) < 0) {
    std::perror("canned_server");
    return 1;
  }
  std::printf("API server listening at: 127.0.0.1:%d\n", ntohs(a.sin_port));
  std::fflush(stdout);
  const int c = ::accept(s, nullptr, nullptr);
  const int one = 1;
  ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  std::string buf(65536, '\0');
  for (;;) {
    const ssize_t n = ::recv(c, buf.data(), buf.size(), 0);
    if (n <= 0)
      break;
    // One request per read (the client waits for each answer): echo its "id".
    const std::string req(buf.data(), static_cast<std::size_t>(n));
    auto id = req.find("\"id\":");
    long v = 0;
    if (id != std::string::npos)
      v = std::strtol(req.c_str() + id + 5, nullptr, 10);
    const std::string out = "{\"id\":" + std::to_string(v) + reply.substr(rest);
    if (::send(c, out.data(), out.size(), MSG_NOSIGNAL) < 0)
      break;
  }
  ::close(c);
  ::close(s);
  return 0;
}

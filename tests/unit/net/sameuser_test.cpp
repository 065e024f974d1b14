// --only-same-user's peer check (net::peer_is_same_user) on real loopback connections.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>

#include "net/listen.hpp"

namespace {

struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0)
      ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

unsigned short port_of(int fd, bool peer) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  const int r = peer ? ::getpeername(fd, reinterpret_cast<sockaddr*>(&a), &len)
                     : ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  REQUIRE(r == 0);
  return ntohs(a.sin_port);
}

int listener() {
  const int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(::listen(s, 4) == 0);
  return s;
}

int connect_to(unsigned short port) {
  const int c = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  return c;
}

}  // namespace

TEST_CASE("the peer check finds the client's socket by both of its addresses", "[net]") {
  Fd server(listener());
  const unsigned short server_port = port_of(server.fd, false);
  Fd client(connect_to(server_port));
  Fd accepted(::accept(server.fd, nullptr, nullptr));
  REQUIRE(accepted.fd >= 0);
  const unsigned short client_port = port_of(accepted.fd, true);

  // Our own connection: same user.
  CHECK(goscope::net::peer_is_same_user("127.0.0.1", client_port, "127.0.0.1", server_port));
  // The same client port seen as connected to another server is not this connection: a
  // socket that merely shares the local port (another user's, a TIME_WAIT entry) must not
  // decide.
  Fd other(listener());
  CHECK_FALSE(goscope::net::peer_is_same_user("127.0.0.1", client_port, "127.0.0.1",
                                              port_of(other.fd, false)));
  // Non-loopback peers are not checked.
  CHECK(goscope::net::peer_is_same_user("192.0.2.1", 1234, "192.0.2.2", 80));
}

TEST_CASE("the peer check finds an IPv4 client of a dual-stack listener", "[net]") {
  // As Go's wildcard listener: one IPv6 socket with IPV6_V6ONLY off.
  const int s6 = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s6 < 0) {
    WARN("no IPv6 on this machine: a wildcard listener is IPv4 only, nothing to check");
    std::exit(77);
  }
  Fd server(s6);
  const int off = 0;
  REQUIRE(::setsockopt(server.fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off) == 0);
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_any;
  REQUIRE(::bind(server.fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(::listen(server.fd, 4) == 0);
  sockaddr_in6 bound{};
  socklen_t len = sizeof bound;
  REQUIRE(::getsockname(server.fd, reinterpret_cast<sockaddr*>(&bound), &len) == 0);
  const unsigned short server_port = ntohs(bound.sin6_port);

  Fd client(connect_to(server_port));  // AF_INET, to 127.0.0.1: listed in /proc/net/tcp
  sockaddr_in6 peer{};
  len = sizeof peer;
  Fd accepted(::accept(server.fd, reinterpret_cast<sockaddr*>(&peer), &len));
  REQUIRE(accepted.fd >= 0);
  char text[INET6_ADDRSTRLEN];
  REQUIRE(::inet_ntop(AF_INET6, &peer.sin6_addr, text, sizeof text) != nullptr);
  // The server sees the v4-mapped form on both ends.
  CHECK(std::string(text) == "::ffff:127.0.0.1");
  CHECK(goscope::net::peer_is_same_user(text, ntohs(peer.sin6_port), "::ffff:127.0.0.1",
                                        server_port));
}

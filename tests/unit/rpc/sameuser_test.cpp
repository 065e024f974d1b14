// --only-same-user's peer check (rpc::peer_is_same_user) on real loopback connections.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "rpc/server.hpp"

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

TEST_CASE("the peer check finds the client's socket by both of its addresses", "[rpc]") {
  Fd server(listener());
  const unsigned short server_port = port_of(server.fd, false);
  Fd client(connect_to(server_port));
  Fd accepted(::accept(server.fd, nullptr, nullptr));
  REQUIRE(accepted.fd >= 0);
  const unsigned short client_port = port_of(accepted.fd, true);

  // Our own connection: same user.
  CHECK(goscope::rpc::peer_is_same_user("127.0.0.1", client_port, "127.0.0.1", server_port));
  // The same client port seen as connected to another server is not this connection: a
  // socket that merely shares the local port (another user's, a TIME_WAIT entry) must not
  // decide.
  Fd other(listener());
  CHECK_FALSE(goscope::rpc::peer_is_same_user("127.0.0.1", client_port, "127.0.0.1",
                                              port_of(other.fd, false)));
  // Non-loopback peers are not checked.
  CHECK(goscope::rpc::peer_is_same_user("192.0.2.1", 1234, "192.0.2.2", 80));
}

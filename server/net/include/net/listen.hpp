#pragma once
// Where a debug server listens, as dlv binds it (Go's net.Listen("tcp", addr)), and who may
// connect (--only-same-user).
#include <cstdio>
#include <stdexcept>
#include <string>

namespace goscope::net {

/// A listen address that cannot be used; what() is Go's text, which dlv prints after
/// "couldn't start listener: " ("listen tcp: address 99999: invalid port",
/// "listen tcp 127.0.0.1:2345: bind: address already in use").
class ListenError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A `--listen` value split as Go's net.SplitHostPort does. Throws ListenError.
struct ListenSpec {
  std::string host;         ///< without brackets; "" for ":PORT"
  unsigned short port = 0;  ///< "" and 0 pick a free port
  /// ":P", "0.0.0.0:P", "[::]:P": every interface, on one dual-stack IPv6 socket where the
  /// machine has IPv6 (Go's choice for a wildcard "tcp" listener), else 0.0.0.0.
  bool wildcard = false;
};
ListenSpec parse_listen(const std::string& addr);

/// The address a listening socket is bound to, printed as Go's TCPAddr.String() does
/// ("127.0.0.1:41227", "[::]:2345", "[::1]:80").
std::string format_address(const std::string& ip, unsigned short port);

/// True for 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104.
bool is_loopback_ip(const std::string& ip);

/// dlv's warning for a listener that is not on a loopback address, one line in dlv's log
/// format ("2026-12-07T16:08:11Z warning layer=rpc Listening for remote connections
/// (connections are not authenticated nor encrypted)"), then goscope's own line naming the
/// address actually bound. `layer` is dlv's log layer ("rpc" for headless, "dap").
void warn_remote_listener(std::FILE* to, const std::string& layer, const std::string& bound);

/// True if the TCP peer at `peer_addr:peer_port`, connected to this server's
/// `local_addr:local_port`, belongs to the current uid, from /proc/net/tcp and
/// /proc/net/tcp6 (Delve's sameuser check). The client's socket is the entry whose local
/// address is the peer's and whose remote address is ours: matching the local one alone
/// could pick another socket bound to the same port (a TIME_WAIT entry shows uid 0, another
/// user's connection to elsewhere shows that user). An IPv4 client of a dual-stack listener
/// is seen by the server as ::ffff:a.b.c.d but owns an AF_INET socket (listed in
/// /proc/net/tcp): v4-mapped addresses are looked up in both tables, in both spellings.
/// Non-loopback peers are not checked (true).
bool peer_is_same_user(const std::string& peer_addr, unsigned short peer_port,
                       const std::string& local_addr, unsigned short local_port);

/// The refusal dlv logs for a peer of another uid.
std::string different_user_message(const std::string& peer);

}  // namespace goscope::net

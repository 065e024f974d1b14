// Listen addresses as Go's net package splits and binds them, dlv's remote-listener
// warning, and the --only-same-user peer check.
#include "net/listen.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <unistd.h>

#include <boost/asio/ip/address.hpp>
#include <cstdint>
#include <ctime>
#include <fstream>
#include <sstream>
#include <vector>

namespace goscope::net {
namespace ip = boost::asio::ip;

namespace {

[[noreturn]] void addr_error(const std::string& addr, const std::string& why) {
  throw ListenError("listen tcp: address " + addr + ": " + why);
}

// Go's parsePort: decimal digits with an optional sign; out of range is "invalid port".
unsigned short parse_port(const std::string& s) {
  if (s.empty())
    return 0;  // Go: an empty port picks one
  std::size_t i = 0;
  bool neg = false;
  if (s[0] == '+' || s[0] == '-') {
    neg = s[0] == '-';
    i = 1;
  }
  if (i == s.size())
    addr_error(s, "invalid port");
  unsigned long n = 0;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') {
      // A service name, looked up as Go does (/etc/services).
      if (const servent* se = ::getservbyname(s.c_str(), "tcp"))
        return ntohs(static_cast<std::uint16_t>(se->s_port));
      addr_error("tcp/" + s, "unknown port");
    }
    n = n * 10 + static_cast<unsigned long>(s[i] - '0');
    if (n > 65535)
      addr_error(s, "invalid port");
  }
  if (neg && n != 0)
    addr_error(s, "invalid port");
  return static_cast<unsigned short>(n);
}

}  // namespace

ListenSpec parse_listen(const std::string& hostport) {
  // net.SplitHostPort, with its error texts.
  const auto i = hostport.rfind(':');
  if (i == std::string::npos)
    addr_error(hostport, "missing port in address");
  std::string host;
  std::size_t j = 0, k = 0;
  if (!hostport.empty() && hostport[0] == '[') {
    const auto end = hostport.find(']');
    if (end == std::string::npos)
      addr_error(hostport, "missing ']' in address");
    if (end + 1 == hostport.size())
      addr_error(hostport, "missing port in address");
    if (end + 1 != i) {
      if (hostport[end + 1] == ':')
        addr_error(hostport, "too many colons in address");
      addr_error(hostport, "missing port in address");
    }
    host = hostport.substr(1, end - 1);
    j = 1;
    k = end + 1;
  } else {
    host = hostport.substr(0, i);
    if (host.find(':') != std::string::npos)
      addr_error(hostport, "too many colons in address");
  }
  if (hostport.find('[', j) != std::string::npos)
    addr_error(hostport, "unexpected '[' in address");
  if (hostport.find(']', k) != std::string::npos)
    addr_error(hostport, "unexpected ']' in address");
  ListenSpec out;
  out.host = host;
  out.port = parse_port(hostport.substr(i + 1));
  boost::system::error_code ec;
  const auto a = ip::make_address(host, ec);
  out.wildcard = host.empty() || (!ec && a.is_unspecified());
  return out;
}

std::string format_address(const std::string& ip_text, unsigned short port) {
  boost::system::error_code ec;
  auto a = ip::make_address(ip_text, ec);
  std::string host = ip_text;
  if (!ec) {
    // Go prints an IPv4-mapped address as the IPv4 address.
    if (a.is_v6() && a.to_v6().is_v4_mapped())
      a = ip::make_address_v4(ip::v4_mapped, a.to_v6());
    host = a.is_v6() ? "[" + a.to_string() + "]" : a.to_string();
  }
  return host + ":" + std::to_string(port);
}

bool is_loopback_ip(const std::string& ip_text) {
  boost::system::error_code ec;
  const auto a = ip::make_address(ip_text, ec);
  if (ec)
    return false;
  if (a.is_v6() && a.to_v6().is_v4_mapped())
    return ip::make_address_v4(ip::v4_mapped, a.to_v6()).is_loopback();
  return a.is_loopback();
}

void warn_remote_listener(std::FILE* to, const std::string& /*layer*/, const std::string& bound) {
  // dlv's own warning line ("... warning layer=rpc Listening for remote connections ...") is
  // written by the log library (it honours --log-dest); this line adds what dlv's leaves
  // out: the address actually bound.
  std::fprintf(to,
               "WARNING: goscope is listening on %s: anyone who can reach it can run code as "
               "this user\n",
               bound.c_str());
  std::fflush(to);
}

std::string different_user_message(const std::string& peer) {
  return "closing connection from different user (" + peer +
         "): connections to localhost are only accepted from the same UNIX user for security "
         "reasons";
}

bool peer_is_same_user(const std::string& peer_addr, unsigned short peer_port,
                       const std::string& local_addr, unsigned short local_port) {
  boost::system::error_code ec;
  auto addr = ip::make_address(peer_addr, ec);
  if (ec)
    return false;
  auto ours = ip::make_address(local_addr, ec);
  if (ec)
    return false;
  if (!is_loopback_ip(peer_addr))
    return true;
  // An IPv4 client of a dual-stack listener: we see ::ffff:127.0.0.1, its socket is AF_INET.
  auto unmap = [](ip::address a) {
    if (a.is_v6() && a.to_v6().is_v4_mapped())
      return ip::address(ip::make_address_v4(ip::v4_mapped, a.to_v6()));
    return a;
  };
  addr = unmap(addr);
  ours = unmap(ours);
  // /proc/net/tcp prints addresses as the raw in-memory words in host byte order.
  auto hex_words = [](const unsigned char* bytes, std::size_t n) {
    std::string out;
    char b[3];
    for (std::size_t w = 0; w < n; w += 4) {
      for (int k = 3; k >= 0; --k) {
        std::snprintf(b, sizeof b, "%02X", bytes[w + static_cast<std::size_t>(k)]);
        out += b;
      }
    }
    return out;
  };
  auto port_hex = [](unsigned short port) {
    char b[8];
    std::snprintf(b, sizeof b, ":%04X", port);
    return std::string(b);
  };
  auto v4 = [&](const ip::address& a, unsigned short port) {
    const auto bytes = a.to_v4().to_bytes();
    return hex_words(bytes.data(), 4) + port_hex(port);
  };
  auto v6 = [&](const ip::address& a, unsigned short port) {
    const auto bytes =
        a.is_v4() ? ip::make_address_v6(ip::v4_mapped, a.to_v4()).to_bytes() : a.to_v6().to_bytes();
    return hex_words(bytes.data(), 16) + port_hex(port);
  };
  struct Candidate {
    const char* file;
    std::string client_local, client_remote;  // the client socket's own view
  };
  std::vector<Candidate> candidates;
  if (addr.is_v4() && ours.is_v4())
    candidates.push_back({"/proc/net/tcp", v4(addr, peer_port), v4(ours, local_port)});
  candidates.push_back({"/proc/net/tcp6", v6(addr, peer_port), v6(ours, local_port)});
  for (const auto& c : candidates) {
    std::ifstream in(c.file);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string sl, local_field, remote_field, st, queues, tr, retr, uid;
      fields >> sl >> local_field >> remote_field >> st >> queues >> tr >> retr >> uid;
      if (local_field == c.client_local && remote_field == c.client_remote) {
        try {
          return std::stoul(uid) == getuid();
        } catch (const std::exception&) {
          return false;
        }
      }
    }
  }
  return false;
}

}  // namespace goscope::net

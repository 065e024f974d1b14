#include "tcp_transport.hpp"

#include <sys/socket.h>

#include <stdexcept>

namespace goscope::dap {

namespace asio = boost::asio;

std::size_t TcpTransport::read_some(char* buf, std::size_t len) {
  boost::system::error_code ec;
  const auto n = sock_.read_some(asio::buffer(buf, len), ec);
  return ec ? 0 : n;
}

bool TcpTransport::write_all(std::string_view bytes) {
  boost::system::error_code ec;
  asio::write(sock_, asio::buffer(bytes.data(), bytes.size()), ec);
  return !ec;
}

void TcpTransport::shutdown() {
  // ::shutdown on the descriptor: safe while another thread is blocked in read_some.
  ::shutdown(sock_.native_handle(), SHUT_RDWR);
}

asio::ip::tcp::endpoint parse_endpoint(asio::io_context& io, const std::string& addr) {
  const auto colon = addr.rfind(':');
  if (colon == std::string::npos)
    throw std::runtime_error("address " + addr + ": missing port in address");
  std::string host = addr.substr(0, colon);
  const std::string port = addr.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host.empty())
    host = "127.0.0.1";
  asio::ip::tcp::resolver resolver(io);
  boost::system::error_code ec;
  auto results = resolver.resolve(host, port, ec);
  if (ec || results.empty())
    throw std::runtime_error("listen tcp " + addr + ": " + (ec ? ec.message() : "no address"));
  return results.begin()->endpoint();
}

}  // namespace goscope::dap

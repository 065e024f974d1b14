#pragma once
// TEMPORARY: a minimal blocking TCP transport and one-shot acceptor for `goscope dap`,
// until the shared server library (server/net: listener, loopback default, same-user
// check, protocol sniffing, shutdown policy) lands; then run_dap() takes its connection
// from server/net and this file goes away.
#include <boost/asio.hpp>
#include <memory>
#include <string>

#include "transport.hpp"

namespace goscope::dap {

class TcpTransport : public Transport {
 public:
  explicit TcpTransport(boost::asio::ip::tcp::socket sock) : sock_(std::move(sock)) {}
  std::size_t read_some(char* buf, std::size_t len) override;
  bool write_all(std::string_view bytes) override;
  void shutdown() override;
  int native_handle() { return sock_.native_handle(); }

 private:
  boost::asio::ip::tcp::socket sock_;
};

/// Splits "host:port" (host may be empty or [v6]); throws on a malformed address.
boost::asio::ip::tcp::endpoint parse_endpoint(boost::asio::io_context& io, const std::string& addr);

}  // namespace goscope::dap

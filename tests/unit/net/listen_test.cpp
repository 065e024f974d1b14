// Listen addresses split and printed as Go's net package does (dlv's --listen).
#include <catch2/catch.hpp>

#include "net/listen.hpp"

using goscope::net::format_address;
using goscope::net::is_loopback_ip;
using goscope::net::ListenError;
using goscope::net::parse_listen;

TEST_CASE("listen addresses are split as net.SplitHostPort", "[net]") {
  auto s = parse_listen("127.0.0.1:0");
  CHECK(s.host == "127.0.0.1");
  CHECK(s.port == 0);
  CHECK_FALSE(s.wildcard);

  s = parse_listen(":2345");
  CHECK(s.host.empty());
  CHECK(s.port == 2345);
  CHECK(s.wildcard);
  CHECK(parse_listen("0.0.0.0:1").wildcard);
  CHECK(parse_listen("[::]:1").wildcard);
  CHECK_FALSE(parse_listen("[::1]:1").wildcard);
  CHECK(parse_listen("[::1]:1").host == "::1");
  CHECK(parse_listen("localhost:").port == 0);  // Go: an empty port picks one
  CHECK(parse_listen("localhost:65535").port == 65535);
  CHECK(parse_listen("127.0.0.1:+5").port == 5);
}

TEST_CASE("bad listen addresses get Go's error texts", "[net]") {
  auto err = [](const char* addr) {
    try {
      parse_listen(addr);
    } catch (const ListenError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  // As dlv 1.20.2 prints them after "couldn't start listener: ".
  CHECK(err("127.0.0.1") == "listen tcp: address 127.0.0.1: missing port in address");
  CHECK(err("fe80::1:0") == "listen tcp: address fe80::1:0: too many colons in address");
  CHECK(err("127.0.0.1:99999") == "listen tcp: address 99999: invalid port");
  CHECK(err("127.0.0.1:-1") == "listen tcp: address -1: invalid port");
  CHECK(err("127.0.0.1:http2") == "listen tcp: address tcp/http2: unknown port");
  CHECK(err("[::1") == "listen tcp: address [::1: missing ']' in address");
  CHECK(err("[::1]") == "listen tcp: address [::1]: missing port in address");
  CHECK(err("[::1]:1:2") == "listen tcp: address [::1]:1:2: too many colons in address");
  CHECK(err("a]:1") == "listen tcp: address a]:1: unexpected ']' in address");
}

TEST_CASE("bound addresses print as Go's TCPAddr", "[net]") {
  CHECK(format_address("127.0.0.1", 41227) == "127.0.0.1:41227");
  CHECK(format_address("::", 2345) == "[::]:2345");
  CHECK(format_address("::1", 80) == "[::1]:80");
  CHECK(format_address("::ffff:127.0.0.1", 7) == "127.0.0.1:7");
}

TEST_CASE("loopback addresses", "[net]") {
  CHECK(is_loopback_ip("127.0.0.1"));
  CHECK(is_loopback_ip("127.0.0.2"));
  CHECK(is_loopback_ip("::1"));
  CHECK(is_loopback_ip("::ffff:127.0.0.1"));
  CHECK_FALSE(is_loopback_ip("::"));
  CHECK_FALSE(is_loopback_ip("0.0.0.0"));
  CHECK_FALSE(is_loopback_ip("192.0.2.1"));
}

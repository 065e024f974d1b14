// The DAP framing: split reads, several messages per read, header quirks, resynchronising
// after a bad header, the size bound, and a seeded fuzz that must never crash or lose sync.
#include <catch2/catch.hpp>
#include <random>
#include <string>
#include <vector>

#include "dap/codec.hpp"

using goscope::dap::encode_frame;
using goscope::dap::FrameReader;
using Status = FrameReader::Status;

namespace {

std::vector<std::string> drain(FrameReader& r, std::vector<Status>* other = nullptr) {
  std::vector<std::string> out;
  for (;;) {
    auto m = r.next();
    if (m.status == Status::need_more || m.status == Status::fatal) {
      if (other != nullptr && m.status == Status::fatal)
        other->push_back(m.status);
      return out;
    }
    if (m.status == Status::message)
      out.push_back(m.body);
    else if (other != nullptr)
      other->push_back(m.status);
  }
}

}  // namespace

TEST_CASE("one message, fed whole or byte by byte", "[dap][codec]") {
  const std::string body = R"({"seq":1,"type":"request","command":"initialize"})";
  const auto wire = encode_frame(body);
  CHECK(wire == "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
  FrameReader whole;
  whole.feed(wire);
  CHECK(drain(whole) == std::vector<std::string>{body});
  FrameReader bytes;
  std::vector<std::string> got;
  for (char c : wire) {
    bytes.feed(std::string_view(&c, 1));
    for (auto& m : drain(bytes)) got.push_back(m);
  }
  CHECK(got == std::vector<std::string>{body});
}

TEST_CASE("several messages in one read; other headers ignored, any case", "[dap][codec]") {
  FrameReader r;
  r.feed("content-length: 2\r\nContent-Type: application/json\r\n\r\n{}" + encode_frame("[1]") +
         "Content-Length:3\r\n\r\n\"x\"");
  CHECK(drain(r) == std::vector<std::string>{"{}", "[1]", "\"x\""});
}

TEST_CASE("a bad header is reported once and the reader resynchronises", "[dap][codec]") {
  FrameReader r;
  r.feed("Content-Lenght: 5\r\n\r\nhello" + encode_frame("{}") + "Content-Length: x\r\n\r\n" +
         encode_frame("[]"));
  std::vector<Status> other;
  CHECK(drain(r, &other) == std::vector<std::string>{"{}", "[]"});
  CHECK(other == std::vector<Status>{Status::bad_header, Status::bad_header});
}

TEST_CASE("an oversized message or header is fatal", "[dap][codec]") {
  FrameReader big;
  big.feed("Content-Length: 104857600\r\n\r\n{");
  CHECK(big.next().status == Status::fatal);
  FrameReader endless;
  endless.feed(std::string(goscope::dap::kMaxHeaderBytes + 10, 'a'));
  CHECK(endless.next().status == Status::fatal);
}

TEST_CASE("fuzz: random chunks of valid frames come back intact", "[dap][codec][fuzz]") {
  std::mt19937 rng(12345);
  for (int round = 0; round < 200; ++round) {
    std::vector<std::string> bodies;
    std::string wire;
    const int n = 1 + static_cast<int>(rng() % 8);
    for (int i = 0; i < n; ++i) {
      std::string b(rng() % 300, '\0');
      for (auto& c : b) c = static_cast<char>(rng());
      bodies.push_back(b);
      wire += encode_frame(b);
    }
    FrameReader r;
    std::vector<std::string> got;
    for (std::size_t at = 0; at < wire.size();) {
      const std::size_t len = std::min<std::size_t>(1 + rng() % 64, wire.size() - at);
      r.feed(std::string_view(wire).substr(at, len));
      at += len;
      for (auto& m : drain(r)) got.push_back(m);
    }
    REQUIRE(got == bodies);
  }
}

TEST_CASE("fuzz: random bytes never crash and never yield an oversized body",
          "[dap][codec][fuzz]") {
  std::mt19937 rng(777);
  const char* pieces[] = {"Content-Length: ", "\r\n", "\r\n\r\n", "12", "999999999999", ":", "{}"};
  for (int round = 0; round < 500; ++round) {
    FrameReader r;
    std::string wire;
    for (int i = 0; i < 40; ++i) {
      if (rng() % 2 == 0)
        wire += pieces[rng() % std::size(pieces)];
      else
        wire += static_cast<char>(rng());
    }
    r.feed(wire);
    for (int guard = 0; guard < 100; ++guard) {
      auto m = r.next();
      if (m.status == Status::need_more || m.status == Status::fatal)
        break;
      if (m.status == Status::message)
        CHECK(m.body.size() <= goscope::dap::kMaxBodyBytes);
    }
  }
}

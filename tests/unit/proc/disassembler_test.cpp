#include <catch2/catch.hpp>

#include <array>
#include <cstddef>
#include <cstdint>

#include "proc/disassembler.hpp"

using goscope::proc::VirtAddr;

namespace {

template <std::size_t N>
std::array<std::byte, N> bytes(const std::uint8_t (&raw)[N]) {
  std::array<std::byte, N> out{};
  for (std::size_t i = 0; i < N; ++i) out[i] = std::byte{raw[i]};
  return out;
}

}  // namespace

TEST_CASE("find_returns finds every ret in a Go-like function", "[proc][disassembler]") {
  // push rbp; mov rbp,rsp; sub rsp,0x10; cmp rsp,[r14+0x10]; jbe +1; ret; add rsp,0x10;
  // pop rbp; ret; ret 8
  const std::uint8_t raw[] = {0x55, 0x48, 0x89, 0xe5, 0x48, 0x83, 0xec, 0x10,
                              0x49, 0x3b, 0x66, 0x10, 0x76, 0x01, 0xc3, 0x48,
                              0x83, 0xc4, 0x10, 0x5d, 0xc3, 0xc2, 0x08, 0x00};
  auto code = bytes(raw);
  auto rets = goscope::proc::find_returns(code, VirtAddr(0x1000));
  REQUIRE(rets.size() == 3);
  CHECK(rets[0] == VirtAddr(0x100e));
  CHECK(rets[1] == VirtAddr(0x1014));
  CHECK(rets[2] == VirtAddr(0x1015));
}

TEST_CASE("a 0xc3 byte inside an instruction is not a return", "[proc][disassembler]") {
  // mov eax, 0xc3c3c3c3; ret
  const std::uint8_t raw[] = {0xb8, 0xc3, 0xc3, 0xc3, 0xc3, 0xc3};
  auto code = bytes(raw);
  auto rets = goscope::proc::find_returns(code, VirtAddr(0x2000));
  REQUIRE(rets.size() == 1);
  CHECK(rets[0] == VirtAddr(0x2005));
}

TEST_CASE("find_calls_to resolves rel32 targets and disassemble gives Intel text",
          "[proc][disassembler]") {
  // 0x1000: call 0x1010 (e8 0b 00 00 00); 0x1005: call 0x1020 (e8 16 00 00 00);
  // 0x100a: call rax (ff d0); 0x100c: call 0x1010 (e8 ff ff ff ff -> 0x1011-1)
  const std::uint8_t raw[] = {0xe8, 0x0b, 0x00, 0x00, 0x00, 0xe8, 0x16, 0x00, 0x00,
                              0x00, 0xff, 0xd0, 0xe8, 0xff, 0xff, 0xff, 0xff};
  auto code = bytes(raw);
  auto calls = goscope::proc::find_calls_to(code, VirtAddr(0x1000), VirtAddr(0x1010));
  REQUIRE(calls.size() == 2);
  CHECK(calls[0] == VirtAddr(0x1000));
  CHECK(calls[1] == VirtAddr(0x100c));

  auto insns = goscope::proc::disassemble(code, VirtAddr(0x1000));
  REQUIRE(insns.size() == 4);
  CHECK(insns[0].is_call);
  CHECK(insns[0].branch_target == 0x1010);
  CHECK(insns[0].text == "call 0x0000000000001010");
  CHECK(insns[2].text == "call rax");
  CHECK(insns[2].branch_target == 0);
  CHECK(insns[3].length == 5);
}

TEST_CASE("undecodable bytes do not stop the walk", "[proc][disassembler]") {
  const std::uint8_t raw[] = {0x06, 0xc3};  // 0x06 (push es) is invalid in 64-bit mode
  auto code = bytes(raw);
  auto insns = goscope::proc::disassemble(code, VirtAddr(0x3000));
  REQUIRE(insns.size() == 2);
  CHECK(insns[0].text == "(bad)");
  CHECK(insns[1].is_ret);
}

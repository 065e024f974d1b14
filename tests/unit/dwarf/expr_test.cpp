#include <catch2/catch.hpp>

#include <cstring>
#include <initializer_list>
#include <map>

#include "dwarf/error.hpp"
#include "dwarf/expr.hpp"

using namespace goscope::dwarf;

namespace {

std::vector<std::byte> ops(std::initializer_list<int> v) {
  std::vector<std::byte> out;
  for (int b : v) {
    out.push_back(static_cast<std::byte>(b));
  }
  return out;
}

/// Registers r_n = 0x1000 * (n + 1); memory: 8-byte words at 0x5000 (0x1122334455667788)
/// and 0x5008 (42).
ExprContext test_context() {
  ExprContext ctx;
  ctx.read_register = [](unsigned n) -> std::optional<std::uint64_t> {
    if (n > 16) {
      return std::nullopt;
    }
    return 0x1000 * (n + 1);
  };
  ctx.read_memory = [](std::uint64_t addr, std::span<std::byte> out) {
    static const std::map<std::uint64_t, std::uint64_t> words{{0x5000, 0x1122334455667788},
                                                              {0x5008, 42}};
    auto it = words.find(addr);
    if (it == words.end() || out.size() > 8) {
      return false;
    }
    std::memcpy(out.data(), &it->second, out.size());
    return true;
  };
  ctx.frame_base = 0x7000;
  ctx.cfa = 0x8000;
  return ctx;
}

std::uint64_t address_of(std::initializer_list<int> bytes) {
  auto pieces = evaluate_location(ops(bytes), test_context());
  REQUIRE(pieces.size() == 1);
  REQUIRE(pieces[0].kind == Piece::Kind::memory);
  CHECK(pieces[0].size == 0);
  return pieces[0].address;
}

}  // namespace

TEST_CASE("dwarf expr: empty expression yields no pieces", "[dwarf][expr]") {
  CHECK(evaluate_location({}, test_context()).empty());
}

TEST_CASE("dwarf expr: addresses and constants", "[dwarf][expr]") {
  // DW_OP_addr 0x4c1234
  CHECK(address_of({0x03, 0x34, 0x12, 0x4c, 0, 0, 0, 0, 0}) == 0x4c1234);
  CHECK(address_of({0x30}) == 0);                                           // lit0
  CHECK(address_of({0x4f}) == 31);                                          // lit31
  CHECK(address_of({0x08, 0xff}) == 0xff);                                  // const1u
  CHECK(address_of({0x09, 0xff}) == ~0ull);                                 // const1s -1
  CHECK(address_of({0x0a, 0x34, 0x12}) == 0x1234);                          // const2u
  CHECK(address_of({0x0b, 0xfe, 0xff}) == ~0ull - 1);                       // const2s -2
  CHECK(address_of({0x0c, 0x78, 0x56, 0x34, 0x12}) == 0x12345678);          // const4u
  CHECK(address_of({0x0d, 0xff, 0xff, 0xff, 0xff}) == ~0ull);               // const4s -1
  CHECK(address_of({0x0e, 1, 2, 3, 4, 5, 6, 7, 8}) == 0x0807060504030201);  // const8u
  CHECK(address_of({0x10, 0xe5, 0x8e, 0x26}) == 624485);                    // constu (LEB128)
  CHECK(address_of({0x11, 0x7f}) == ~0ull);                                 // consts -1
  CHECK(address_of({0x11, 0xc0, 0xbb, 0x78}) == static_cast<std::uint64_t>(-123456));
}

TEST_CASE("dwarf expr: DW_OP_addr adds the static base", "[dwarf][expr]") {
  auto ctx = test_context();
  ctx.static_base = 0x10000;
  auto p = evaluate_location(ops({0x03, 0x00, 0x10, 0, 0, 0, 0, 0, 0}), ctx);
  REQUIRE(p.size() == 1);
  CHECK(p[0].address == 0x11000);
}

TEST_CASE("dwarf expr: frame base, CFA and register-relative", "[dwarf][expr]") {
  CHECK(address_of({0x9c}) == 0x8000);                  // call_frame_cfa
  CHECK(address_of({0x91, 0x68}) == 0x7000 - 24);       // fbreg -24
  CHECK(address_of({0x91, 0x08}) == 0x7008);            // fbreg 8
  CHECK(address_of({0x77, 0x10}) == 0x8000 + 16);       // breg7 (rsp here = 0x8000) +16
  CHECK(address_of({0x70, 0x7c}) == 0x1000 - 4);        // breg0 -4
  CHECK(address_of({0x92, 0x06, 0x08}) == 0x7000 + 8);  // bregx 6 +8
  CHECK(address_of({0x9c, 0x23, 0x10}) == 0x8010);      // cfa; plus_uconst 16
}

TEST_CASE("dwarf expr: arithmetic and stack operations", "[dwarf][expr]") {
  CHECK(address_of({0x35, 0x33, 0x22}) == 8);                                     // lit5 lit3 plus
  CHECK(address_of({0x35, 0x33, 0x1c}) == 2);                                     // lit5 lit3 minus
  CHECK(address_of({0x35, 0x33, 0x1e}) == 15);                                    // mul
  CHECK(address_of({0x3a, 0x33, 0x1b}) == 3);                                     // 10 / 3
  CHECK(address_of({0x3a, 0x33, 0x1d}) == 1);                                     // 10 % 3
  CHECK(address_of({0x3c, 0x3a, 0x1a}) == 8);                                     // 12 & 10
  CHECK(address_of({0x3c, 0x3a, 0x21}) == 14);                                    // 12 | 10
  CHECK(address_of({0x3c, 0x3a, 0x27}) == 6);                                     // 12 ^ 10
  CHECK(address_of({0x31, 0x34, 0x24}) == 16);                                    // 1 << 4
  CHECK(address_of({0x40, 0x32, 0x25}) == 4);                                     // 16 >> 2
  CHECK(address_of({0x09, 0xf0, 0x32, 0x26}) == static_cast<std::uint64_t>(-4));  // shra
  CHECK(address_of({0x35, 0x1f}) == static_cast<std::uint64_t>(-5));              // neg
  CHECK(address_of({0x09, 0xfb, 0x19}) == 5);                                     // abs(-5)
  CHECK(address_of({0x30, 0x20}) == ~0ull);                                       // not 0
  CHECK(address_of({0x35, 0x12, 0x22}) == 10);                                    // dup plus
  CHECK(address_of({0x35, 0x36, 0x13}) == 5);                                     // drop
  CHECK(address_of({0x35, 0x36, 0x16}) == 5);                                     // swap: top is 5
  CHECK(address_of({0x35, 0x36, 0x14}) == 5);                                     // over
  CHECK(address_of({0x35, 0x36, 0x37, 0x15, 0x02}) == 5);                         // pick 2
  CHECK(address_of({0x31, 0x32, 0x33, 0x17}) == 2);  // rot: [1 2 3] -> [3 1 2]
  CHECK(address_of({0x35, 0x35, 0x29}) == 1);        // eq
  CHECK(address_of({0x35, 0x36, 0x2d}) == 1);        // lt
  CHECK(address_of({0x35, 0x36, 0x2b}) == 0);        // gt
  CHECK(address_of({0x35, 0x96}) == 5);              // nop
}

TEST_CASE("dwarf expr: branches", "[dwarf][expr]") {
  // lit1 bra +1 lit7 lit9: the branch skips lit7
  CHECK(address_of({0x31, 0x28, 0x01, 0x00, 0x37, 0x39}) == 9);
  // lit0 bra +1 lit7: no branch, lit7 runs
  CHECK(address_of({0x30, 0x28, 0x01, 0x00, 0x37}) == 7);
  // skip +1 over lit7
  CHECK(address_of({0x39, 0x2f, 0x01, 0x00, 0x37}) == 9);
}

TEST_CASE("dwarf expr: memory dereference", "[dwarf][expr]") {
  // const2u 0x5000 deref
  CHECK(address_of({0x0a, 0x00, 0x50, 0x06}) == 0x1122334455667788);
  // deref_size 2
  CHECK(address_of({0x0a, 0x00, 0x50, 0x94, 0x02}) == 0x7788);
  // deref_size 4 of 0x5008
  CHECK(address_of({0x0a, 0x08, 0x50, 0x94, 0x04}) == 42);
  CHECK_THROWS_AS(evaluate_location(ops({0x0a, 0x00, 0x60, 0x06}), test_context()), Error);
}

TEST_CASE("dwarf expr: registers", "[dwarf][expr]") {
  auto p = evaluate_location(ops({0x50}), test_context());  // reg0
  REQUIRE(p.size() == 1);
  CHECK(p[0].kind == Piece::Kind::reg);
  CHECK(p[0].regno == 0);
  CHECK(p[0].size == 0);

  p = evaluate_location(ops({0x6f}), test_context());  // reg31
  REQUIRE(p.size() == 1);
  CHECK(p[0].regno == 31);

  p = evaluate_location(ops({0x90, 0x11}), test_context());  // regx 17 (xmm0)
  REQUIRE(p.size() == 1);
  CHECK(p[0].kind == Piece::Kind::reg);
  CHECK(p[0].regno == 17);
}

TEST_CASE("dwarf expr: pieces as Go writes register-ABI strings", "[dwarf][expr]") {
  // DW_OP_reg0 DW_OP_piece 8 DW_OP_reg3 DW_OP_piece 8
  auto p = evaluate_location(ops({0x50, 0x93, 0x08, 0x53, 0x93, 0x08}), test_context());
  REQUIRE(p.size() == 2);
  CHECK(p[0].kind == Piece::Kind::reg);
  CHECK(p[0].regno == 0);
  CHECK(p[0].size == 8);
  CHECK(p[1].kind == Piece::Kind::reg);
  CHECK(p[1].regno == 3);
  CHECK(p[1].size == 8);
}

TEST_CASE("dwarf expr: mixed memory, register and missing pieces", "[dwarf][expr]") {
  // fbreg 8, piece 8; reg3, piece 8; piece 4 (optimized out); lit7 stack_value piece 4
  auto p = evaluate_location(
      ops({0x91, 0x08, 0x93, 0x08, 0x53, 0x93, 0x08, 0x93, 0x04, 0x37, 0x9f, 0x93, 0x04}),
      test_context());
  REQUIRE(p.size() == 4);
  CHECK(p[0].kind == Piece::Kind::memory);
  CHECK(p[0].address == 0x7008);
  CHECK(p[0].size == 8);
  CHECK(p[1].kind == Piece::Kind::reg);
  CHECK(p[1].regno == 3);
  CHECK(p[2].kind == Piece::Kind::empty);
  CHECK(p[2].size == 4);
  CHECK(p[3].kind == Piece::Kind::value);
  CHECK(p[3].value == 7);
  CHECK(p[3].size == 4);
}

TEST_CASE("dwarf expr: stack_value and implicit_value", "[dwarf][expr]") {
  auto p = evaluate_location(ops({0x35, 0x36, 0x22, 0x9f}), test_context());
  REQUIRE(p.size() == 1);
  CHECK(p[0].kind == Piece::Kind::value);
  CHECK(p[0].value == 11);

  p = evaluate_location(ops({0x9e, 0x03, 0xaa, 0xbb, 0xcc}), test_context());
  REQUIRE(p.size() == 1);
  CHECK(p[0].kind == Piece::Kind::implicit);
  REQUIRE(p[0].bytes.size() == 3);
  CHECK(p[0].bytes[2] == std::byte{0xcc});
}

TEST_CASE("dwarf expr: errors", "[dwarf][expr]") {
  const auto ctx = test_context();
  auto message = [&](std::initializer_list<int> bytes) -> std::string {
    try {
      evaluate_location(ops(bytes), ctx);
    } catch (const Error& e) {
      return e.what();
    }
    return "no error";
  };
  CHECK(message({0x22}) == "empty OP stack");        // plus with nothing
  CHECK(message({0x30, 0x22}) == "empty OP stack");  // plus with one operand
  CHECK(message({0x06}) == "empty OP stack");        // deref
  CHECK(message({0x23, 0x08}) == "empty OP stack");  // plus_uconst
  CHECK(message({0x9f}) == "empty OP stack");        // stack_value
  CHECK(message({0x13}) == "empty OP stack");        // drop
  CHECK(message({0x96}) == "empty OP stack");        // a nop leaves no location
  CHECK(message({0x03, 0x01}).find("truncated") != std::string::npos);
  CHECK(message({0xff}).find("unsupported") != std::string::npos);
  CHECK(message({0x31, 0x30, 0x1b}).find("division by zero") != std::string::npos);
  CHECK(message({0x90, 0x40}).find("no error") != std::string::npos);  // reg64 is just named

  ExprContext bare;
  CHECK_THROWS_WITH(evaluate_location(ops({0x9c}), bare), "could not retrieve CFA for current PC");
  CHECK_THROWS_AS(evaluate_location(ops({0x91, 0x08}), bare), Error);
  CHECK_THROWS_WITH(evaluate_location(ops({0x70, 0x00}), bare),
                    "DWARF expression: register 0 unavailable");
  CHECK_THROWS_WITH(evaluate_location(ops({0x81, 0x00}), ctx),
                    "DWARF expression: register 17 unavailable");
}

namespace {
// DWARF opcodes (dwarf.h is libdwarf's, private to the dwarf layer).
enum : int {
  DW_OP_addr = 0x03,
  DW_OP_const4u = 0x0c,
  DW_OP_lit3 = 0x33,
  DW_OP_reg0 = 0x50,
  DW_OP_reg3 = 0x53,
  DW_OP_breg7 = 0x77,
  DW_OP_regx = 0x90,
  DW_OP_fbreg = 0x91,
  DW_OP_bregx = 0x92,
  DW_OP_piece = 0x93,
  DW_OP_call_frame_cfa = 0x9c,
  DW_OP_implicit_value = 0x9e,
  DW_OP_stack_value = 0x9f,
};
}  // namespace

TEST_CASE("pretty_print_location prints ops as Delve's op.PrettyPrint", "[dwarf][expr]") {
  CHECK(pretty_print_location({}) == "");
  // DW_OP_fbreg -0x18 (sleb 0x68)
  CHECK(pretty_print_location(ops({DW_OP_fbreg, 0x68})) == "DW_OP_fbreg -0x18 ");
  CHECK(pretty_print_location(ops({DW_OP_call_frame_cfa})) == "DW_OP_call_frame_cfa ");
  CHECK(pretty_print_location(ops({DW_OP_reg0, DW_OP_piece, 8, DW_OP_reg3, DW_OP_piece, 8})) ==
        "DW_OP_reg0(Rax) DW_OP_piece 0x8 DW_OP_reg3(Rbx) DW_OP_piece 0x8 ");
  CHECK(pretty_print_location(ops({DW_OP_piece, 8, DW_OP_fbreg, 0x28, DW_OP_piece, 8})) ==
        "DW_OP_piece 0x8 DW_OP_fbreg 0x28 DW_OP_piece 0x8 ");
  CHECK(pretty_print_location(ops({DW_OP_addr, 0xd0, 0xe3, 0x55, 0, 0, 0, 0, 0})) ==
        "DW_OP_addr 0x55e3d0 ");
  CHECK(pretty_print_location(ops({DW_OP_breg7, 0x10})) == "DW_OP_breg7(Rsp) 0x10 ");
  CHECK(pretty_print_location(ops({DW_OP_regx, 17})) == "DW_OP_regx 0x11 (XMM0)");
  CHECK(pretty_print_location(ops({DW_OP_bregx, 16, 0x7f})) == "DW_OP_bregx 0x10 (Rip)-0x1 ");
  CHECK(pretty_print_location(ops({DW_OP_implicit_value, 2, 0xab, 0x01})) ==
        "DW_OP_implicit_value 2 [ab01] ");
  CHECK(pretty_print_location(ops({DW_OP_lit3, DW_OP_stack_value})) ==
        "DW_OP_lit3 DW_OP_stack_value ");
  CHECK(pretty_print_location(ops({0xe0})) == "0xe0 ");                           // unknown opcode
  CHECK(pretty_print_location(ops({DW_OP_const4u, 1})) == "DW_OP_const4u 0x0 ");  // truncated
  CHECK(amd64_register_name(14) == "R14");
  CHECK(amd64_register_name(35) == "ST(2)");
  CHECK(amd64_register_name(70) == "XMM19");
  CHECK(amd64_register_name(200) == "unknown200");
}

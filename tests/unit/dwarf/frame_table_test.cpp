#include <catch2/catch.hpp>

#include <cstring>

#include "dwarf/debug_info.hpp"
#include "dwarf/error.hpp"
#include "dwarf/frame_table.hpp"
#include "fixtures.hpp"

using namespace goscope::dwarf;
using goscope::dwarf::test::basic;

namespace {

void put32(std::vector<std::byte>& v, std::uint32_t x) {
  for (int i = 0; i < 4; ++i) {
    v.push_back(static_cast<std::byte>(x >> (8 * i)));
  }
}
void put64(std::vector<std::byte>& v, std::uint64_t x) {
  for (int i = 0; i < 8; ++i) {
    v.push_back(static_cast<std::byte>(x >> (8 * i)));
  }
}
void put(std::vector<std::byte>& v, std::initializer_list<int> bytes) {
  for (int b : bytes) {
    v.push_back(static_cast<std::byte>(b));
  }
}

/// A CIE like Go's (CFA = rsp+8, rip at cfa-8) and one FDE for [0x1000, 0x1040) that
/// grows the frame by 16 after 4 bytes, remembers state, and moves the CFA to rbp.
std::vector<std::byte> sample_frame() {
  std::vector<std::byte> cie_body;
  put32(cie_body, 0xffffffff);         // CIE id
  put(cie_body, {3, 0, 1, 0x7c, 16});  // version 3, "", code 1, data -4, ra 16
  put(cie_body, {0x0c, 7, 8});         // def_cfa rsp 8
  put(cie_body, {0x05, 16, 2});        // offset_extended rip, 2*-4 = -8
  std::vector<std::byte> out;
  put32(out, static_cast<std::uint32_t>(cie_body.size()));
  out.insert(out.end(), cie_body.begin(), cie_body.end());

  std::vector<std::byte> fde_body;
  put32(fde_body, 0);  // CIE at offset 0
  put64(fde_body, 0x1000);
  put64(fde_body, 0x40);
  put(fde_body, {0x44});         // advance_loc 4
  put(fde_body, {0x13, 0x76});   // def_cfa_offset_sf -10 (sleb) * -4 = 40
  put(fde_body, {0x86, 0x04});   // offset r6 (rbp) at 4*-4 = cfa-16
  put(fde_body, {0x0a});         // remember_state
  put(fde_body, {0x48});         // advance_loc 8 -> 0x100c
  put(fde_body, {0x0c, 6, 16});  // def_cfa rbp 16
  put(fde_body, {0x02, 0x10});   // advance_loc1 16 -> 0x101c
  put(fde_body, {0x0b});         // restore_state
  put(fde_body, {0xc6});         // restore rbp
  put(fde_body, {0x00, 0x00});   // nops
  put32(out, static_cast<std::uint32_t>(fde_body.size()));
  out.insert(out.end(), fde_body.begin(), fde_body.end());
  return out;
}

}  // namespace

TEST_CASE("dwarf frames: CFA rules from byte arrays", "[dwarf][frames]") {
  const auto bytes = sample_frame();
  const auto t = FrameTable::parse(bytes);
  CHECK_FALSE(t.row_at(FileAddr(0xfff)));
  CHECK_FALSE(t.row_at(FileAddr(0x1040)));

  auto r = t.row_at(FileAddr(0x1000));
  REQUIRE(r);
  CHECK(r->fde_low == FileAddr(0x1000));
  CHECK(r->fde_high == FileAddr(0x1040));
  CHECK(r->cfa_register == 7);
  CHECK(r->cfa_offset == 8);
  CHECK(r->return_address().kind == RegisterRule::Kind::offset);
  CHECK(r->return_address().offset == -8);
  CHECK(r->rule(6).kind == RegisterRule::Kind::undefined);

  r = t.row_at(FileAddr(0x1004));
  REQUIRE(r);
  CHECK(r->cfa_register == 7);
  CHECK(r->cfa_offset == 40);
  CHECK(r->rule(6).kind == RegisterRule::Kind::offset);
  CHECK(r->rule(6).offset == -16);

  r = t.row_at(FileAddr(0x100c));
  REQUIRE(r);
  CHECK(r->cfa_register == 6);
  CHECK(r->cfa_offset == 16);

  r = t.row_at(FileAddr(0x101c));  // state restored, then rbp's rule restored to the CIE's
  REQUIRE(r);
  CHECK(r->cfa_register == 7);
  CHECK(r->cfa_offset == 40);
  CHECK(r->rule(6).kind == RegisterRule::Kind::undefined);
  CHECK(r->return_address().offset == -8);
}

TEST_CASE("dwarf frames: malformed data", "[dwarf][frames]") {
  auto bytes = sample_frame();
  bytes.resize(bytes.size() - 5);
  CHECK_THROWS_AS(FrameTable::parse(bytes), Error);
}

TEST_CASE("dwarf frames: Go fixture", "[dwarf][frames]") {
  const auto& info = basic();
  REQUIRE_FALSE(info.frames().empty());
  const Function* add = info.find_function("main.add");
  REQUIRE(add != nullptr);
  // At entry the return address is on top of the stack: CFA = rsp + 8.
  auto r = info.frames().row_at(add->low_pc);
  REQUIRE(r);
  CHECK(r->fde_low == add->low_pc);
  CHECK(r->fde_high == add->high_pc);
  CHECK(r->cfa_register == 7);
  CHECK(r->cfa_offset == 8);
  CHECK(r->return_address().kind == RegisterRule::Kind::offset);
  CHECK(r->return_address().offset == -8);
  // After `sub $0x10, %rsp` the frame is 16 bytes bigger.
  r = info.frames().row_at(add->low_pc + 4);
  REQUIRE(r);
  CHECK(r->cfa_offset == 24);
  // Every function has an FDE.
  for (const char* name : {"main.main", "main.greet", "runtime.main", "runtime.goexit"}) {
    INFO(name);
    const Function* fn = info.find_function(name);
    REQUIRE(fn != nullptr);
    CHECK(info.frames().row_at(fn->low_pc).has_value());
  }
}

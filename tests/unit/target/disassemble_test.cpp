// Disassembly of a fixture function with Delve's symbol names (texts as dlv 1.20.2 prints).
#include <catch2/catch.hpp>

#include <string>

#include "target/binary_info.hpp"
#include "target/disassemble.hpp"

using namespace goscope;

TEST_CASE("main.add of the basic fixture, as dlv disassembles it", "[target][asm]") {
  auto bi = target::BinaryInfo::load(std::string(GOSCOPE_FIXTURE_DIR "/") + "basic");
  const dwarf::Function* fn = bi->debug().find_function("main.add");
  REQUIRE(fn);
  const std::uint64_t lo = fn->low_pc.value(), hi = fn->high_pc.value();
  auto code = bi->elf().code_at(fn->low_pc, hi - lo);
  REQUIRE(code);
  target::AsmSymbols syms(*bi);

  CHECK(syms.lookup(lo).name == "main.add");
  CHECK(syms.lookup(lo + 1).name.empty());  // inside a function: no name, as Delve
  const auto* wb = bi->debug().find_global("runtime.writeBarrier");
  REQUIRE(wb);

  auto go = target::disassemble_bytes(syms, *code, lo, target::AsmFlavour::go);
  REQUIRE(go.size() >= 3);
  CHECK(go.front().pc == lo);
  CHECK(go.front().text == "SUBQ $0x10, SP");
  CHECK(go.front().bytes.size() == 4);
  CHECK(go.back().text == "RET");
  CHECK(go.back().kind == proc::AsmKind::ret);
  auto intel = target::disassemble_bytes(syms, *code, lo, target::AsmFlavour::intel);
  CHECK(intel.front().text == "sub rsp, 0x10");
  CHECK(intel[1].text == "mov qword ptr [rsp+0x8], rbp");
  auto gnu = target::disassemble_bytes(syms, *code, lo, target::AsmFlavour::gnu);
  CHECK(gnu.front().text == "sub $0x10,%rsp");
  CHECK(gnu.back().text == "retq");

  // main.main calls main.add by name and gives it as DestLoc.
  const dwarf::Function* mainfn = bi->debug().find_function("main.main");
  REQUIRE(mainfn);
  auto mcode = bi->elf().code_at(mainfn->low_pc, mainfn->high_pc.value() - mainfn->low_pc.value());
  REQUIRE(mcode);
  bool found = false;
  for (const auto& i :
       target::disassemble_bytes(syms, *mcode, mainfn->low_pc.value(), target::AsmFlavour::go)) {
    if (i.text == "CALL $main.add(SB)") {
      found = true;
      REQUIRE(i.dest);
      CHECK(*i.dest == lo);
    }
  }
  CHECK(found);
}

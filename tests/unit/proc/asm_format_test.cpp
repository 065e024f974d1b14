// Delve-compatible disassembly text (Delve's RPCServer.Disassemble). Expected strings are
// what dlv 1.20.2 prints for the same bytes in the `basic` fixture.
#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "proc/asm_format.hpp"

using goscope::proc::AsmKind;
using goscope::proc::AsmSymbol;
using goscope::proc::AsmSymbolLookup;
using goscope::proc::AsmSyntax;

namespace {

std::vector<std::byte> bytes(std::initializer_list<int> raw) {
  std::vector<std::byte> out;
  for (int b : raw) out.push_back(static_cast<std::byte>(b));
  return out;
}

std::vector<std::string> texts(const std::vector<std::byte>& code, std::uint64_t pc, AsmSyntax s,
                               const AsmSymbolLookup& lookup = {}) {
  std::vector<std::string> out;
  for (const auto& d : goscope::proc::decode_instructions(code, pc, s, lookup))
    out.push_back(d.text);
  return out;
}

// main.add at 0x49d9a0, main.main's call of it at 0x49e2b3, runtime.writeBarrier at 0x5682c0.
AsmSymbol lookup_basic(std::uint64_t addr) {
  if (addr == 0x49d9a0)
    return {"main.add", addr};
  if (addr >= 0x5682c0 && addr < 0x5682d0)
    return {"runtime.writeBarrier", 0x5682c0};
  return {};
}

}  // namespace

TEST_CASE("main.add in the three flavours, as dlv prints it", "[proc][asm]") {
  const auto code = bytes({0x48, 0x83, 0xec, 0x10, 0x48, 0x89, 0x6c, 0x24, 0x08, 0x48, 0x8d,
                           0x6c, 0x24, 0x08, 0x48, 0x89, 0x44, 0x24, 0x18, 0x48, 0x89, 0x5c,
                           0x24, 0x20, 0x48, 0xc7, 0x04, 0x24, 0x00, 0x00, 0x00, 0x00, 0x48,
                           0x8b, 0x44, 0x24, 0x18, 0x48, 0x03, 0x44, 0x24, 0x20, 0xc3});
  CHECK(texts(code, 0x49d9a0, AsmSyntax::gnu) ==
        std::vector<std::string>{"sub $0x10,%rsp", "mov %rbp,0x8(%rsp)", "lea 0x8(%rsp),%rbp",
                                 "mov %rax,0x18(%rsp)", "mov %rbx,0x20(%rsp)", "movq $0x0,(%rsp)",
                                 "mov 0x18(%rsp),%rax", "add 0x20(%rsp),%rax", "retq"});
  CHECK(texts(code, 0x49d9a0, AsmSyntax::intel) ==
        std::vector<std::string>{"sub rsp, 0x10", "mov qword ptr [rsp+0x8], rbp",
                                 "lea rbp, ptr [rsp+0x8]", "mov qword ptr [rsp+0x18], rax",
                                 "mov qword ptr [rsp+0x20], rbx", "mov qword ptr [rsp], 0x0",
                                 "mov rax, qword ptr [rsp+0x18]", "add rax, qword ptr [rsp+0x20]",
                                 "ret"});
  CHECK(texts(code, 0x49d9a0, AsmSyntax::go) ==
        std::vector<std::string>{"SUBQ $0x10, SP", "MOVQ BP, 0x8(SP)", "LEAQ 0x8(SP), BP",
                                 "MOVQ AX, 0x18(SP)", "MOVQ BX, 0x20(SP)", "MOVQ $0x0, 0(SP)",
                                 "MOVQ 0x18(SP), AX", "ADDQ 0x20(SP), AX", "RET"});
}

TEST_CASE("calls name their target and give it as the destination", "[proc][asm]") {
  const auto call = bytes({0xe8, 0xe8, 0xf6, 0xff, 0xff});  // call main.add from 0x49e2b3
  auto d = goscope::proc::decode_instruction(call, 0x49e2b3, AsmSyntax::go, lookup_basic);
  CHECK(d.text == "CALL $main.add(SB)");
  CHECK(d.kind == AsmKind::call);
  CHECK(d.length == 5);
  REQUIRE(d.direct_target);
  CHECK(*d.direct_target == 0x49d9a0);
  CHECK(goscope::proc::decode_instruction(call, 0x49e2b3, AsmSyntax::gnu, lookup_basic).text ==
        "callq $main.add");
  CHECK(goscope::proc::decode_instruction(call, 0x49e2b3, AsmSyntax::intel, lookup_basic).text ==
        "call $main.add");
  // Without a symbol the target is printed as an address.
  CHECK(goscope::proc::decode_instruction(call, 0x49e2b3, AsmSyntax::intel, {}).text ==
        "call 0x49d9a0");
}

TEST_CASE("rip-relative operands print package variables", "[proc][asm]") {
  const auto cmp = bytes({0x83, 0x3d, 0xb3, 0x9f, 0x0c, 0x00, 0x00});  // at 0x49e306
  CHECK(goscope::proc::decode_instruction(cmp, 0x49e306, AsmSyntax::gnu, lookup_basic).text ==
        "cmpl $0x0,runtime.writeBarrier");
  CHECK(goscope::proc::decode_instruction(cmp, 0x49e306, AsmSyntax::intel, lookup_basic).text ==
        "cmp dword ptr [runtime.writeBarrier], 0x0");
  CHECK(goscope::proc::decode_instruction(cmp, 0x49e306, AsmSyntax::go, lookup_basic).text ==
        "CMPL $0x0, runtime.writeBarrier(SB)");
}

TEST_CASE("jumps, indirect calls, push/pop, int3 and undecodable bytes", "[proc][asm]") {
  // jbe +0x10 at 0x1000; call rax; push rax; pop rax; int3; 0x06 (invalid in 64-bit mode)
  const auto code = bytes({0x76, 0x10, 0xff, 0xd0, 0x50, 0x58, 0xcc, 0x06});
  CHECK(texts(code, 0x1000, AsmSyntax::intel) ==
        std::vector<std::string>{"jbe 0x1012", "call rax", "push rax", "pop rax", "int3", "?"});
  CHECK(texts(code, 0x1000, AsmSyntax::gnu) == std::vector<std::string>{"jbe $0x1012", "call *%rax",
                                                                        "push %rax", "pop %rax",
                                                                        "int3", "?"});
  CHECK(texts(code, 0x1000, AsmSyntax::go) ==
        std::vector<std::string>{"JBE $0x1012", "CALL AX", "PUSHQ AX", "POPQ AX", "INT $0x3", "?"});
  auto all = goscope::proc::decode_instructions(code, 0x1000, AsmSyntax::intel, {});
  REQUIRE(all.size() == 6);
  CHECK_FALSE(all[0].direct_target);  // Delve gives no DestLoc for a Jcc
  CHECK(all[1].kind == AsmKind::call);
  REQUIRE(all[1].indirect_target);
  CHECK(all[1].indirect_target->reg == "rax");
  CHECK(all[4].kind == AsmKind::hard_break);
  CHECK_FALSE(all[5].valid);
  CHECK(all[5].length == 1);
}

TEST_CASE("Delve's spellings of common Go-compiled instructions", "[proc][asm]") {
  struct Case {
    std::vector<std::byte> code;
    const char* gnu;
    const char* intel;
    const char* go;
  };
  // Texts as dlv 1.20.2 prints them for these bytes.
  const std::vector<Case> cases = {
      // 32-bit displacements are printed unsigned.
      {bytes({0x4c, 0x8d, 0xa4, 0x24, 0xa0, 0xfa, 0xff, 0xff}), "lea 0xfffffaa0(%rsp),%r12",
       "lea r12, ptr [rsp+0xfffffaa0]", "LEAQ 0xfffffaa0(SP), R12"},
      // A SIB byte without index shows %riz in GNU syntax (but for %rsp).
      {bytes({0x4d, 0x39, 0x2c, 0x24}), "cmp %r13,(%r12,%riz,1)", "cmp qword ptr [r12], r13",
       "CMPQ R13, 0(R12)"},
      // Byte operations on registers only are L in Go syntax.
      {bytes({0x84, 0xc0}), "test %al,%al", "test al, al", "TESTL AL, AL"},
      {bytes({0x0f, 0x1f, 0x44, 0x00, 0x00}), "nopl (%rax,%rax,1)",
       "nop dword ptr [rax+rax*1], eax", "NOPL 0(AX)(AX*1)"},
      {bytes({0x66, 0x90}), "data16 nop", "data16 nop", "NOPW"},
      {bytes({0xf3, 0x48, 0xab}), "rep stos %rax,%es:(%rdi)", "rep stosq qword ptr [rdi]",
       "REP; STOSQ AX, ES:0(DI)"},
      {bytes({0x48, 0x0f, 0x44, 0xcb}), "cmove %rbx,%rcx", "cmovz rcx, rbx", "CMOVE BX, CX"},
      {bytes({0x48, 0xb8, 0x0b, 0xd7, 0xa3, 0x70, 0x3d, 0x0a, 0xd7, 0xa3}),
       "mov $-0x5c28f5c28f5c28f5,%rax", "mov rax, 0xa3d70a3d70a3d70b",
       "MOVQ $0xa3d70a3d70a3d70b, AX"},
      {bytes({0xf0, 0x0f, 0xb1, 0x11}), "lock cmpxchg %edx,(%rcx)",
       "lock cmpxchg dword ptr [rcx], edx", "LOCK CMPXCHGL DX, 0(CX)"},
      {bytes({0xf2, 0x48, 0x0f, 0x2a, 0xc2}), "cvtsi2sd %rdx,%xmm0", "cvtsi2sd xmm0, rdx",
       "CVTSI2SDQ DX, X0"},
      {bytes({0x0f, 0xb6, 0x44, 0x24, 0x27}), "movzbl 0x27(%rsp),%eax",
       "movzx eax, byte ptr [rsp+0x27]", "MOVZX 0x27(SP), AX"},
      {bytes({0xc6, 0x44, 0x24, 0x28, 0xfb}), "movb $0xfb,0x28(%rsp)",
       "mov byte ptr [rsp+0x28], 0xfb", "MOVB $0xfb, 0x28(SP)"},
      {bytes({0x48, 0x83, 0xc4, 0x80}), "add $-0x80,%rsp", "add rsp, -0x80", "ADDQ $-0x80, SP"},
      // Delve ignores VEX.B for a memory base.
      {bytes({0xc4, 0xc1, 0x7e, 0x7f, 0x22}), "vmovdqu %ymm4,(%rdx)",
       "vmovdqu ymmword ptr [rdx], ymm4", "VMOVDQU X4, 0(DX)"},
  };
  for (const auto& c : cases) {
    CHECK(goscope::proc::decode_instruction(c.code, 0x1000, AsmSyntax::gnu, {}).text == c.gnu);
    CHECK(goscope::proc::decode_instruction(c.code, 0x1000, AsmSyntax::intel, {}).text == c.intel);
    CHECK(goscope::proc::decode_instruction(c.code, 0x1000, AsmSyntax::go, {}).text == c.go);
    CHECK(goscope::proc::decode_instruction(c.code, 0x1000, AsmSyntax::go, {}).length ==
          c.code.size());
  }
  // A short jmp is "jmp", a near one "jmpq" in GNU syntax.
  CHECK(goscope::proc::decode_instruction(bytes({0xeb, 0xfe}), 0x465182, AsmSyntax::gnu, {}).text ==
        "jmp $0x465182");
  CHECK(goscope::proc::decode_instruction(bytes({0xe9, 0xfb, 0xff, 0xff, 0xff}), 0x2000,
                                          AsmSyntax::gnu, {})
            .text == "jmpq $0x2000");
}

TEST_CASE("backward rip-relative references are not named, as Delve", "[proc][asm]") {
  // lea rax, [rip-0x5ba38]: Delve looks the address up with the displacement unsigned.
  const auto lea = bytes({0x48, 0x8d, 0x05, 0xc8, 0x45, 0xfa, 0xff});
  const std::uint64_t target = 0x460007 - 0x5ba38;  // the real address: a function
  AsmSymbolLookup any = [target](std::uint64_t a) {
    return a == target ? AsmSymbol{"runtime.chansend", a} : AsmSymbol{};
  };
  CHECK(goscope::proc::decode_instruction(lea, 0x460000, AsmSyntax::gnu, any).text ==
        "lea 0xfffa45c8(%rip),%rax");
  CHECK(goscope::proc::decode_instruction(lea, 0x460000, AsmSyntax::intel, any).text ==
        "lea rax, ptr [rip+0xfffa45c8]");
  CHECK(goscope::proc::decode_instruction(lea, 0x460000, AsmSyntax::go, any).text ==
        "LEAQ 0xfffa45c8(IP), AX");
}

namespace {

struct Seen {
  std::vector<int> code;
  std::uint64_t pc;
  const char* gnu;
  const char* intel;
  const char* go;  ///< nullptr: not recorded
  std::size_t length;
};

}  // namespace

TEST_CASE("AVX2 code (crypto/sha256.block, crypto/sha1.blockAVX2) as x86asm decodes it",
          "[proc][asm]") {
  // What dlv 1.20.2 prints for these bytes of cmd/go's crypto/sha256.block and
  // crypto/sha1.blockAVX2: x86asm knows five VEX instructions; before any other it keeps
  // the VEX bytes as prefixes and decodes a legacy instruction after them, or prints the
  // VEX byte alone.
  const Seen seen[] = {
      // A REX after VEX is an invalid opcode: the VEX byte alone.
      {{0xc4, 0xe3, 0x7d, 0x46, 0xe2, 0x20}, 0x67b310, "prefix(0xc4)", "prefix(0xc4)", "Op(0)", 1},
      // Legacy prefixes after VEX are read (GNU and Go do not print them).
      {{0xc4, 0x63, 0x7b, 0xf0, 0xe0, 0x02},
       0x67b396,
       "loopne $0x67b39e",
       "lock loopne 0x67b39e",
       "LOOPNE $0x67b39e",
       6},
      // VEX.pp is the mandatory 66 of an SSE opcode...
      {{0xc4, 0xe3, 0x45, 0x0f, 0xc6, 0x04, 0x45, 0x89, 0xcf, 0xc4, 0x63, 0x7b},
       0x67b35d,
       nullptr,
       "shufpd xmm0, xmmword ptr [rax*2+0x63c4cf89], 0x7b",
       nullptr,
       12},
      // ... but no operand-size prefix.
      {{0xc4, 0xe3, 0x55, 0x0f, 0xcc}, 0x1000, nullptr, "bswap esp", nullptr, 5},
      // A one-byte opcode x86asm keeps for VEX forms (E7: VMOVNTDQ) decodes as nothing else.
      {{0xc4, 0x63, 0x7b, 0xf0, 0xe7, 0x1b}, 0x76bfe9, "prefix(0xc4)", "prefix(0xc4)", "Op(0)", 1},
      // A VEX byte after VEX is no VEX.
      {{0xc5, 0x08, 0xc4, 0x41, 0x05, 0xef, 0xfe}, 0x1000, nullptr, "prefix(0xc5)", nullptr, 1},
      // Zydis rejects VEX + XLAT; x86asm reads XLAT.
      {{0xc5, 0x72, 0xd7}, 0x1000, nullptr, "xlat", nullptr, 3},
      // The AVX moves it knows are ymm moves whatever VEX.L says.
      {{0xc4, 0xc1, 0x7a, 0x6f, 0x02},
       0x76b89a,
       nullptr,
       "vmovdqu ymm0, ymmword ptr [rdx]",
       nullptr,
       5},
      // Prefixes before bytes that decode to nothing print alone.
      {{0xf2, 0x06}, 0x67b37a, "repn", "repne", "REPNE; Op(0)", 1},
      {{0xf0}, 0x67b368, "lock", "lock", "LOCK Op(0)", 1},
      // LOCK before anything (twice: GNU prints both).
      {{0xf0, 0xe0, 0x0d},
       0x67b369,
       "lock loopne $0x67b379",
       "lock loopne 0x67b379",
       "LOCK LOOPNE $0x67b379",
       3},
      {{0xf0, 0xf0, 0x0b, 0x44, 0x03, 0x54},
       0x1000,
       "lock lock or 0x54(%rbx,%rax,1),%eax",
       "lock or eax, dword ptr [rbx+rax*1+0x54]",
       nullptr,
       6},
      // A REX before a prefix: the REX alone is undecodable.
      {{0x46, 0xf3, 0x20, 0xc4}, 0x67b31f, "?", "?", nullptr, 1},
      // A REX with an unused bit: GNU prints it whole.
      {{0x41, 0x3d, 0xef, 0xc5, 0xc4, 0xc1},
       0x76b919,
       "rex.B cmp $-0x3e3b3a11,%eax",
       nullptr,
       nullptr,
       6},
      {{0x46, 0x20, 0x21}, 0x76bf15, "rex.RX and %r12b,(%rcx)", nullptr, nullptr, 3},
      {{0x40, 0x31, 0xfb}, 0x76c034, "rex xor %edi,%ebx", nullptr, nullptr, 3},
      // F2 before a branch is BND; a target below 0 prints negative (patchPCRelX86's Imm).
      {{0xf2, 0xe8, 0x21, 0xfb, 0x31, 0xeb},
       0x76bcd5,
       "bnd callq $-0x14574804",
       "bnd call -0x14574804",
       "REPNE; CALL $-0x14574804",
       6},
      {{0xe8, 0xc5, 0xb5, 0x73, 0xfd}, 0x76b9ca, nullptr, "call -0x215906c", nullptr, 5},
      {{0xdf, 0x45, 0x31}, 0x67bdfb, "fild 0x31(%rbp)", nullptr, nullptr, 3},
      {{0xf1}, 0x1000, "icebp", nullptr, "ICEBP", 1},
  };
  for (const auto& s : seen) {
    std::vector<std::byte> code;
    for (int b : s.code) code.push_back(static_cast<std::byte>(b));
    INFO(s.intel);
    for (auto [syntax, want] :
         {std::pair{AsmSyntax::gnu, s.gnu}, {AsmSyntax::intel, s.intel}, {AsmSyntax::go, s.go}}) {
      if (want == nullptr)
        continue;
      const auto d = goscope::proc::decode_instruction(code, s.pc, syntax, {});
      CHECK(d.text == want);
      CHECK(d.length == s.length);
    }
  }
}

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

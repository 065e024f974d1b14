#pragma once
// Delve's register listing (RPCServer.ListRegisters, the `regs` command): which registers
// it shows, in which order, with which DWARF numbers and value texts. Pure functions over
// register contents already read from the process; nothing here touches ptrace.
#include <sys/user.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace goscope::target {

struct Frame;

/// One register as Delve's api.Register shows it.
struct RegisterView {
  std::string name;   ///< Delve's name: "Rip", "XMM0", "ST(0)", "MXCSR", ...
  std::string value;  ///< Delve's text for the value (amd64DwarfRegisterToString)
  int dwarf = 0;      ///< DWARF register number (System V x86-64 psABI)

  bool operator==(const RegisterView&) const = default;
};

/// Delve's ThreadRegisters + api.ConvertRegisters on linux/amd64: the 26 general registers
/// (Orig_rax is dropped: it has no DWARF number) and, when `fp` is given (IncludeFp), XMM0-15,
/// ST(0)-ST(7), MXCSR, CW and SW as well (53 in all; TW, FOP, FIP, FDP and MXCSR_MASK are
/// dropped like Orig_rax). Order: Rip Rsp Rax Rbx Rcx Rdx, then by DWARF number.
///
/// `fp` is what PTRACE_GETFPREGS returns. `xsave` is optional: the raw PTRACE_GETREGSET
/// NT_X86_XSTATE area (Delve reads it after GETFPREGS). When it holds AVX state (xstate_bv
/// bit 2), each XMMn value gets a second line "\n\t[YMMnh] ..." with the upper 128 bits, and
/// with AVX-512 state (bit 6) two more, "[ZMMnhl]" and "[ZMMnhh]". Without it the XMM values
/// are what Delve prints when the thread's AVX state is in its init state.
std::vector<RegisterView> thread_registers(const user_regs_struct& gp,
                                           const user_fpregs_struct* fp = nullptr,
                                           std::span<const std::byte> xsave = {});

/// Registers of a frame whose only known registers are pc, sp and bp: Delve's ScopeRegisters
/// for every frame above the innermost one of a thread (the DWARF-unwound registers: sp = the
/// callee's CFA, rip = the return address, rbp from its rule) and for every frame of a parked
/// goroutine (g.sched). Rip, Rsp, Rbp; IncludeFp adds nothing.
std::vector<RegisterView> frame_registers(std::uint64_t pc, std::uint64_t sp, std::uint64_t bp);

/// Delve's ScopeRegisters for a frame from Target::frame_for / stacktrace: a frame whose
/// registers are complete (frame 0 of a goroutine running on a thread, and the inlined frames
/// sharing it) lists the thread's registers like thread_registers (fp/xsave of that thread,
/// `f.tid`); any other frame lists frame_registers(f.current.pc, f.sp, f.bp).
/// Not for DeferredCall > 0 scopes: Delve shows there the *current thread's* registers with
/// Rsp replaced by the deferred frame's sp (thread_registers on a copy with rsp = f.sp).
std::vector<RegisterView> scope_registers(const Frame& f, const user_fpregs_struct* fp = nullptr,
                                          std::span<const std::byte> xsave = {});

/// Delve's api.Registers.String(): one "name = value\n" line per register, names right-aligned
/// to the longest name of the list (the `Registers` field of ListRegisters' reply).
std::string registers_text(const std::vector<RegisterView>& regs);

/// Go's fmt "%g" of a float64 / float32 (shortest representation that round-trips, exponent
/// form below 1e-4 and from 1e+06, "+Inf", "-Inf", "NaN"), as Delve's SSE and x87 views use it.
std::string go_format_g(double v);
std::string go_format_g(float v);

}  // namespace goscope::target

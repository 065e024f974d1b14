#pragma once
#include <sys/types.h>
#include <sys/user.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "dwarf/expr.hpp"

namespace goscope::target {

/// Helpers for injecting a function call through the Go runtime's debugCallV2 protocol
/// (runtime/asm_amd64.s): the argument bytes go where the called function's DWARF says its
/// parameters are at its entry (Go's register ABI: general registers and X0-X14).

/// A write into the process's memory (a stack-passed piece of an argument).
struct MemoryWrite {
  std::uint64_t addr = 0;
  std::vector<std::byte> bytes;
};

/// Scatters `value` (an argument's bytes, in Go's memory layout) over `pieces` (its
/// location at the function's entry): register pieces (DWARF 0-16) go to `gp`, xmm0-15
/// (17-32) to `fp` (low bytes of the register, the rest zeroed), memory pieces to `mem`. A
/// piece of size 0 is the whole value. Throws std::runtime_error for pieces that cannot be
/// written (implicit values, unknown registers, a value shorter than its pieces).
void scatter_value(std::span<const std::byte> value, const std::vector<dwarf::Piece>& pieces,
                   user_regs_struct& gp, user_fpregs_struct& fp, std::vector<MemoryWrite>& mem);

/// The general register with DWARF number `regno` (0 rax ... 16 rip), nullptr if none.
unsigned long long* gp_register_slot(user_regs_struct& gp, unsigned regno);

/// Debugcall protocol values of R12 at the runtime's INT3s.
enum class DebugCallTrap : std::uint64_t {
  call = 0,      ///< write the arguments, push the return PC, jump to the function
  returned = 1,  ///< the function returned: results are readable
  panicked = 2,  ///< the function panicked: the interface{} value is at SP
  failed = 8,    ///< precheck failed: the reason (a string) is at SP
  restore = 16,  ///< restore every register but RIP and RSP
};

/// Go's argument frame size for a debug call under the register ABI, as a debugger must
/// request it at SP-16: every parameter (results included) laid out as on the stack, then
/// rounded to 8, plus the bytes of every argument register (9 integer + 15 float words), so
/// that alignment padding of register-assigned values always fits. `sizes_aligns` holds
/// each parameter's (size, alignment).
std::uint64_t debug_call_frame_size(
    std::span<const std::pair<std::uint64_t, std::uint64_t>> sizes_aligns);

}  // namespace goscope::target

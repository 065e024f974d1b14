#pragma once
#include <sys/types.h>
// The computation behind Delve's RPCServer.Disassemble: code read from the process (our
// traps masked), decoded and printed as Delve 1.20.2 prints it, with Delve's symbol names.
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "proc/asm_format.hpp"
#include "target/binary_info.hpp"

namespace goscope::proc {
class Process;
}

namespace goscope::target {

/// Delve's api.AssemblyFlavour as it travels in DisassembleIn.Flavour (proc.AssemblyFlavour:
/// GNUFlavour = 0, IntelFlavour = 1, GoFlavour = 2).
enum class AsmFlavour { gnu = 0, intel = 1, go = 2 };

struct AsmInstruction {
  std::uint64_t pc = 0;
  std::vector<std::byte> bytes;  ///< the instruction's bytes (one byte when undecodable)
  std::string text;              ///< "?" when undecodable, as Delve
  /// Target of a direct CALL/JMP (Delve's DestLoc; Jcc have none).
  std::optional<std::uint64_t> dest;
  proc::AsmKind kind = proc::AsmKind::other;
  /// The operand of an indirect CALL/JMP, for the caller to resolve at the current pc
  /// (Delve fills DestLoc from the registers only for the instruction at the thread's pc).
  std::optional<proc::AsmIndirectTarget> indirect;
};

/// Delve's BinaryInfo.symLookup: a function's name at its exact entry (nothing inside it;
/// "C.<name>" for a function of a C compile unit, as Delve names them),
/// else an ELF STT_FUNC symbol at that exact address, else the package variable at or below
/// the address (name + offset) unless the address is above the last one. (Delve also writes
/// C globals as "C.<name>"; dwarf::Variable does not tell its compile unit, so they print
/// bare here.) Build once per binary: it indexes every package variable.
class AsmSymbols {
 public:
  explicit AsmSymbols(const BinaryInfo& bi);
  proc::AsmSymbol lookup(std::uint64_t addr) const;
  /// Delve reads, at every stop, the dynamic loader's list of loaded shared libraries and
  /// the DWARF of each from /usr/lib/debug/.build-id/NN/REST.debug (Debian's -dbg packages,
  /// e.g. libc6-dbg), adding their global variables to the ones its disassembler names
  /// addresses by: an address between the last Go variable and the lowest such library is
  /// then named as that variable plus an offset. This finds that lowest library of process
  /// `pid` (once the loader has run: a library other than the interpreter is mapped);
  /// pid 0 (a core) or none found: addresses beyond the last Go variable stay unnamed.
  void follow_shared_libraries(pid_t pid);

 private:
  bool from_go_unit(std::uint64_t die_offset) const;

  const BinaryInfo* bi_;
  std::vector<std::pair<std::uint64_t, bool>> units_;  ///< compile unit offset, is Go; sorted
  std::vector<std::pair<std::uint64_t, std::string>> funcs_;  ///< ELF STT_FUNC, sorted
  std::vector<std::pair<std::uint64_t, std::string>> vars_;   ///< package variables, sorted
  std::uint64_t shared_floor_ = 0;              ///< see follow_shared_libraries; 0: none
  std::map<std::string, bool> separate_debug_;  ///< library path -> has its debug file
};

/// The largest range disassemble() reads (4 MiB of code; Go's largest functions are a few
/// hundred KiB).
inline constexpr std::uint64_t kMaxDisassembleBytes = std::uint64_t{4} << 20;

/// Disassembles [start, end) of the process, or with end == 0 the whole function containing
/// `start` (throws std::runtime_error "address 0x... does not belong to any function").
/// Throws std::runtime_error "start address(s) should be less than end address(e)" (hex)
/// when start > end, "disassemble range too large: N bytes (at most M)" beyond
/// kMaxDisassembleBytes, and what Process::read_memory throws for unreadable memory.
std::vector<AsmInstruction> disassemble(const BinaryInfo& bi, const AsmSymbols& symbols,
                                        proc::Process& process, std::uint64_t start,
                                        std::uint64_t end, AsmFlavour flavour);
/// Same, building the symbol index for this call.
std::vector<AsmInstruction> disassemble(const BinaryInfo& bi, proc::Process& process,
                                        std::uint64_t start, std::uint64_t end, AsmFlavour flavour);

/// The decoding and printing alone, on bytes already read (`code` loaded at `start`).
std::vector<AsmInstruction> disassemble_bytes(const AsmSymbols& symbols,
                                              std::span<const std::byte> code, std::uint64_t start,
                                              AsmFlavour flavour);

}  // namespace goscope::target

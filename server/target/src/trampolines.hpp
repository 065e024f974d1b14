#pragma once
// Trampolines give the uprobe engine a cheap instruction to probe where Go's code has none.
// The kernel emulates a few instructions at a uprobe (jumps, calls, nops) and single-steps
// the others out of line, at the price of a debug exception, which under a hypervisor costs
// about ten times the breakpoint itself. A RET, and the first instruction of a function
// without a stack check, are such instructions. So the code around them is moved: a few
// whole instructions are replaced by a `jmp` to a trampoline that runs them, reaches a
// 5-byte nop (the probe, with the thread's state exactly as at the original place) and
// goes on (jumps back, or returns). The trampolines live in a memfd that the process maps
// (uprobes need a file), within reach of a rel32 jump.
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "dwarf/debug_info.hpp"
#include "proc/addr.hpp"
#include "proc/disassembler.hpp"
#include "proc/unique_fd.hpp"

namespace goscope::proc {
class Process;
}

namespace goscope::target {

class BinaryInfo;

/// A `syscall` instruction in the executable's code, for making a stopped thread run system
/// calls (proc/inject.hpp); nullopt if there is none.
std::optional<proc::VirtAddr> find_syscall_instruction(const BinaryInfo& bi);

class Trampolines {
 public:
  explicit Trampolines(const BinaryInfo& bi) : bi_(bi) {}

  /// A trampoline for the entry tracepoint of `fn` at `at` (its first instruction, or the
  /// first after its stack-split check, see entry_tracepoint); nullopt when the
  /// instructions there cannot move. `spill_xmm`: store xmm0-14's low halves at rsp-8,
  /// rsp-16, ... before the probe (BPF cannot read xmm registers; Go passes floats in
  /// them). The 120 bytes are within the StackSmall bytes Go guarantees below rsp at any
  /// entry (after a passed stack check, StackGuard bytes), and the probe is then a
  /// one-byte nop (the kernel's call for a probed 5-byte nop would push over them).
  std::optional<std::size_t> add_entry(const dwarf::Function& fn, bool spill_xmm,
                                       proc::VirtAddr at);
  /// The same at low_pc.
  std::optional<std::size_t> add_entry(const dwarf::Function& fn, bool spill_xmm = false);
  /// Whether any argument of `fn` may be passed in an xmm register (floats, complex).
  static bool has_float_arguments(const dwarf::Function& fn);
  /// A trampoline for the RET at `ret` of `fn`; nullopt when the code before it cannot move.
  std::optional<std::size_t> add_return(const dwarf::Function& fn, proc::VirtAddr ret);
  /// The in-process engine: a trampoline for the direct `call` at `at` (a `call
  /// runtime.deferreturn`), which runs the probe code and then makes the call as the original
  /// does (pushing the original return address, so that unwinding sees the caller's pc).
  /// Only with probe code; nullopt when the instruction is not a 5-byte direct call.
  std::optional<std::size_t> add_call(const dwarf::Function& fn, proc::VirtAddr at);
  /// The in-process engine: a trampoline for an inlined copy's entry at `at` inside `fn`'s
  /// body (the probe code runs, then the moved instructions, then it jumps back), only
  /// where R12, R13 and the flags are dead at `at` (scratch_dead_at): the capture code
  /// clobbers them. nullopt otherwise, or when the code there cannot move.
  std::optional<std::size_t> add_inline(const dwarf::Function& fn, proc::VirtAddr at);
  /// Whether every path from `at` in `fn` writes R12 and R13 (whole) and the flags before
  /// reading them, or reaches a CALL or RET first (Go's register ABI keeps nothing in them
  /// across either), following straight-line code only: a jump before that answers no.
  bool scratch_dead_at(const dwarf::Function& fn, proc::VirtAddr at);
  /// The trampoline whose moved range holds `addr`, if any: a probe on the original code
  /// there would read our jmp, so one of the two must go.
  std::optional<std::size_t> covering(proc::VirtAddr addr) const;
  /// Gives trampoline `id` up before install(): its code stays where it is.
  void drop(std::size_t id) { tramps_[id].dropped = true; }
  /// The trampolines (not dropped) whose moved range holds one of `sorted_pcs` after its
  /// first byte: a thread going on there after install() would run into the middle of our
  /// jmp (at the first byte it runs the jmp, which is right).
  std::vector<std::size_t> holding(std::span<const std::uint64_t> sorted_pcs) const;
  bool empty() const;
  /// Trampolines added (dropped ones included): ids are 0 .. size() - 1.
  std::size_t size() const { return tramps_.size(); }

  /// Maps the trampolines into the process and patches its code to jump to them. The
  /// process must not have run yet (thread `tid` stopped at its first instruction): no
  /// thread may be inside a patched range. Throws proc::Error; then nothing is patched.
  void install(proc::Process& process, pid_t tid);
  /// Puts the original code back. The mapping stays: a thread may be inside a trampoline.
  void uninstall(proc::Process& process);
  bool installed() const { return installed_; }

  /// The memfd as a path the kernel resolves (for uprobes), valid while this object lives.
  std::string path() const;
  /// Offset in that file of trampoline `id`'s probe (its 5-byte nop).
  std::uint64_t probe_offset(std::size_t id) const { return tramps_[id].probe_offset; }

  /// The in-process engine: code that runs in trampoline `id` in place of its probe (the nop).
  /// It must be position-independent and fall through at its end, with the thread's state
  /// (bar what the code documents it clobbers) as it found it. Before install().
  void set_probe_code(std::size_t id, std::vector<std::byte> code) {
    tramps_[id].probe_code = std::move(code);
  }
  /// Where trampoline `id`'s probe (or probe code) is in the process, after install().
  proc::VirtAddr probe_address(std::size_t id) const {
    return proc::VirtAddr(base_ + tramps_[id].probe_offset);
  }
  /// The instructions trampoline `id` moves (as in the file) and where they were.
  const std::vector<std::byte>& moved(std::size_t id) const { return tramps_[id].moved; }
  proc::VirtAddr patch_address(std::size_t id) const { return tramps_[id].patch_at; }
  bool dropped(std::size_t id) const { return tramps_[id].dropped; }
  bool is_return(std::size_t id) const { return tramps_[id].is_return; }

  /// The in-process engine: an entry whose moved range reaches the function's RET (a leaf of
  /// a few bytes, which leaves no room for a separate return trampoline) gets one trampoline
  /// with both probes: entry probe, the moved instructions, return probe, RET. add_return()
  /// then answers that trampoline (combined() says so). Off by default: the uprobe engine
  /// probes one nop per trampoline.
  void set_combine_leaf_returns(bool on) { combine_leaf_returns_ = on; }
  bool combined(std::size_t id) const { return tramps_[id].has_return; }
  void set_return_probe_code(std::size_t id, std::vector<std::byte> code) {
    tramps_[id].ret_probe_code = std::move(code);
  }
  proc::VirtAddr return_probe_address(std::size_t id) const {
    return proc::VirtAddr(base_ + tramps_[id].ret_probe_offset);
  }

  /// The in-process engine: whether a probe at `addr`, inside entry trampoline `id`'s moved
  /// range, can run right after the entry's probe code, before the moved instructions: only
  /// `cmp` and `test` come before it in the moved code, so the registers and memory there are
  /// the trampoline start's (the flags differ, and the capture code needs none of them).
  bool shares_entry_state(std::size_t id, proc::VirtAddr addr) const;
  /// Code for such a probe; probes added so run in the order added. Returns its index.
  std::size_t add_shared_probe_code(std::size_t id, std::vector<std::byte> code);
  proc::VirtAddr shared_probe_address(std::size_t id, std::size_t k) const {
    return proc::VirtAddr(base_ + tramps_[id].shared[k].offset);
  }
  /// Targets of the direct jumps trampoline `id` moves (they are re-encoded to reach them).
  std::vector<std::uint64_t> moved_branch_targets(std::size_t id) const;
  /// The in-process engine: a moved jump of trampoline `id` that targets the one-byte RET at
  /// `ret` goes to `code` followed by a RET in the trampoline instead (the RET's own probe
  /// for the paths through this jump; the RET keeps its slow probe for the others). Returns
  /// the stub's index, or nullopt when there is no such jump or no RET there.
  std::optional<std::size_t> add_ret_stub(std::size_t id, proc::VirtAddr ret,
                                          std::vector<std::byte> code);
  proc::VirtAddr ret_stub_address(std::size_t id, std::size_t k) const {
    return proc::VirtAddr(base_ + tramps_[id].stubs[k].offset);
  }

 private:
  /// A direct jump (jcc or jmp, rel8 or rel32) in the moved code: re-encoded with a rel32
  /// in the trampoline, so that it reaches its target from there.
  struct MovedBranch {
    std::size_t offset = 0;  ///< in `moved`
    std::uint8_t length = 0;
    int cc = -1;  ///< the condition (low nibble of the opcode); -1: jmp
    std::uint64_t target = 0;
    std::size_t relocated_length() const { return cc < 0 ? 5 : 6; }
  };
  struct ExtraCode {
    std::vector<std::byte> code;
    std::uint64_t offset = 0;  ///< in the memfd
    std::uint64_t ret = 0;     ///< a RET stub: the RET it stands for
  };
  struct Tramp {
    proc::VirtAddr patch_at;       ///< first moved instruction
    std::vector<std::byte> moved;  ///< the moved instructions, as in the file
    std::vector<MovedBranch> branches;
    std::vector<ExtraCode> shared;  ///< probes sharing the entry's state (in order)
    std::vector<ExtraCode> stubs;   ///< RET stubs, after the trampoline's code
    std::size_t relocated_size() const {
      std::size_t n = moved.size();
      for (const auto& b : branches) n += b.relocated_length() - b.length;
      return n;
    }
    bool is_return = false;          ///< ends with the RET (else jumps back after `moved`)
    bool spill_xmm = false;          ///< entry: store xmm0-14 below rsp first
    std::uint64_t offset = 0;        ///< in the memfd
    std::uint64_t probe_offset = 0;  ///< of the nop, in the memfd
    bool dropped = false;
    std::vector<std::byte> probe_code;  ///< in place of the nop (the in-process engine)
    /// An entry trampoline whose moved range ends with the function's RET (see
    /// set_combine_leaf_returns): ret_probe_code runs before it.
    bool has_return = false;
    proc::VirtAddr ret_addr;
    std::vector<std::byte> ret_probe_code;
    std::uint64_t ret_probe_offset = 0;
    /// A moved direct call (add_call): its target; the return address is the original's.
    std::uint64_t call_target = 0;
    bool ends_with_ret() const { return is_return || has_return; }
    std::uint64_t end() const {
      return patch_at.value() + moved.size() + (ends_with_ret() ? 1 : 0);
    }
  };
  /// Branch targets inside `fn` (any jump into a moved range forbids the move), and
  /// whether it has indirect jumps (jump tables, whose targets are unknown).
  struct FunctionCode {
    std::vector<std::uint64_t> targets;
    bool indirect_jumps = false;
    bool readable = false;                 ///< the code was found in the file
    std::vector<std::byte> bytes;          ///< the function's code, as in the file
    std::vector<proc::Instruction> insns;  ///< decoded once: a function has many RETs
  };
  const FunctionCode& code_of(const dwarf::Function& fn);
  /// A direct jmp or jcc (rel8 or rel32, no prefix) whose bytes start `at`: it moves
  /// re-encoded with a rel32. nullopt for anything else.
  static std::optional<MovedBranch> direct_jump(std::span<const std::byte> at,
                                                const proc::Instruction& insn);
  /// `moved` as it runs at `at`, its jumps re-encoded (to a RET stub where one stands for
  /// their target).
  std::vector<std::byte> relocated(const Tramp& t, std::uint64_t at) const;
  /// Whether [lo, hi) meets a range some trampoline moves (dropped ones included: they are
  /// only dropped after every range was chosen).
  bool overlaps(std::uint64_t lo, std::uint64_t hi) const;
  /// Whether [lo, hi) of `fc` can move: no branch of the function lands inside it (after
  /// its first byte) and no trampoline moves any of it.
  bool can_move(const FunctionCode& fc, std::uint64_t lo, std::uint64_t hi) const;

  const BinaryInfo& bi_;
  std::vector<Tramp> tramps_;
  std::unordered_map<const dwarf::Function*, FunctionCode> code_cache_;
  proc::UniqueFd memfd_;
  std::uint64_t base_ = 0;
  bool installed_ = false;
  bool combine_leaf_returns_ = false;
};

}  // namespace goscope::target

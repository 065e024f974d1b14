#pragma once
// What the uprobe engine's BPF program copies at a tracepoint, decided ahead of time from
// DWARF: the registers and the goroutine header always, the stack bytes the values' locations
// name, and the memory they point to as far as the LoadConfig loads it ("blocks", each one
// bpf_probe_read_user whose address and length come from earlier captures). What cannot be
// decided ahead (an interface's dynamic value, map buckets, xmm registers) makes the program
// ask for a completion: it signals the thread, which then stops under ptrace so the tracer
// can read the rest live, while the memory is still as it was at the hit.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "dwarf/debug_info.hpp"
#include "proc/bpf.hpp"
#include "target/variable.hpp"

namespace goscope::target {
class BinaryInfo;
}

namespace goscope::target::capture {

/// Where an 8-byte word of a value is found at the hit.
struct Word {
  enum class Kind { reg, stack, block };
  Kind kind = Kind::reg;
  std::int16_t reg = 0;     ///< reg: byte offset in pt_regs
  std::int64_t offset = 0;  ///< stack: from rsp; block: inside the block's data
  std::size_t block = 0;    ///< block: its index
};

/// One bpf_probe_read_user: `len` (or clamp(count, 0, max_count) * elem_size) bytes at
/// word(addr) + addr_add.
struct Block {
  Word addr;
  std::int64_t addr_add = 0;
  std::optional<Word> count;
  std::uint64_t elem_size = 1;
  std::uint64_t max_count = 0;  ///< with count
  std::uint64_t len = 0;        ///< without count
  /// A failed read does not ask for a completion (the value may not need it, see Iface).
  bool optional = false;
  std::uint64_t max_bytes() const { return count ? max_count * elem_size : len; }
  std::uint32_t record_offset = 0;  ///< of its 24-byte header (addr, len, status), then data
};

/// The run-time decision for an interface value: does the loader need more than the
/// captured type header and 64 bytes of the pointed-to value?
struct Iface {
  std::size_t type_block;                   ///< runtime._type header of the dynamic type
  std::optional<std::size_t> data_block;    ///< 64 bytes at the data word (indirect values)
  std::optional<std::size_t> string_block;  ///< a boxed string's bytes
  bool follow_pointers = false;
};

/// The capture for one tracepoint site.
struct Plan {
  std::vector<Block> blocks;
  std::vector<Iface> ifaces;
  std::int64_t stack_lo = 0, stack_hi = 8;  ///< [lo, hi) from rsp
  bool always_complete = false;
  std::string why_complete;  ///< for --log
  /// An entry probed on its stack check's `jbe` (where the kernel emulates the probed
  /// instruction) instead of the instruction after it: no record when the jbe branches
  /// (CF or ZF set, the flags it tests): the call goes to runtime.morestack and restarts,
  /// and is recorded when it passes.
  bool skip_if_jbe_taken = false;
  // Record layout (set by layout()).
  std::uint32_t stack_offset = 0;
  std::uint32_t size = 0;
};

/// Fixed part of every record.
struct RecordHeader {
  std::uint64_t cookie;
  std::uint64_t time_ns;
  std::uint64_t pid_tgid;
  std::uint64_t flags;
  std::uint64_t regs[21];  ///< pt_regs order = user_regs_struct's first 21 fields
};
static_assert(sizeof(RecordHeader) == 200);
inline constexpr std::uint64_t kFlagComplete = 1;
/// The ring buffer was filling up: the thread stops until the tracer has drained it.
inline constexpr std::uint64_t kFlagThrottle = 2;
inline constexpr std::uint32_t kGOffset = sizeof(RecordHeader);
/// The realtime signal a program sends to ask for a completion stop. Go ignores realtime
/// signals it was not asked to notify, so a stray one (after a detach) is harmless.
inline constexpr int kCompletionSignal = 63;
/// How many xmm registers (from xmm0) an entry trampoline stores below rsp: Go passes
/// floats in X0-X14.
inline constexpr unsigned kSpilledXmm = 15;

/// What to capture for the values `vars` of a site at file pc `pc`, where the CFA is
/// rsp + cfa_offset (nullopt: not computable from rsp, e.g. rbp-based).
struct SiteSpec {
  std::vector<const dwarf::Variable*> vars;
  dwarf::FileAddr pc;
  std::optional<std::int64_t> cfa_offset;
  /// Optimized RET: results may come from this function's ABI registers.
  const dwarf::Function* abi_function = nullptr;
  int stack_depth = 0;
  /// xmm0-14's low halves were stored at rsp-8, rsp-16, ... (an entry trampoline does).
  bool xmm_spilled = false;
  /// See Plan::skip_if_jbe_taken.
  bool skip_if_jbe_taken = false;
};
Plan make_plan(const BinaryInfo& bi, const SiteSpec& spec, const LoadConfig& cfg);

/// Assigns record offsets: header, g header (g_len bytes), stack window, blocks.
void layout(Plan& plan, std::uint32_t g_len);

/// One BPF program for `plans`: fills the per-CPU scratch record with the capture of
/// plans[cookie >> 32] and outputs it (sites attach it with cookie = plan << 32 | site).
struct ProgramMaps {
  int scratch_fd;  ///< percpu array, key 0, value >= every record
  int ring_fd;
  int stats_fd;  ///< percpu array of u64 counters, key 0: lost records
  std::uint64_t ring_size;
};
struct GOffsets {
  std::uint32_t len;  ///< bytes of g captured from its start
  std::uint32_t goid;
};
std::vector<proc::bpf::Insn> generate(std::span<const Plan* const> plans, const ProgramMaps& maps,
                                      const GOffsets& g);

/// pt_regs byte offset of a DWARF general-purpose register (0-16), nullopt for others.
std::optional<std::int16_t> pt_regs_offset(unsigned dwarf_regno);

}  // namespace goscope::target::capture

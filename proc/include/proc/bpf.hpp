#pragma once
// eBPF and uprobes: the in-kernel side of the uprobe tracing engine. A uprobe fires in the
// thread that hits it, without a ptrace stop; the BPF program attached to it copies what
// the tracer needs (registers, the goroutine header, stack words, pointed-to memory) into
// a ring buffer that user space drains. Knows nothing of DWARF or Go: the program is built
// by the caller with Assembler.
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "proc/unique_fd.hpp"

namespace goscope::proc::bpf {

/// One eBPF instruction, the kernel's struct bpf_insn.
struct Insn {
  std::uint8_t code = 0;
  std::uint8_t regs = 0;  ///< dst in the low nibble, src in the high one
  std::int16_t off = 0;
  std::int32_t imm = 0;
};
static_assert(sizeof(Insn) == 8);

enum Reg : std::uint8_t { R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10 };

/// Memory access width.
enum class Size : std::uint8_t { b8, b16, b32, b64 };

/// Conditional jumps (64-bit compares). Unsigned unless named s*.
enum class Cond : std::uint8_t { eq, ne, gt, ge, lt, le, sgt, sge, slt, sle, set };

/// Kernel helper function ids (include/uapi/linux/bpf.h).
enum class Helper : std::int32_t {
  map_lookup_elem = 1,
  ktime_get_ns = 5,
  get_current_pid_tgid = 14,
  probe_read_user = 112,
  send_signal_thread = 117,
  ringbuf_output = 130,
  ringbuf_query = 134,
  get_attach_cookie = 174,
};

/// Flags for Helper::ringbuf_output.
inline constexpr std::int32_t kRingbufNoWakeup = 1;
inline constexpr std::int32_t kRingbufForceWakeup = 2;
/// Helper::ringbuf_query flag: bytes not yet consumed.
inline constexpr std::int32_t kRingbufAvailData = 0;

/// Byte offsets in the x86-64 struct pt_regs a uprobe program receives as its context (the
/// same order as the first 21 fields of user_regs_struct).
namespace pt_regs {
inline constexpr std::int16_t r15 = 0, r14 = 8, r13 = 16, r12 = 24, rbp = 32, rbx = 40, r11 = 48,
                              r10 = 56, r9 = 64, r8 = 72, rax = 80, rcx = 88, rdx = 96, rsi = 104,
                              rdi = 112, orig_rax = 120, rip = 128, cs = 136, eflags = 144,
                              rsp = 152, ss = 160;
inline constexpr std::size_t size = 168;
}  // namespace pt_regs

/// Builds a program. Jumps go to labels; finish() resolves them. Every method appends one
/// instruction (ld_imm64/ld_map_fd append the two-slot form).
class Assembler {
 public:
  struct Label {
    std::size_t id;
  };

  void mov(Reg dst, Reg src);
  void mov(Reg dst, std::int32_t imm);
  void add(Reg dst, Reg src);
  void add(Reg dst, std::int32_t imm);
  void sub(Reg dst, Reg src);
  void mul(Reg dst, std::int32_t imm);
  void lsh(Reg dst, std::int32_t imm);
  void lsh(Reg dst, Reg src);
  void rsh(Reg dst, std::int32_t imm);
  void band(Reg dst, std::int32_t imm);
  void bor(Reg dst, std::int32_t imm);
  /// dst = imm (full 64 bits).
  void ld_imm64(Reg dst, std::uint64_t imm);
  /// dst = the map whose fd is `map_fd` (BPF_PSEUDO_MAP_FD).
  void ld_map_fd(Reg dst, int map_fd);
  /// dst = *(size *)(src + off)
  void ldx(Size size, Reg dst, Reg src, std::int16_t off);
  /// *(size *)(dst + off) = src
  void stx(Size size, Reg dst, std::int16_t off, Reg src);
  /// *(size *)(dst + off) = imm
  void st(Size size, Reg dst, std::int16_t off, std::int32_t imm);

  Label new_label();
  void bind(Label l);
  void jmp(Label l);
  void jcc(Cond c, Reg a, std::int32_t imm, Label l);
  void jcc(Cond c, Reg a, Reg b, Label l);
  void call(Helper h);
  void exit();

  std::size_t size() const { return insns_.size(); }
  /// The instructions with every jump resolved; throws proc::Error on an unbound label.
  std::vector<Insn> finish() const;

 private:
  struct Fixup {
    std::size_t insn;
    std::size_t label;
  };
  std::vector<Insn> insns_;
  std::vector<std::ptrdiff_t> labels_;  // instruction index, -1 while unbound
  std::vector<Fixup> fixups_;
};

/// Whether this kernel and these privileges allow the uprobe engine: the uprobe PMU exists
/// and a trivial kprobe-type program loads. `why` gets a one-line reason when not.
bool available(std::string* why = nullptr);

/// A BPF map (RAII over its fd).
class Map {
 public:
  enum class Type : std::uint32_t { hash = 1, array = 2, percpu_array = 6, ringbuf = 27 };
  /// Throws proc::Error (with strerror) when the kernel refuses.
  static Map create(Type type, std::uint32_t key_size, std::uint32_t value_size,
                    std::uint32_t max_entries, const std::string& name);
  int fd() const { return fd_.get(); }
  /// bpf(BPF_MAP_UPDATE_ELEM) / bpf(BPF_MAP_LOOKUP_ELEM) from user space. For percpu maps
  /// `value` holds one value_size slot (rounded up to 8) per possible CPU.
  /// Throws proc::Error when a span is shorter than the map's key or value, since the
  /// kernel would read or write past it.
  void update(std::span<const std::byte> key, std::span<const std::byte> value);
  bool lookup(std::span<const std::byte> key, std::span<std::byte> value) const;
  /// Bytes update()/lookup() need for one value: value_size, or for percpu maps
  /// round_up(value_size, 8) * possible_cpus().
  std::size_t value_bytes() const;

 private:
  UniqueFd fd_;
  Type type_ = Type::hash;
  std::uint32_t key_size_ = 0;
  std::uint32_t value_size_ = 0;
};

/// The number of possible CPUs (/sys/devices/system/cpu/possible), the slot count of a
/// percpu map's value as seen from user space.
unsigned possible_cpus();

/// A loaded program (BPF_PROG_TYPE_KPROBE, the type uprobes run). The license is "GPL"
/// (probe_read_user and send_signal_thread need it).
class Program {
 public:
  /// Throws proc::Error whose message ends with the verifier's log when it is refused.
  /// `expected_attach_type`: kUprobeMultiAttach for programs MultiLink attaches.
  static Program load(std::span<const Insn> insns, const std::string& name,
                      std::uint32_t expected_attach_type = 0);
  int fd() const { return fd_.get(); }

 private:
  UniqueFd fd_;
};

/// A uprobe on one instruction of an ELF file, as a perf event: `pid` restricts it to one
/// process (the breakpoint is written into that process's memory only), `file_offset` is the
/// instruction's offset in the file (not its virtual address).
class Uprobe {
 public:
  static Uprobe open(pid_t pid, const std::string& path, std::uint64_t file_offset);
  int fd() const { return fd_.get(); }

 private:
  UniqueFd fd_;
};

/// Runs `prog` at every hit of `probe`; `cookie` is what Helper::get_attach_cookie returns
/// in the program (BPF_LINK_CREATE with bpf_cookie). Detaches on destruction.
class Link {
 public:
  static Link attach(const Program& prog, const Uprobe& probe, std::uint64_t cookie);
  int fd() const { return fd_.get(); }

 private:
  UniqueFd fd_;
};

/// BPF_TRACE_UPROBE_MULTI (Linux 6.6), the attach type of MultiLink programs.
inline constexpr std::uint32_t kUprobeMultiAttach = 48;

/// One program on many instructions of one file, in process `pid` only
/// (BPF_TRACE_UPROBE_MULTI): one system call attaches them all and one grace period detaches
/// them, where a perf-event uprobe each costs ~100 ms to detach. `cookies[i]` is what
/// Helper::get_attach_cookie returns at `offsets[i]`. The program must be loaded with
/// kUprobeMultiAttach.
class MultiLink {
 public:
  static MultiLink attach(const Program& prog, const std::string& path, pid_t pid,
                          std::span<const std::uint64_t> offsets,
                          std::span<const std::uint64_t> cookies);
  int fd() const { return fd_.get(); }

 private:
  UniqueFd fd_;
};

/// A BPF ring buffer map and its consumer side, mapped into this process.
class RingBuffer {
 public:
  /// `size` is a power of two and a multiple of the page size.
  explicit RingBuffer(std::size_t size);
  ~RingBuffer();
  RingBuffer(const RingBuffer&) = delete;
  RingBuffer& operator=(const RingBuffer&) = delete;

  const Map& map() const { return map_; }
  /// Calls `fn` with each committed record in order (discarded ones skipped) until the
  /// buffer is empty or a record is still being written; returns how many it passed.
  /// Single consumer: callers serialize.
  std::size_t consume(const std::function<void(std::span<const std::byte>)>& fn);
  /// Waits up to `timeout_ms` for data (epoll on the map fd); true if some may be there.
  bool wait(int timeout_ms);
  /// Bytes written and not yet consumed.
  std::size_t pending() const;

 private:
  /// Owner of one shared mapping of the map's fd; throws proc::Error when mmap fails.
  class Mapping {
   public:
    Mapping(int fd, std::size_t len, int prot, std::size_t offset);
    Mapping(const Mapping&) = delete;
    Mapping& operator=(const Mapping&) = delete;
    ~Mapping();
    std::byte* get() const { return static_cast<std::byte*>(addr_); }

   private:
    void* addr_ = nullptr;
    std::size_t len_ = 0;
  };

  Map map_;
  UniqueFd epoll_;
  std::size_t size_ = 0;
  Mapping consumer_page_;  // consumer position (read-write)
  Mapping producer_;       // producer position page, then the data pages mapped twice
};

}  // namespace goscope::proc::bpf

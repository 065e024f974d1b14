#include "inproc_codegen.hpp"

#include <cstddef>
#include <stdexcept>

#include "inproc_ring.hpp"
#include "proc/bpf.hpp"

namespace goscope::target::inproc {
namespace {

enum R : std::uint8_t {
  rax = 0,
  rcx,
  rdx,
  rbx,
  rsp,
  rbp,
  rsi,
  rdi,
  r8,
  r9,
  r10,
  r11,
  r12,
  r13,
  r14,
  r15
};
enum Cc : std::uint8_t { kB = 2, kE = 4, kNe = 5, kBe = 6, kA = 7, kLe = 0xe };
enum Alu : std::uint8_t { kAdd = 0, kOr = 1, kAnd = 4, kSub = 5, kCmp = 7 };

/// Just enough of an x86-64 assembler: 64-bit operations on registers and on [base+disp32].
class X86 {
 public:
  using Label = std::size_t;
  Label label() {
    labels_.push_back(-1);
    return labels_.size() - 1;
  }
  void bind(Label l) { labels_[l] = static_cast<std::int64_t>(code_.size()); }
  std::uint32_t here() const { return static_cast<std::uint32_t>(code_.size()); }

  void mov_imm64(R r, std::uint64_t imm) {
    rex(true, 0, r);
    byte(0xb8 + (r & 7));
    for (int i = 0; i < 8; ++i) byte(static_cast<std::uint8_t>(imm >> (8 * i)));
  }
  void store(R base, std::int32_t disp, R src) { mem_op(0x89, src, base, disp); }
  void load(R dst, R base, std::int32_t disp) { mem_op(0x8b, dst, base, disp); }
  void lea(R dst, R base, std::int32_t disp) { mem_op(0x8d, dst, base, disp); }
  void cmp_reg_mem(R r, R base, std::int32_t disp) { mem_op(0x3b, r, base, disp); }
  void store_imm(R base, std::int32_t disp, std::int32_t imm) {
    mem_op(0xc7, static_cast<R>(0), base, disp);
    imm32(imm);
  }
  /// op qword [base+disp], imm32
  void alu_mem(Alu op, R base, std::int32_t disp, std::int32_t imm) {
    mem_op(0x81, static_cast<R>(op), base, disp);
    imm32(imm);
  }
  void test_mem(R base, std::int32_t disp, std::int32_t imm) {
    mem_op(0xf7, static_cast<R>(0), base, disp);
    imm32(imm);
  }
  void lock_xadd(R base, std::int32_t disp, R r) {
    byte(0xf0);
    rex(true, r, base);
    byte(0x0f);
    byte(0xc1);
    modrm_mem(r, base, disp);
  }
  void alu(Alu op, R r, std::int32_t imm) {
    rex(true, 0, r);
    byte(0x81);
    byte(static_cast<std::uint8_t>(0xc0 | (op << 3) | (r & 7)));
    imm32(imm);
  }
  void add(R dst, R src) { rr(0x01, src, dst); }
  void or_(R dst, R src) { rr(0x09, src, dst); }
  void test(R a, R b) { rr(0x85, b, a); }
  void mov(R dst, R src) { rr(0x89, src, dst); }
  void imul(R dst, R src, std::int32_t imm) {
    rex(true, dst, src);
    byte(0x69);
    byte(static_cast<std::uint8_t>(0xc0 | ((dst & 7) << 3) | (src & 7)));
    imm32(imm);
  }
  void shl(R r, std::uint8_t n) {
    rex(true, 0, r);
    byte(0xc1);
    byte(static_cast<std::uint8_t>(0xe0 | (r & 7)));
    byte(n);
  }
  /// movzx r32, byte [base+disp] (zero-extends to 64 bits)
  void load_byte(R dst, R base, std::int32_t disp) {
    if (dst >= 8 || base >= 8)
      byte(static_cast<std::uint8_t>(0x40 | ((dst >> 3) << 2) | (base >> 3)));
    byte(0x0f);
    byte(0xb6);
    modrm_mem(dst, base, disp);
  }
  void rdtsc() {
    byte(0x0f);
    byte(0x31);
  }
  void int3() { byte(0xcc); }
  void rep_movsb() {
    byte(0xf3);
    byte(0xa4);
  }
  void jcc(Cc cc, Label l) {
    byte(0x0f);
    byte(0x80 | cc);
    rel32(l);
  }
  void jmp(Label l) {
    byte(0xe9);
    rel32(l);
  }

  std::vector<std::byte> finish() {
    for (const auto& [at, l] : fixups_) {
      if (labels_[l] < 0)
        throw std::logic_error("inproc codegen: unbound label");
      const auto rel = static_cast<std::int32_t>(labels_[l] - static_cast<std::int64_t>(at + 4));
      for (int i = 0; i < 4; ++i)
        code_[at + static_cast<std::size_t>(i)] =
            static_cast<std::byte>((static_cast<std::uint32_t>(rel) >> (8 * i)) & 0xff);
    }
    return std::move(code_);
  }

 private:
  void byte(std::uint8_t b) { code_.push_back(static_cast<std::byte>(b)); }
  void imm32(std::int32_t v) {
    for (int i = 0; i < 4; ++i)
      byte(static_cast<std::uint8_t>(static_cast<std::uint32_t>(v) >> (8 * i)));
  }
  void rex(bool w, unsigned reg, unsigned rm) {
    byte(static_cast<std::uint8_t>(0x40 | (w ? 8 : 0) | ((reg >> 3) << 2) | (rm >> 3)));
  }
  void modrm_mem(unsigned reg, R base, std::int32_t disp) {
    byte(static_cast<std::uint8_t>(0x80 | ((reg & 7) << 3) | (base & 7)));
    if ((base & 7) == 4)
      byte(0x24);  // SIB: base only (rsp, r12)
    imm32(disp);
  }
  void mem_op(std::uint8_t op, R reg, R base, std::int32_t disp) {
    rex(true, reg, base);
    byte(op);
    modrm_mem(reg, base, disp);
  }
  void rr(std::uint8_t op, R reg, R rm) {
    rex(true, reg, rm);
    byte(op);
    byte(static_cast<std::uint8_t>(0xc0 | ((reg & 7) << 3) | (rm & 7)));
  }
  void rel32(Label l) {
    fixups_.emplace_back(code_.size(), l);
    imm32(0);
  }

  std::vector<std::byte> code_;
  std::vector<std::int64_t> labels_;
  std::vector<std::pair<std::size_t, Label>> fixups_;
};

constexpr std::int32_t kTypeKind = 23, kIfaceData = 64;
constexpr std::int32_t kKindMask = 31, kKindPtr = 22, kKindString = 24, kKindUnsafePointer = 26,
                       kKindDirectIface = 32;
constexpr std::int32_t kEfault = -14;

// The registers in the record's order (capture::RecordHeader::regs = user_regs_struct);
// R12 and R13 hold the code's own state, rsp is never changed.
constexpr R kSaved[] = {r15, r14, rbp, rbx, r11, r10, r9, r8, rax, rcx, rdx, rsi, rdi};
std::int32_t reg_slot(R r) {
  namespace pr = proc::bpf::pt_regs;
  switch (r) {
    case r15:
      return pr::r15;
    case r14:
      return pr::r14;
    case r13:
      return pr::r13;
    case r12:
      return pr::r12;
    case rbp:
      return pr::rbp;
    case rbx:
      return pr::rbx;
    case r11:
      return pr::r11;
    case r10:
      return pr::r10;
    case r9:
      return pr::r9;
    case r8:
      return pr::r8;
    case rax:
      return pr::rax;
    case rcx:
      return pr::rcx;
    case rdx:
      return pr::rdx;
    case rsi:
      return pr::rsi;
    case rdi:
      return pr::rdi;
    case rsp:
      return pr::rsp;
  }
  return 0;
}

}  // namespace

std::uint32_t slot_size(const capture::Plan& plan) {
  return (8 + plan.size + 7) & ~7u;
}

SiteCode compile(const capture::Plan& plan, std::uint32_t cookie, const CodegenParams& p) {
  SiteCode out;
  X86 a;
  const std::uint32_t slot = slot_size(plan);
  out.slot_size = slot;
  const auto cap_minus_slot = static_cast<std::int32_t>(p.capacity - slot);
  // Record fields are addressed from the slot (r12): the record starts 8 bytes in.
  auto rec = [](std::uint64_t off) { return static_cast<std::int32_t>(8 + off); };
  const std::int32_t kFlags = rec(24);
  const std::int32_t kRegs = rec(32);

  const auto skip_all = a.label(), retry = a.label(), room = a.label(), room_pos = a.label();
  // Reserve a slot (or record nothing: the ring is disabled after a detach).
  a.mov_imm64(r12, p.ring);
  a.alu_mem(kCmp, r12, static_cast<std::int32_t>(kEnabledOffset), 0);
  a.jcc(kE, skip_all);
  a.mov_imm64(r13, slot);
  a.lock_xadd(r12, static_cast<std::int32_t>(kHeadOffset), r13);
  // Room when pos + slot - capacity <= tail (signed: positions start at 0).
  a.bind(retry);
  a.alu(kSub, r13, cap_minus_slot);
  a.cmp_reg_mem(r13, r12, static_cast<std::int32_t>(kTailOffset));
  a.jcc(kLe, room);
  a.alu(kAdd, r13, cap_minus_slot);
  a.alu_mem(kCmp, r12, static_cast<std::int32_t>(kEnabledOffset), 0);
  a.jcc(kE, room_pos);
  out.throttle_trap = a.here();
  a.int3();  // goscope drains the ring, then the thread retries
  a.jmp(retry);
  a.bind(room);
  a.alu(kAdd, r13, cap_minus_slot);
  a.bind(room_pos);
  a.alu(kAnd, r13, static_cast<std::int32_t>(p.capacity - 1));
  a.add(r13, r12);
  a.lea(r12, r13, static_cast<std::int32_t>(kHeaderBytes));  // r12 = the slot

  // The header: registers first (they are the code's spill area too), cookie, time, flags.
  for (R r : kSaved) a.store(r12, kRegs + reg_slot(r), r);
  a.store(r12, kRegs + reg_slot(rsp), rsp);
  for (std::int32_t off :
       {proc::bpf::pt_regs::r12, proc::bpf::pt_regs::r13, proc::bpf::pt_regs::orig_rax,
        proc::bpf::pt_regs::rip, proc::bpf::pt_regs::cs, proc::bpf::pt_regs::eflags,
        proc::bpf::pt_regs::ss})
    a.store_imm(r12, kRegs + off, 0);
  a.store_imm(r12, rec(0), static_cast<std::int32_t>(cookie));
  a.store_imm(r12, rec(4), 0);
  a.rdtsc();
  a.shl(rdx, 32);
  a.or_(rax, rdx);
  a.store(r12, rec(8), rax);
  a.store_imm(r12, rec(16), 0);
  a.store_imm(r12, kFlags, 0);
  auto flag = [&] {
    a.alu_mem(kOr, r12, kFlags, static_cast<std::int32_t>(capture::kFlagComplete));
  };

  // A fault-safe copy of rcx bytes from rsi to the record at `dst`; `on_fail` runs when it
  // faulted (goscope moved the thread to it), `on_ok` when it did not.
  auto safe_copy = [&](std::int32_t dst, auto&& on_ok, auto&& on_fail) {
    const auto ok = a.label(), done = a.label();
    a.lea(rdi, r12, dst);
    const auto at = a.here();
    a.rep_movsb();
    a.jmp(ok);
    out.fixups.emplace_back(at, a.here());
    on_fail();
    a.jmp(done);
    a.bind(ok);
    on_ok();
    a.bind(done);
  };
  auto nothing = [] {};

  // The goroutine header (goid 0, or no g: the completion finds the goroutine).
  const auto g_at = rec(capture::kGOffset);
  a.mov(rsi, r14);
  a.mov_imm64(rcx, p.g.len);
  safe_copy(g_at, nothing, [&] {
    a.store_imm(r12, g_at + static_cast<std::int32_t>(p.g.goid), 0);
    flag();
  });
  {
    const auto has_g = a.label();
    a.alu_mem(kCmp, r12, g_at + static_cast<std::int32_t>(p.g.goid), 0);
    a.jcc(kNe, has_g);
    flag();
    a.bind(has_g);
  }
  // The thread id (g.m.procid), as bpf_get_current_pid_tgid gives it.
  if (p.m_procid && p.g_m + 8 <= p.g.len) {
    const auto no_m = a.label();
    a.load(rsi, r12, g_at + static_cast<std::int32_t>(p.g_m));
    a.test(rsi, rsi);
    a.jcc(kE, no_m);
    a.alu(kAdd, rsi, static_cast<std::int32_t>(*p.m_procid));
    a.mov_imm64(rcx, 4);
    safe_copy(rec(16), nothing, [&] { a.store_imm(r12, rec(16), 0); });
    a.bind(no_m);
  }
  if (plan.always_complete)
    flag();

  // The stack window.
  a.lea(rsi, rsp, static_cast<std::int32_t>(plan.stack_lo));
  a.mov_imm64(rcx, static_cast<std::uint64_t>(plan.stack_hi - plan.stack_lo));
  safe_copy(rec(plan.stack_offset), nothing, flag);

  auto word_disp = [&](const capture::Word& w) -> std::int32_t {
    switch (w.kind) {
      case capture::Word::Kind::reg:
        return kRegs + w.reg;
      case capture::Word::Kind::stack:
        return rec(plan.stack_offset + static_cast<std::uint64_t>(w.offset - plan.stack_lo));
      case capture::Word::Kind::block:
        return rec(plan.blocks[w.block].record_offset + 24 + static_cast<std::uint64_t>(w.offset));
    }
    return 0;
  };
  for (const auto& b : plan.blocks) {
    const auto skip = a.label();
    const auto ro = rec(b.record_offset);
    a.store_imm(r12, ro + 16, -1);  // not read (yet)
    a.store_imm(r12, ro + 8, 0);
    // A block whose address or length comes from a block that was not read is not read.
    for (const capture::Word* w : {&b.addr, b.count ? &*b.count : nullptr}) {
      if (w && w->kind == capture::Word::Kind::block) {
        a.alu_mem(kCmp, r12, rec(plan.blocks[w->block].record_offset + 16), 0);
        a.jcc(kNe, skip);
      }
    }
    a.load(rsi, r12, word_disp(b.addr));
    if (b.addr_add)
      a.alu(kAdd, rsi, static_cast<std::int32_t>(b.addr_add));
    a.store(r12, ro, rsi);
    if (b.count) {
      const auto clamped = a.label();
      a.load(rcx, r12, word_disp(*b.count));
      a.alu(kCmp, rcx, static_cast<std::int32_t>(b.max_count));
      a.jcc(kBe, clamped);  // unsigned, as the BPF program: a negative count is clamped
      a.mov_imm64(rcx, b.max_count);
      a.bind(clamped);
      if (b.elem_size != 1)
        a.imul(rcx, rcx, static_cast<std::int32_t>(b.elem_size));
    } else {
      a.mov_imm64(rcx, b.len);
    }
    a.store(r12, ro + 8, rcx);
    a.test(rsi, rsi);
    a.jcc(kE, skip);
    a.test(rcx, rcx);
    a.jcc(kE, skip);
    safe_copy(
        ro + 24, [&] { a.store_imm(r12, ro + 16, 0); },
        [&] {
          a.store_imm(r12, ro + 16, kEfault);
          if (!b.optional)
            flag();
        });
    a.bind(skip);
  }

  // Interfaces: does the loader need more than the type header and 64 bytes of the value?
  // (The same decision as the BPF program's, see capture_plan.cpp.)
  for (const auto& c : plan.ifaces) {
    const auto done = a.label(), need = a.label(), indirect = a.label();
    const auto tb = rec(plan.blocks[c.type_block].record_offset);
    a.alu_mem(kCmp, r12, tb + 16, 0);
    a.jcc(kNe, done);  // nil interface (or a failed read, already flagged)
    a.load_byte(rax, r12, tb + 24 + kTypeKind);
    a.mov(rdx, rax);
    a.alu(kAnd, rdx, kKindDirectIface);
    a.jcc(kE, indirect);
    if (c.follow_pointers) {
      a.jmp(need);
    } else {
      a.alu(kAnd, rax, kKindMask);
      a.alu(kCmp, rax, kKindPtr);
      a.jcc(kE, done);
      a.alu(kCmp, rax, kKindUnsafePointer);
      a.jcc(kE, done);
      a.jmp(need);
    }
    a.bind(indirect);
    if (c.string_block) {
      const auto not_string = a.label();
      const auto sb = rec(plan.blocks[*c.string_block].record_offset);
      a.alu(kAnd, rax, kKindMask);
      a.alu(kCmp, rax, kKindString);
      a.jcc(kNe, not_string);
      a.alu_mem(kCmp, r12, rec(plan.blocks[*c.data_block].record_offset + 16), 0);
      a.jcc(kNe, need);
      // Read, or nothing to read (nil data or empty): the loader has what it needs.
      a.alu_mem(kCmp, r12, sb + 16, 0);
      a.jcc(kE, done);
      a.alu_mem(kCmp, r12, sb, 0);
      a.jcc(kE, done);
      a.alu_mem(kCmp, r12, sb + 8, 0);
      a.jcc(kE, done);
      a.jmp(need);
      a.bind(not_string);
    }
    if (!c.data_block) {
      a.jmp(need);
    } else {
      a.alu_mem(kCmp, r12, tb + 24, kIfaceData);  // size
      a.jcc(kA, need);
      a.alu_mem(kCmp, r12, tb + 24 + 8, 0);  // ptrdata
      a.jcc(kNe, need);
      a.alu_mem(kCmp, r12, rec(plan.blocks[*c.data_block].record_offset + 16), 0);
      a.jcc(kNe, need);
      a.jmp(done);
    }
    a.bind(need);
    flag();
    a.bind(done);
  }

  // Give the program its registers back, then commit (after a completion stop, if asked).
  for (R r : kSaved) a.load(r, r12, kRegs + reg_slot(r));
  const auto commit = a.label();
  a.test_mem(r12, kFlags, static_cast<std::int32_t>(capture::kFlagComplete));
  a.jcc(kE, commit);
  a.mov_imm64(r13, p.ring);
  a.alu_mem(kCmp, r13, static_cast<std::int32_t>(kEnabledOffset), 0);
  a.jcc(kE, commit);
  out.complete_trap = a.here();
  a.int3();  // goscope reads what the plan could not, while the thread waits here
  a.bind(commit);
  a.store_imm(r12, 0, static_cast<std::int32_t>(slot));
  a.bind(skip_all);
  out.bytes = a.finish();
  return out;
}

}  // namespace goscope::target::inproc

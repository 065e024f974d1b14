#include "capture_plan.hpp"

#include <algorithm>
#include <array>

#include "dwarf/error.hpp"
#include "dwarf/expr.hpp"
#include "target/binary_info.hpp"
#include "target/value_loader.hpp"

namespace goscope::target::capture {
namespace {

using dwarf::GoKind;
namespace bpf = proc::bpf;

/// Blocks past this many (or records past kMaxRecord) are not worth planning: the site asks
/// for a completion instead.
constexpr std::size_t kMaxBlocks = 64;
constexpr std::uint32_t kMaxRecord = 16 * 1024;
/// Bytes captured at an interface's data pointer: small scalar-only values need no stop.
constexpr std::uint64_t kIfaceData = 64;
/// runtime._type: size (0), ptrdata (8), ..., kind (23); 48 bytes in Go 1.19.
constexpr std::uint64_t kTypeHeader = 48;
constexpr std::int16_t kTypeKind = 23;
constexpr std::int32_t kKindMask = 31, kKindPtr = 22, kKindString = 24, kKindUnsafePointer = 26,
                       kKindDirectIface = 32;

// A symbolic rsp for evaluating location expressions: memory pieces come out as offsets
// from it.
constexpr std::uint64_t kRsp = 0x4000'0000'0000ULL;
constexpr unsigned kDwarfXmm0 = 17;
constexpr std::int64_t kStackReach = 1 << 20;

struct Seg {
  std::uint64_t start = 0, size = 0;
  dwarf::Piece::Kind kind = dwarf::Piece::Kind::empty;
  unsigned regno = 0;
  std::int64_t stack_off = 0;
};

/// Where a value is: pieces of a parameter (registers and stack), or memory at a Word.
struct Loc {
  const std::vector<Seg>* segs = nullptr;
  Word base;  // when !segs: stack or block
  std::int64_t offset = 0;
  Loc at(std::int64_t d) const {
    Loc l = *this;
    l.offset += d;
    return l;
  }
};

class Planner {
 public:
  Planner(const BinaryInfo& bi, const LoadConfig& cfg, Plan& plan)
      : bi_(bi), cfg_(cfg), plan_(plan) {}

  void complete(const std::string& why) {
    if (!plan_.always_complete) {
      plan_.always_complete = true;
      plan_.why_complete = why;
    }
  }

  void cover_stack(std::int64_t off, std::uint64_t size) {
    plan_.stack_lo = std::min(plan_.stack_lo, off);
    plan_.stack_hi = std::max(plan_.stack_hi, off + static_cast<std::int64_t>(size));
  }

  void cover(const Loc& loc, std::uint64_t size) {
    if (!loc.segs) {
      if (loc.base.kind == Word::Kind::stack)
        cover_stack(loc.base.offset + loc.offset, size);
      return;
    }
    const auto lo = static_cast<std::uint64_t>(loc.offset), hi = lo + size;
    for (const auto& s : *loc.segs) {
      if (s.start >= hi || s.start + s.size <= lo)
        continue;
      if (s.kind == dwarf::Piece::Kind::memory)
        cover_stack(s.stack_off, s.size);
      else if (s.kind == dwarf::Piece::Kind::reg && s.regno > 16)
        complete("a value in an xmm register");
    }
  }

  std::optional<Word> word(const Loc& loc, std::int64_t d) {
    const auto off = loc.offset + d;
    if (!loc.segs) {
      Word w = loc.base;
      w.offset += off;
      if (w.kind == Word::Kind::stack)
        cover_stack(w.offset, 8);
      return w;
    }
    for (const auto& s : *loc.segs) {
      if (static_cast<std::uint64_t>(off) < s.start ||
          static_cast<std::uint64_t>(off) >= s.start + s.size)
        continue;
      switch (s.kind) {
        case dwarf::Piece::Kind::reg: {
          auto r = pt_regs_offset(s.regno);
          if (!r || static_cast<std::uint64_t>(off) != s.start) {
            complete("a pointer word in an xmm register or split register");
            return std::nullopt;
          }
          Word w;
          w.kind = Word::Kind::reg;
          w.reg = *r;
          return w;
        }
        case dwarf::Piece::Kind::memory: {
          Word w;
          w.kind = Word::Kind::stack;
          w.offset = s.stack_off + (off - static_cast<std::int64_t>(s.start));
          cover_stack(w.offset, 8);
          return w;
        }
        default:
          return std::nullopt;  // a constant or optimized-out word: nothing to follow
      }
    }
    return std::nullopt;
  }

  std::optional<std::size_t> add_frame_block(const Block& b) { return add_block(b); }

  std::optional<std::size_t> add_block(Block b) {
    if (plan_.blocks.size() >= kMaxBlocks) {
      complete("too many pointers to follow");
      return std::nullopt;
    }
    plan_.blocks.push_back(b);
    return plan_.blocks.size() - 1;
  }

  std::optional<std::size_t> deref(const Loc& loc, std::int64_t d, std::uint64_t len,
                                   bool optional = false) {
    auto w = word(loc, d);
    if (!w || len == 0)
      return std::nullopt;
    Block b;
    b.addr = *w;
    b.len = len;
    b.optional = optional;
    return add_block(b);
  }

  static Loc in_block(std::size_t b) {
    Loc l;
    l.base.kind = Word::Kind::block;
    l.base.block = b;
    return l;
  }

  // Mirrors ValueLoader::load_value: every read it makes for `type` at `loc` is captured.
  void walk(const dwarf::Type* type, const Loc& loc, int recurse, int depth = 0) {
    if (!type || plan_.always_complete)
      return;
    if (depth > 16) {
      complete("a deeply nested type");
      return;
    }
    const dwarf::Type* real = type->resolved();
    switch (real->kind) {
      case GoKind::string: {
        cover(loc, 16);
        auto p = word(loc, 0);
        auto n = word(loc, 8);
        if (p && n && cfg_.max_string_len > 0) {
          Block b;
          b.addr = *p;
          b.count = *n;
          b.elem_size = 1;
          b.max_count = static_cast<std::uint64_t>(cfg_.max_string_len);
          add_block(b);
        }
        return;
      }
      case GoKind::slice: {
        cover(loc, 24);
        if (recurse > cfg_.max_variable_recurse || cfg_.max_array_values <= 0)
          return;
        const dwarf::Type* elem = real->elem;
        if (!elem) {
          if (const auto* f = real->field("array"); f && f->type)
            elem = f->type->resolved()->elem;
        }
        if (!elem)
          return;
        const auto esize = elem->resolved()->size;
        auto p = word(loc, 0);
        auto n = word(loc, 8);
        if (!p || !n || esize == 0)
          return;
        Block b;
        b.addr = *p;
        b.count = *n;
        b.elem_size = esize;
        b.max_count = static_cast<std::uint64_t>(cfg_.max_array_values);
        auto blk = add_block(b);
        if (!blk)
          return;
        if (needs_reads(elem)) {
          for (int i = 0; i < cfg_.max_array_values && !plan_.always_complete; ++i)
            walk(elem, in_block(*blk).at(static_cast<std::int64_t>(esize) * i), recurse + 1,
                 depth + 1);
        }
        return;
      }
      case GoKind::array: {
        cover(loc, real->size);
        if (recurse > cfg_.max_variable_recurse || !real->elem)
          return;
        const auto esize = real->elem->resolved()->size;
        const auto n = std::min<std::uint64_t>(
            real->count, static_cast<std::uint64_t>(std::max(0, cfg_.max_array_values)));
        if (needs_reads(real->elem)) {
          for (std::uint64_t i = 0; i < n && !plan_.always_complete; ++i)
            walk(real->elem, loc.at(static_cast<std::int64_t>(esize * i)), recurse + 1, depth + 1);
        }
        return;
      }
      case GoKind::struct_: {
        cover(loc, real->size);
        if (recurse > cfg_.max_variable_recurse)
          return;
        int n = 0;
        for (const auto& f : real->fields) {
          if (cfg_.max_struct_fields >= 0 && n >= cfg_.max_struct_fields)
            break;
          ++n;
          walk(f.type, loc.at(static_cast<std::int64_t>(f.offset)), recurse + 1, depth + 1);
        }
        if (real->name == "time.Time")
          complete("time.Time reads its zone");
        return;
      }
      case GoKind::ptr: {
        cover(loc, 8);
        if (!cfg_.follow_pointers || !real->elem)
          return;
        const dwarf::Type* elem = real->elem;
        const auto size = elem->resolved()->size;
        auto blk = deref(loc, 0, size);
        if (!blk)
          return;
        const bool to_iface = elem->resolved()->kind == GoKind::interface;
        walk(elem, in_block(*blk), to_iface ? recurse + 1 : recurse, depth + 1);
        return;
      }
      case GoKind::func:
        cover(loc, 8);
        deref(loc, 0, 8);
        return;
      case GoKind::map: {
        cover(loc, 8);
        const dwarf::Type* hmap = real->underlying ? real->underlying->resolved() : nullptr;
        if (hmap && hmap->kind == GoKind::ptr && hmap->elem)
          hmap = hmap->elem->resolved();
        deref(loc, 0, hmap && hmap->size ? hmap->size : 48);
        if (recurse <= cfg_.max_variable_recurse && cfg_.max_array_values > 0)
          complete("map entries");
        return;
      }
      case GoKind::chan: {
        cover(loc, 8);
        const dwarf::Type* hchan = real->underlying ? real->underlying->resolved() : nullptr;
        if (hchan && hchan->kind == GoKind::ptr && hchan->elem)
          hchan = hchan->elem->resolved();
        deref(loc, 0, hchan && hchan->size ? hchan->size : 96);
        return;
      }
      case GoKind::interface: {
        cover(loc, 16);
        const bool empty = real->field("_type") != nullptr;
        std::optional<std::size_t> type_blk;
        if (empty) {
          type_blk = deref(loc, 0, kTypeHeader);
        } else {
          auto itab = deref(loc, 0, 16);
          if (!itab)
            return;
          type_blk = deref(in_block(*itab), 8, kTypeHeader);
        }
        if (!type_blk)
          return;
        Iface check;
        check.type_block = *type_blk;
        check.follow_pointers = cfg_.follow_pointers;
        if (recurse <= cfg_.max_variable_recurse) {
          check.data_block = deref(loc, 8, kIfaceData, /*optional=*/true);
          if (check.data_block && cfg_.max_string_len > 0) {
            // A boxed string (any(s), fmt's arguments) is common enough to capture its
            // bytes ahead: the data word points at {ptr, len}.
            Block b;
            b.addr = Word{Word::Kind::block, 0, 0, *check.data_block};
            b.count = Word{Word::Kind::block, 0, 8, *check.data_block};
            b.elem_size = 1;
            b.max_count = static_cast<std::uint64_t>(cfg_.max_string_len);
            b.optional = true;
            check.string_block = add_block(b);
          }
          plan_.ifaces.push_back(check);
        }
        return;
      }
      default:
        cover(loc, real->size);
        return;
    }
  }

 private:
  // Whether loading a value of this type reads memory beyond its own bytes.
  bool needs_reads(const dwarf::Type* t, int depth = 0) const {
    if (!t || depth > 8)
      return true;
    const dwarf::Type* r = t->resolved();
    switch (r->kind) {
      case GoKind::array:
        return needs_reads(r->elem, depth + 1);
      case GoKind::struct_:
        for (const auto& f : r->fields)
          if (needs_reads(f.type, depth + 1))
            return true;
        return r->name == "time.Time";
      case GoKind::string:
      case GoKind::slice:
      case GoKind::ptr:
      case GoKind::func:
      case GoKind::map:
      case GoKind::chan:
      case GoKind::interface:
        return true;
      default:
        return false;
    }
  }

  const BinaryInfo& bi_;
  const LoadConfig& cfg_;
  Plan& plan_;
};

}  // namespace

std::optional<std::int16_t> pt_regs_offset(unsigned regno) {
  namespace pr = bpf::pt_regs;
  static constexpr std::array<std::int16_t, 17> kByDwarf{
      pr::rax, pr::rdx, pr::rcx, pr::rbx, pr::rsi, pr::rdi, pr::rbp, pr::rsp, pr::r8,
      pr::r9,  pr::r10, pr::r11, pr::r12, pr::r13, pr::r14, pr::r15, pr::rip};
  if (regno >= kByDwarf.size())
    return std::nullopt;
  return kByDwarf[regno];
}

Plan make_plan(const BinaryInfo& bi, const SiteSpec& spec, const LoadConfig& cfg) {
  Plan plan;
  plan.skip_if_jbe_taken = spec.skip_if_jbe_taken;
  Planner planner(bi, cfg, plan);
  if (spec.stack_depth > 0) {
    // --stack: Go's frame-pointer chain, {saved rbp, return address} per frame from rbp
    // (unwind_frames walks it the same way). A chain that ends early leaves blocks unread.
    Word w;
    w.kind = Word::Kind::reg;
    w.reg = bpf::pt_regs::rbp;
    for (int k = 0; k <= spec.stack_depth && !plan.always_complete; ++k) {
      Block b;
      b.addr = w;
      b.len = 16;
      b.optional = true;
      auto id = planner.add_frame_block(b);
      if (!id)
        break;
      w.kind = Word::Kind::block;
      w.block = *id;
      w.offset = 0;
    }
  }
  std::vector<std::vector<Seg>> all_segs;
  all_segs.reserve(spec.vars.size());
  for (const auto* var : spec.vars) {
    if (plan.always_complete)
      break;
    if (spec.abi_function && var->is_result) {
      // Optimized code often has no location for a result at its RET: the loader then
      // reads the register ABI's registers, so capture what they point to as well.
      if (auto abi = abi_result_registers(*spec.abi_function, *var)) {
        auto& segs = all_segs.emplace_back();
        for (const auto& p : *abi) {
          Seg s;
          s.start = p.offset;
          s.size = p.size;
          s.kind = dwarf::Piece::Kind::reg;
          s.regno = p.regno;
          segs.push_back(s);
        }
        Loc loc;
        loc.segs = &segs;
        planner.walk(var->type, loc, 0);
      }
    }
    auto expr = var->location.at(spec.pc);
    if (!expr || expr->empty())
      continue;  // the loader reports it unreadable without reading anything
    bool unplannable = false;
    dwarf::ExprContext ctx;
    ctx.read_register = [&](unsigned regno) -> std::optional<std::uint64_t> {
      if (regno == 7)
        return kRsp;
      unplannable = true;
      return 0;
    };
    ctx.read_memory = [&](std::uint64_t, std::span<std::byte>) {
      unplannable = true;
      return false;
    };
    if (spec.cfa_offset) {
      ctx.cfa = kRsp + static_cast<std::uint64_t>(*spec.cfa_offset);
      ctx.frame_base = ctx.cfa;
    }
    ctx.static_base = bi.load_bias();
    std::vector<dwarf::Piece> pieces;
    try {
      pieces = dwarf::evaluate_location(*expr, ctx);
    } catch (const dwarf::Error&) {
      if (!spec.cfa_offset)
        planner.complete("a frame base not relative to rsp");
      continue;  // otherwise the loader fails the same way, reading nothing
    }
    if (unplannable) {
      planner.complete("a location that reads other registers or memory");
      break;
    }
    auto& segs = all_segs.emplace_back();
    std::uint64_t start = 0;
    const auto type_size = var->type ? var->type->resolved()->size : 0;
    for (const auto& p : pieces) {
      Seg s;
      s.start = start;
      s.size = p.size ? p.size : type_size;
      s.kind = p.kind;
      s.regno = p.regno;
      if (p.kind == dwarf::Piece::Kind::reg && spec.xmm_spilled && p.regno >= kDwarfXmm0 &&
          p.regno < kDwarfXmm0 + kSpilledXmm) {
        // Stored below rsp by the trampoline: read like a stack piece.
        s.kind = dwarf::Piece::Kind::memory;
        s.stack_off = -8 * static_cast<std::int64_t>(p.regno - kDwarfXmm0 + 1);
        segs.push_back(s);
        start += s.size;
        continue;
      }
      if (p.kind == dwarf::Piece::Kind::memory) {
        const auto off = static_cast<std::int64_t>(p.address - kRsp);
        if (off < -kStackReach || off > kStackReach) {
          planner.complete("a value outside the stack");
          break;
        }
        s.stack_off = off;
      }
      segs.push_back(s);
      start += s.size;
    }
    Loc loc;
    loc.segs = &segs;
    planner.walk(var->type, loc, 0);
  }
  return plan;
}

void layout(Plan& plan, std::uint32_t g_len) {
  auto align8 = [](std::uint64_t n) { return static_cast<std::uint32_t>((n + 7) & ~7ULL); };
  std::uint32_t off = kGOffset + align8(g_len);
  plan.stack_offset = off;
  off += align8(static_cast<std::uint64_t>(plan.stack_hi - plan.stack_lo));
  for (auto& b : plan.blocks) {
    b.record_offset = off;
    off += 24 + align8(b.max_bytes());
  }
  plan.size = off;
  if (plan.size > kMaxRecord) {
    // Keep the registers, the g and the stack: the completion reads the rest.
    plan.blocks.clear();
    plan.ifaces.clear();
    plan.always_complete = true;
    plan.why_complete = "values too large to copy";
    plan.size =
        plan.stack_offset + align8(static_cast<std::uint64_t>(plan.stack_hi - plan.stack_lo));
  }
}

std::vector<bpf::Insn> generate(std::span<const Plan* const> plans, const ProgramMaps& maps,
                                const GOffsets& g) {
  using bpf::Cond;
  using bpf::Helper;
  using bpf::Size;
  using enum bpf::Reg;
  // r6 ctx, r7 the record, r8 flags, r9 the cookie, then the record's size.
  bpf::Assembler a;
  const auto out = a.new_label(), emit = a.new_label();
  auto off16 = [](std::uint64_t v) { return static_cast<std::int16_t>(v); };
  auto flag = [&] { a.bor(R8, static_cast<std::int32_t>(kFlagComplete)); };
  auto flag_if = [&](Cond c, bpf::Reg r, std::int32_t imm) {
    auto skip = a.new_label();
    a.jcc(c, r, imm, skip);
    flag();
    a.bind(skip);
  };

  a.mov(R6, R1);
  a.st(Size::b32, R10, -4, 0);
  a.ld_map_fd(R1, maps.scratch_fd);
  a.mov(R2, R10);
  a.add(R2, -4);
  a.call(Helper::map_lookup_elem);
  a.jcc(Cond::eq, R0, 0, out);
  a.mov(R7, R0);
  a.mov(R8, 0);

  a.mov(R1, R6);
  a.call(Helper::get_attach_cookie);
  a.mov(R9, R0);
  a.stx(Size::b64, R7, 0, R0);
  a.call(Helper::ktime_get_ns);
  a.stx(Size::b64, R7, 8, R0);
  a.call(Helper::get_current_pid_tgid);
  a.stx(Size::b64, R7, 16, R0);
  for (std::int16_t i = 0; i < 21; ++i) {
    a.ldx(Size::b64, R1, R6, static_cast<std::int16_t>(i * 8));
    a.stx(Size::b64, R7, static_cast<std::int16_t>(32 + i * 8), R1);
  }

  // The goroutine: its id, stack bounds and guard. No g (goid 0: the system stack, or not
  // Go code) is resolved at a completion.
  a.mov(R1, R7);
  a.add(R1, static_cast<std::int32_t>(kGOffset));
  a.mov(R2, static_cast<std::int32_t>(g.len));
  a.ldx(Size::b64, R3, R6, bpf::pt_regs::r14);
  a.call(Helper::probe_read_user);
  flag_if(Cond::eq, R0, 0);
  a.ldx(Size::b64, R1, R7, off16(kGOffset + g.goid));
  flag_if(Cond::ne, R1, 0);

  // Dispatch on the plan (the cookie's high half).
  std::vector<bpf::Assembler::Label> bodies;
  a.mov(R1, R9);
  a.rsh(R1, 32);
  for (std::size_t p = 0; p < plans.size(); ++p) {
    bodies.push_back(a.new_label());
    a.jcc(Cond::eq, R1, static_cast<std::int32_t>(p), bodies.back());
  }
  a.jmp(out);

  for (std::size_t p = 0; p < plans.size(); ++p) {
    const Plan& plan = *plans[p];
    a.bind(bodies[p]);
    if (plan.skip_if_jbe_taken) {
      // The flags the jbe tests: CF (bit 0) or ZF (bit 6) set means it branches.
      a.ldx(Size::b64, R1, R6, bpf::pt_regs::eflags);
      a.band(R1, 0x41);
      a.jcc(Cond::ne, R1, 0, out);
    }
    if (plan.always_complete)
      flag();
    // The stack window.
    a.mov(R1, R7);
    a.add(R1, static_cast<std::int32_t>(plan.stack_offset));
    a.mov(R2, static_cast<std::int32_t>(plan.stack_hi - plan.stack_lo));
    a.ldx(Size::b64, R3, R6, bpf::pt_regs::rsp);
    a.add(R3, static_cast<std::int32_t>(plan.stack_lo));
    a.call(Helper::probe_read_user);
    flag_if(Cond::eq, R0, 0);

    auto load_word = [&](bpf::Reg dst, const Word& w) {
      switch (w.kind) {
        case Word::Kind::reg:
          a.ldx(Size::b64, dst, R6, w.reg);
          break;
        case Word::Kind::stack:
          a.ldx(Size::b64, dst, R7,
                off16(plan.stack_offset + static_cast<std::uint64_t>(w.offset - plan.stack_lo)));
          break;
        case Word::Kind::block:
          a.ldx(Size::b64, dst, R7,
                off16(plan.blocks[w.block].record_offset + 24 +
                      static_cast<std::uint64_t>(w.offset)));
          break;
      }
    };
    for (const auto& b : plan.blocks) {
      const auto skip = a.new_label();
      const auto ro = b.record_offset;
      a.st(Size::b64, R7, off16(ro + 16), -1);  // not read (yet)
      a.st(Size::b64, R7, off16(ro + 8), 0);
      // A block whose address or length comes from a block that was not read is not read.
      for (const Word* w : {&b.addr, b.count ? &*b.count : nullptr}) {
        if (w && w->kind == Word::Kind::block) {
          a.ldx(Size::b64, R1, R7, off16(plan.blocks[w->block].record_offset + 16));
          a.jcc(Cond::ne, R1, 0, skip);
        }
      }
      load_word(R3, b.addr);
      if (b.addr_add)
        a.add(R3, static_cast<std::int32_t>(b.addr_add));
      a.stx(Size::b64, R7, off16(ro), R3);
      if (b.count) {
        load_word(R2, *b.count);
        const auto clamped = a.new_label();
        a.jcc(Cond::le, R2, static_cast<std::int32_t>(b.max_count), clamped);
        a.mov(R2, static_cast<std::int32_t>(b.max_count));
        a.bind(clamped);
        if (b.elem_size != 1)
          a.mul(R2, static_cast<std::int32_t>(b.elem_size));
      } else {
        a.mov(R2, static_cast<std::int32_t>(b.len));
      }
      a.stx(Size::b64, R7, off16(ro + 8), R2);
      a.jcc(Cond::eq, R3, 0, skip);
      a.jcc(Cond::eq, R2, 0, skip);
      a.mov(R1, R7);
      a.add(R1, static_cast<std::int32_t>(ro + 24));
      a.call(Helper::probe_read_user);
      a.stx(Size::b64, R7, off16(ro + 16), R0);
      if (!b.optional)
        flag_if(Cond::eq, R0, 0);
      a.bind(skip);
    }

    for (const auto& c : plan.ifaces) {
      const auto done = a.new_label(), need = a.new_label(), indirect = a.new_label();
      const auto& tb = plan.blocks[c.type_block];
      a.ldx(Size::b64, R1, R7, off16(tb.record_offset + 16));
      a.jcc(Cond::ne, R1, 0, done);  // nil interface (or a failed read, already flagged)
      a.ldx(Size::b8, R1, R7, off16(tb.record_offset + 24 + kTypeKind));
      a.mov(R2, R1);
      a.band(R2, kKindDirectIface);
      a.jcc(Cond::eq, R2, 0, indirect);
      if (c.follow_pointers) {
        a.jmp(need);
      } else {
        a.band(R1, kKindMask);
        a.jcc(Cond::eq, R1, kKindPtr, done);
        a.jcc(Cond::eq, R1, kKindUnsafePointer, done);
        a.jmp(need);
      }
      a.bind(indirect);
      if (c.string_block) {
        const auto not_string = a.new_label();
        const auto& sb = plan.blocks[*c.string_block];
        a.band(R1, kKindMask);
        a.jcc(Cond::ne, R1, kKindString, not_string);
        a.ldx(Size::b64, R1, R7, off16(plan.blocks[*c.data_block].record_offset + 16));
        a.jcc(Cond::ne, R1, 0, need);
        // Read, or nothing to read (nil data or empty): the loader has what it needs.
        a.ldx(Size::b64, R1, R7, off16(sb.record_offset + 16));
        a.jcc(Cond::eq, R1, 0, done);
        a.ldx(Size::b64, R1, R7, off16(sb.record_offset));
        a.jcc(Cond::eq, R1, 0, done);
        a.ldx(Size::b64, R1, R7, off16(sb.record_offset + 8));
        a.jcc(Cond::eq, R1, 0, done);
        a.jmp(need);
        a.bind(not_string);
      }
      if (!c.data_block) {
        a.jmp(need);
      } else {
        a.ldx(Size::b64, R1, R7, off16(tb.record_offset + 24));  // size
        a.jcc(Cond::gt, R1, static_cast<std::int32_t>(kIfaceData), need);
        a.ldx(Size::b64, R1, R7, off16(tb.record_offset + 24 + 8));  // ptrdata
        a.jcc(Cond::ne, R1, 0, need);
        a.ldx(Size::b64, R1, R7, off16(plan.blocks[*c.data_block].record_offset + 16));
        a.jcc(Cond::ne, R1, 0, need);
        a.jmp(done);
      }
      a.bind(need);
      flag();
      a.bind(done);
    }
    a.mov(R9, static_cast<std::int32_t>(plan.size));
    a.jmp(emit);
  }

  a.bind(emit);
  // Back-pressure instead of loss: with the ring buffer three quarters full, the thread
  // stops (the same signal) until the tracer has drained it.
  {
    const auto roomy = a.new_label();
    a.ld_map_fd(R1, maps.ring_fd);
    a.mov(R2, bpf::kRingbufAvailData);
    a.call(Helper::ringbuf_query);
    a.jcc(Cond::lt, R0, static_cast<std::int32_t>(maps.ring_size / 4 * 3), roomy);
    a.bor(R8, static_cast<std::int32_t>(kFlagThrottle));
    a.bind(roomy);
  }
  a.stx(Size::b64, R7, 24, R8);
  const auto quiet = a.new_label(), output = a.new_label();
  a.jcc(Cond::eq, R8, 0, quiet);
  a.mov(R1, kCompletionSignal);
  a.call(Helper::send_signal_thread);
  a.mov(R8, bpf::kRingbufForceWakeup);
  a.jmp(output);
  a.bind(quiet);
  // Wake the consumer only when the buffer fills up; it also polls on a timer.
  a.ld_map_fd(R1, maps.ring_fd);
  a.mov(R2, bpf::kRingbufAvailData);
  a.call(Helper::ringbuf_query);
  a.mov(R8, bpf::kRingbufNoWakeup);
  a.jcc(Cond::lt, R0, static_cast<std::int32_t>(maps.ring_size / 8), output);
  a.mov(R8, bpf::kRingbufForceWakeup);
  a.bind(output);
  a.ld_map_fd(R1, maps.ring_fd);
  a.mov(R2, R7);
  a.mov(R3, R9);
  a.mov(R4, R8);
  a.call(Helper::ringbuf_output);
  a.jcc(Cond::eq, R0, 0, out);
  // Lost: count it, so the tracer can say so.
  a.st(Size::b32, R10, -4, 0);
  a.ld_map_fd(R1, maps.stats_fd);
  a.mov(R2, R10);
  a.add(R2, -4);
  a.call(Helper::map_lookup_elem);
  a.jcc(Cond::eq, R0, 0, out);
  a.ldx(Size::b64, R1, R0, 0);
  a.add(R1, 1);
  a.stx(Size::b64, R0, 0, R1);
  a.bind(out);
  a.mov(R0, 0);
  a.exit();
  return a.finish();
}

}  // namespace goscope::target::capture

// Delve 1.20.2's register texts, ported from pkg/proc/amd64_arch.go (amd64DwarfRegisterToString,
// formatSSEReg, formatX87Reg), pkg/proc/registers.go (flagRegisterDescr.Describe),
// pkg/proc/amd64util/xsave.go (Decode, AMD64XstateRead), pkg/proc/linutil/regs_amd64_arch.go
// (AMD64Registers.Slice) and service/api (ConvertRegisters, Registers.String).
#include "target/register_view.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>

#include "target/target.hpp"

namespace goscope::target {
namespace {

// DWARF numbers (pkg/dwarf/regnum/amd64.go).
constexpr int kRax = 0, kRdx = 1, kRcx = 2, kRbx = 3, kRsi = 4, kRdi = 5, kRbp = 6, kRsp = 7,
              kR8 = 8, kRip = 16, kXmm0 = 17, kSt0 = 33, kRflags = 49, kEs = 50, kCs = 51,
              kSs = 52, kDs = 53, kFs = 54, kGs = 55, kFsBase = 58, kGsBase = 59, kMxcsr = 64,
              kCw = 65, kSw = 66;

std::string hex64(std::uint64_t v) {  // Go's %#016x
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%016llx", static_cast<unsigned long long>(v));
  return buf;
}

struct FlagDescr {
  const char* name;
  std::uint64_t mask;
};

constexpr FlagDescr kEflags[] = {
    {"CF", 1u << 0},   {"", 1u << 1},    {"PF", 1u << 2},   {"AF", 1u << 4},
    {"ZF", 1u << 6},   {"SF", 1u << 7},  {"TF", 1u << 8},   {"IF", 1u << 9},
    {"DF", 1u << 10},  {"OF", 1u << 11}, {"IOPL", 3u << 12}, {"NT", 1u << 14},
    {"RF", 1u << 16},  {"VM", 1u << 17}, {"AC", 1u << 18},  {"VIF", 1u << 19},
    {"VIP", 1u << 20}, {"ID", 1u << 21},
};

constexpr FlagDescr kMxcsr_[] = {
    {"FZ", 1u << 15}, {"RZ/RN", 3u << 13}, {"PM", 1u << 12}, {"UM", 1u << 11},
    {"OM", 1u << 10}, {"ZM", 1u << 9},     {"DM", 1u << 8},  {"IM", 1u << 7},
    {"DAZ", 1u << 6}, {"PE", 1u << 5},     {"UE", 1u << 4},  {"OE", 1u << 3},
    {"ZE", 1u << 2},  {"DE", 1u << 1},     {"IE", 1u << 0},
};

/// Delve's flagRegisterDescr.Describe: "%#0*x\t[NAMES]" with bitsize/4 digits.
template <std::size_t N>
std::string describe(const FlagDescr (&descr)[N], std::uint64_t reg, int bitsize) {
  std::uint64_t all = 0;
  std::string names;
  auto add = [&](const std::string& s) {
    if (!names.empty())
      names += ' ';
    names += s;
  };
  char buf[64];
  for (const auto& f : descr) {
    all |= f.mask;
    if (f.name[0] == '\0')
      continue;
    const std::uint64_t rbm = f.mask & (~f.mask + 1);
    if (rbm == f.mask) {
      if ((reg & f.mask) != 0)
        add(f.name);
    } else {
      const auto x = (reg & f.mask) >> std::countr_zero(rbm);
      std::snprintf(buf, sizeof buf, "%s=%llx", f.name, static_cast<unsigned long long>(x));
      add(buf);
    }
  }
  if ((reg & ~all) != 0) {
    std::snprintf(buf, sizeof buf, "unknown_flags=%llx",
                  static_cast<unsigned long long>(reg & ~all));
    add(buf);
  }
  std::snprintf(buf, sizeof buf, "0x%0*llx\t[", bitsize / 4, static_cast<unsigned long long>(reg));
  return buf + names + "]";
}

template <typename F>
std::string format_g(F v) {
  if (std::isnan(v))
    return "NaN";
  if (std::isinf(v))
    return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  const std::string s(buf, r.ptr);  // shortest round-trip digits: "-d.ddde+XX"
  const bool neg = s[0] == '-';
  const auto epos = s.find('e');
  std::string digits;
  for (std::size_t i = neg ? 1 : 0; i < epos; ++i) {
    if (s[i] != '.')
      digits += s[i];
  }
  const int exp = std::stoi(s.substr(epos + 1));
  const int nd = static_cast<int>(digits.size());
  std::string out = neg ? "-" : "";
  if (exp < -4 || exp >= 6) {  // strconv's %g with the shortest precision: eprec = 6
    out += digits[0];
    if (nd > 1) {
      out += '.';
      out += digits.substr(1);
    }
    char e[16];
    std::snprintf(e, sizeof e, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    return out + e;
  }
  const int dp = exp + 1;
  if (dp > 0) {
    const int m = std::min(nd, dp);
    out += digits.substr(0, static_cast<std::size_t>(m));
    out.append(static_cast<std::size_t>(dp - m), '0');
  } else {
    out += '0';
  }
  const int prec = std::max(nd - dp, 0);
  if (prec > 0) {
    out += '.';
    for (int i = 1; i <= prec; ++i) {
      const int j = dp + i - 1;
      out += (j >= 0 && j < nd) ? digits[static_cast<std::size_t>(j)] : '0';
    }
  }
  return out;
}

/// formatSSERegInternal: the 16 bytes at b as one 128-bit number and as integer and float
/// vectors.
void sse_internal(const std::uint8_t* vi, std::string& out) {
  char buf[128];
  out += "0x";
  for (int i = 15; i >= 0; --i) {
    std::snprintf(buf, sizeof buf, "%02x", vi[i]);
    out += buf;
  }
  // Groups of `width` bytes, each printed most significant byte first.
  auto ints = [&](const char* label, int width) {
    out += '\t';
    out += label;
    out += "={";
    for (int g = 0; g < 16; g += width) {
      out += ' ';
      for (int i = g + width - 1; i >= g; --i) {
        std::snprintf(buf, sizeof buf, "%02x", vi[i]);
        out += buf;
      }
    }
    out += " }";
  };
  ints("v2_int", 8);
  ints("v4_int", 4);
  ints("v8_int", 2);
  ints("v16_int", 1);
  double d[2];
  std::memcpy(d, vi, sizeof d);
  out += "\tv2_float={ " + format_g(d[0]) + " " + format_g(d[1]) + " }";
  float f[4];
  std::memcpy(f, vi, sizeof f);
  out += "\tv4_float={ " + format_g(f[0]) + " " + format_g(f[1]) + " " + format_g(f[2]) + " " +
         format_g(f[3]) + " }";
}

/// formatSSEReg: 16, 32 (with the YMM upper half) or 64 bytes (with the ZMM upper halves).
std::string format_sse(const std::string& name, const std::uint8_t* b, std::size_t len) {
  std::string out;
  sse_internal(b, out);
  if (len < 32)
    return out;
  out += "\n\t[Y" + name.substr(1) + "h] ";
  sse_internal(b + 16, out);
  if (len < 64)
    return out;
  out += "\n\t[Z" + name.substr(1) + "hl] ";
  sse_internal(b + 32, out);
  out += "\n\t[Z" + name.substr(1) + "hh] ";
  sse_internal(b + 48, out);
  return out;
}

/// formatX87Reg, including its reading of exponents below the bias: Go computes
/// exponent-16383 in uint16, so every value in (-1, 1) other than 0 shows as ±Inf.
std::string format_x87(std::uint64_t mantissa, std::uint16_t exponent) {
  constexpr std::uint16_t kSign = 1u << 15, kBias = (1u << 14) - 1, kSpecial = (1u << 15) - 1;
  constexpr std::uint64_t kHigh = 1ull << 63;
  const double sign = (exponent & kSign) != 0 ? -1.0 : 1.0;
  exponent = static_cast<std::uint16_t>(exponent & ~kSign);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  double f = 0;
  bool fset = false;
  if (exponent == 0) {
    if (mantissa == 0) {
      f = sign * 0.0;
      fset = true;
    } else if ((mantissa & kHigh) != 0) {
      f = nan;
      fset = true;
    }
  } else if (exponent == kSpecial) {
    f = (mantissa & kHigh) == 0 ? sign * inf : nan;
    fset = true;
  } else if ((mantissa & kHigh) == 0) {
    f = nan;
    fset = true;
  }
  if (!fset) {
    const double significand = static_cast<double>(mantissa) / 9223372036854775808.0;  // 2^63
    f = sign * std::ldexp(significand, static_cast<std::uint16_t>(exponent - kBias));
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "0x%04x%016llx\t", exponent,
                static_cast<unsigned long long>(mantissa));
  return buf + format_g(f);
}

int canonical_rank(const std::string& name) {
  static constexpr const char* kOrder[] = {"Rip", "Rsp", "Rax", "Rbx", "Rcx", "Rdx"};
  for (int i = 0; i < 6; ++i) {
    if (name == kOrder[i])
      return i;
  }
  return 1000;
}

/// ConvertRegisters' order: Rip Rsp Rax Rbx Rcx Rdx, then DWARF number.
void sort_delve(std::vector<RegisterView>& regs) {
  std::sort(regs.begin(), regs.end(), [](const RegisterView& a, const RegisterView& b) {
    const int an = canonical_rank(a.name), bn = canonical_rank(b.name);
    if (an == bn)
      return a.dwarf < b.dwarf;
    return an < bn;
  });
}

}  // namespace

std::string go_format_g(double v) { return format_g(v); }
std::string go_format_g(float v) { return format_g(v); }

std::vector<RegisterView> thread_registers(const user_regs_struct& r, const user_fpregs_struct* fp,
                                           std::span<const std::byte> xsave) {
  std::vector<RegisterView> out = {
      {"Rax", hex64(r.rax), kRax},
      {"Rdx", hex64(r.rdx), kRdx},
      {"Rcx", hex64(r.rcx), kRcx},
      {"Rbx", hex64(r.rbx), kRbx},
      {"Rsi", hex64(r.rsi), kRsi},
      {"Rdi", hex64(r.rdi), kRdi},
      {"Rbp", hex64(r.rbp), kRbp},
      {"Rsp", hex64(r.rsp), kRsp},
      {"R8", hex64(r.r8), kR8},
      {"R9", hex64(r.r9), kR8 + 1},
      {"R10", hex64(r.r10), kR8 + 2},
      {"R11", hex64(r.r11), kR8 + 3},
      {"R12", hex64(r.r12), kR8 + 4},
      {"R13", hex64(r.r13), kR8 + 5},
      {"R14", hex64(r.r14), kR8 + 6},
      {"R15", hex64(r.r15), kR8 + 7},
      {"Rip", hex64(r.rip), kRip},
      {"Rflags", describe(kEflags, r.eflags, 64), kRflags},
      {"Es", hex64(r.es), kEs},
      {"Cs", hex64(r.cs), kCs},
      {"Ss", hex64(r.ss), kSs},
      {"Ds", hex64(r.ds), kDs},
      {"Fs", hex64(r.fs), kFs},
      {"Gs", hex64(r.gs), kGs},
      {"Fs_base", hex64(r.fs_base), kFsBase},
      {"Gs_base", hex64(r.gs_base), kGsBase},
  };
  if (fp != nullptr) {
    // AMD64XstateRead (readLegacy = false): the YMM and ZMM upper halves, if present.
    constexpr std::size_t kHeader = 512, kExtended = 576, kZmm = 1152;
    bool avx = false, avx512 = false;
    std::array<std::uint8_t, 256> ymm{};
    std::array<std::uint8_t, 512> zmm{};
    if (xsave.size() > kHeader + 64) {
      std::uint64_t xstate_bv = 0, xcomp_bv = 0;
      std::memcpy(&xstate_bv, xsave.data() + kHeader, 8);
      std::memcpy(&xcomp_bv, xsave.data() + kHeader + 8, 8);
      if ((xcomp_bv & (1ull << 63)) == 0 && (xstate_bv & (1u << 2)) != 0) {
        avx = true;
        std::memcpy(ymm.data(), xsave.data() + kExtended,
                    std::min(ymm.size(), xsave.size() - kExtended));
        if ((xstate_bv & (1u << 6)) != 0 && xsave.size() > kZmm) {
          avx512 = true;
          std::memcpy(zmm.data(), xsave.data() + kZmm, std::min(zmm.size(), xsave.size() - kZmm));
        }
      }
    }
    std::array<std::uint8_t, 256> xmm{};
    std::memcpy(xmm.data(), fp->xmm_space, xmm.size());
    for (int n = 0; n < 16; ++n) {
      std::array<std::uint8_t, 64> b{};
      std::size_t len = 16;
      std::memcpy(b.data(), xmm.data() + 16 * n, 16);
      if (avx) {
        std::memcpy(b.data() + 16, ymm.data() + 16 * n, 16);
        len = 32;
        if (avx512) {
          std::memcpy(b.data() + 32, zmm.data() + 32 * n, 32);
          len = 64;
        }
      }
      const std::string name = "XMM" + std::to_string(n);
      out.push_back({name, format_sse(name, b.data(), len), kXmm0 + n});
    }
    for (int i = 0; i < 8; ++i) {
      const auto* st = fp->st_space + 4 * i;
      const std::uint64_t mantissa = static_cast<std::uint64_t>(st[1]) << 32 | st[0];
      out.push_back({"ST(" + std::to_string(i) + ")",
                     format_x87(mantissa, static_cast<std::uint16_t>(st[2])), kSt0 + i});
    }
    char buf[16];
    out.push_back({"MXCSR", describe(kMxcsr_, fp->mxcsr, 32), kMxcsr});
    std::snprintf(buf, sizeof buf, "0x%04x", fp->cwd);
    out.push_back({"CW", buf, kCw});
    std::snprintf(buf, sizeof buf, "0x%04x", fp->swd);
    out.push_back({"SW", buf, kSw});
  }
  sort_delve(out);
  return out;
}

std::vector<RegisterView> frame_registers(std::uint64_t pc, std::uint64_t sp, std::uint64_t bp) {
  return {{"Rip", hex64(pc), kRip}, {"Rsp", hex64(sp), kRsp}, {"Rbp", hex64(bp), kRbp}};
}

std::vector<RegisterView> scope_registers(const Frame& f, const user_fpregs_struct* fp,
                                          std::span<const std::byte> xsave) {
  if (f.regs_complete)
    return thread_registers(f.regs.gp, fp, xsave);
  return frame_registers(f.current.pc, f.sp, f.bp);
}

std::string registers_text(const std::vector<RegisterView>& regs) {
  std::size_t width = 0;
  for (const auto& r : regs) width = std::max(width, r.name.size());
  std::string out;
  for (const auto& r : regs) {
    out.append(width - r.name.size(), ' ');
    out += r.name;
    out += " = ";
    out += r.value;
    out += '\n';
  }
  return out;
}

}  // namespace goscope::target

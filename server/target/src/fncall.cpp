#include "target/fncall.hpp"

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

#include "proc/registers.hpp"

namespace goscope::target {

unsigned long long* gp_register_slot(user_regs_struct& r, unsigned regno) {
  const proc::GpRegister* reg = proc::gp_register_by_dwarf(regno);
  return reg != nullptr ? &(r.*(reg->field)) : nullptr;
}

void scatter_value(std::span<const std::byte> value, const std::vector<dwarf::Piece>& pieces,
                   user_regs_struct& gp, user_fpregs_struct& fp, std::vector<MemoryWrite>& mem) {
  std::uint64_t off = 0;
  for (const auto& piece : pieces) {
    const std::uint64_t size = piece.size == 0 ? value.size() - off : piece.size;
    if (off + size > value.size())
      throw std::runtime_error("argument location larger than its value");
    const std::byte* src = value.data() + off;
    switch (piece.kind) {
      case dwarf::Piece::Kind::reg: {
        if (auto* slot = gp_register_slot(gp, piece.regno)) {
          if (size > 8)
            throw std::runtime_error("register piece larger than a register");
          *slot = 0;
          std::memcpy(slot, src, size);
        } else if (piece.regno >= 17 && piece.regno <= 32) {
          if (size > 16)
            throw std::runtime_error("register piece larger than a register");
          auto* x = reinterpret_cast<std::byte*>(&fp.xmm_space[(piece.regno - 17) * 4]);
          std::memset(x, 0, 16);
          std::memcpy(x, src, size);
        } else {
          throw std::runtime_error("unsupported register " + std::to_string(piece.regno) +
                                   " in argument location");
        }
        break;
      }
      case dwarf::Piece::Kind::memory:
        mem.push_back({piece.address, std::vector<std::byte>(src, src + size)});
        break;
      case dwarf::Piece::Kind::empty:
        break;  // an optimized-away part: nothing to write
      default:
        throw std::runtime_error("unsupported argument location");
    }
    off += size;
  }
}

std::uint64_t debug_call_frame_size(
    std::span<const std::pair<std::uint64_t, std::uint64_t>> sizes_aligns) {
  std::uint64_t size = 0;
  for (const auto& [sz, align] : sizes_aligns) {
    const std::uint64_t a = align == 0 ? 1 : align;
    size = (size + a - 1) / a * a + sz;
  }
  size = (size + 7) / 8 * 8;
  return size + (9 + 15) * 8;  // every integer and float argument register's bytes
}

}  // namespace goscope::target

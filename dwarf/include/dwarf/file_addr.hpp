#pragma once
#include <compare>
#include <cstdint>

namespace goscope::dwarf {

/// An address as written in the ELF/DWARF file (before any load bias).
class FileAddr {
 public:
  constexpr FileAddr() = default;
  constexpr explicit FileAddr(std::uint64_t value) : value_(value) {}
  constexpr std::uint64_t value() const { return value_; }
  constexpr FileAddr operator+(std::int64_t off) const {
    return FileAddr(value_ + static_cast<std::uint64_t>(off));
  }
  constexpr auto operator<=>(const FileAddr&) const = default;

 private:
  std::uint64_t value_ = 0;
};

}  // namespace goscope::dwarf

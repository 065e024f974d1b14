#pragma once
#include <compare>
#include <cstdint>
#include <functional>

namespace goscope::proc {

/// An address in the tracee's address space. Distinct from dwarf::FileAddr so that the
/// load bias is applied in exactly one place (target::BinaryInfo).
class VirtAddr {
 public:
  constexpr VirtAddr() = default;
  constexpr explicit VirtAddr(std::uint64_t value) : value_(value) {}
  constexpr std::uint64_t value() const { return value_; }
  constexpr VirtAddr operator+(std::int64_t off) const {
    return VirtAddr(value_ + static_cast<std::uint64_t>(off));
  }
  constexpr VirtAddr operator-(std::int64_t off) const {
    return VirtAddr(value_ - static_cast<std::uint64_t>(off));
  }
  constexpr std::int64_t operator-(VirtAddr other) const {
    return static_cast<std::int64_t>(value_ - other.value_);
  }
  constexpr auto operator<=>(const VirtAddr&) const = default;

 private:
  std::uint64_t value_ = 0;
};

}  // namespace goscope::proc

template <>
struct std::hash<goscope::proc::VirtAddr> {
  std::size_t operator()(goscope::proc::VirtAddr a) const noexcept {
    return std::hash<std::uint64_t>{}(a.value());
  }
};

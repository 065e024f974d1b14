#pragma once
// Private to the dwarf layer: bounds-checked little-endian reads over DWARF bytes.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "dwarf/error.hpp"

namespace goscope::dwarf {

/// Reads fixed-size and LEB128 values from a byte span; throws dwarf::Error when the data
/// ends early instead of reading past it.
class ByteReader {
 public:
  explicit ByteReader(std::span<const std::byte> data) : data_(data) {}

  bool at_end() const { return pos_ >= data_.size(); }
  std::size_t pos() const { return pos_; }
  std::size_t size() const { return data_.size(); }
  void seek(std::size_t pos) { pos_ = pos; }

  std::uint8_t u8() { return static_cast<std::uint8_t>(fixed(1)); }
  std::uint16_t u16() { return static_cast<std::uint16_t>(fixed(2)); }
  std::uint32_t u32() { return static_cast<std::uint32_t>(fixed(4)); }
  std::uint64_t u64() { return fixed(8); }

  std::uint64_t uleb() {
    std::uint64_t v = 0;
    unsigned shift = 0;
    while (true) {
      const auto b = u8();
      if (shift < 64) {
        v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      }
      shift += 7;
      if ((b & 0x80) == 0) {
        return v;
      }
    }
  }

  std::int64_t sleb() {
    std::uint64_t v = 0;
    unsigned shift = 0;
    std::uint8_t b = 0;
    do {
      b = u8();
      if (shift < 64) {
        v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      }
      shift += 7;
    } while ((b & 0x80) != 0);
    if (shift < 64 && (b & 0x40) != 0) {
      v |= ~std::uint64_t{0} << shift;
    }
    return static_cast<std::int64_t>(v);
  }

  std::span<const std::byte> bytes(std::uint64_t n) {
    need(n);
    auto s = data_.subspan(pos_, static_cast<std::size_t>(n));
    pos_ += static_cast<std::size_t>(n);
    return s;
  }

 private:
  void need(std::uint64_t n) const {
    if (pos_ > data_.size() || n > data_.size() - pos_) {
      Error::send("truncated DWARF data");
    }
  }

  std::uint64_t fixed(std::size_t n) {
    need(n);
    std::uint64_t v = 0;
    std::memcpy(&v, data_.data() + pos_, n);  // x86-64 and DWARF here are little-endian
    pos_ += n;
    return v;
  }

  std::span<const std::byte> data_;
  std::size_t pos_ = 0;
};

}  // namespace goscope::dwarf

#pragma once
// Go's reflect.Kind, the values Variable::kind holds, for code above the target that must
// not see DWARF's types (the values are dwarf::GoKind's; src/reflect_kind.cpp checks it).
#include <cstdint>

namespace goscope::target {

enum class ReflectKind : std::uint8_t {
  invalid = 0,
  bool_ = 1,
  int_ = 2,
  int8 = 3,
  int16 = 4,
  int32 = 5,
  int64 = 6,
  uint = 7,
  uint8 = 8,
  uint16 = 9,
  uint32 = 10,
  uint64 = 11,
  uintptr = 12,
  float32 = 13,
  float64 = 14,
  complex64 = 15,
  complex128 = 16,
  array = 17,
  chan = 18,
  func = 19,
  interface = 20,
  map = 21,
  ptr = 22,
  slice = 23,
  string = 24,
  struct_ = 25,
  unsafe_pointer = 26,
};

}  // namespace goscope::target

// ReflectKind is dwarf::GoKind for the layers above the target: the two cannot drift.
#include "target/reflect_kind.hpp"

#include "dwarf/types.hpp"

namespace goscope::target {
namespace {

constexpr bool same(ReflectKind a, dwarf::GoKind b) {
  return static_cast<unsigned>(a) == static_cast<unsigned>(b);
}

static_assert(same(ReflectKind::invalid, dwarf::GoKind::invalid));
static_assert(same(ReflectKind::bool_, dwarf::GoKind::bool_));
static_assert(same(ReflectKind::int_, dwarf::GoKind::int_));
static_assert(same(ReflectKind::int8, dwarf::GoKind::int8));
static_assert(same(ReflectKind::int16, dwarf::GoKind::int16));
static_assert(same(ReflectKind::int32, dwarf::GoKind::int32));
static_assert(same(ReflectKind::int64, dwarf::GoKind::int64));
static_assert(same(ReflectKind::uint, dwarf::GoKind::uint));
static_assert(same(ReflectKind::uint8, dwarf::GoKind::uint8));
static_assert(same(ReflectKind::uint16, dwarf::GoKind::uint16));
static_assert(same(ReflectKind::uint32, dwarf::GoKind::uint32));
static_assert(same(ReflectKind::uint64, dwarf::GoKind::uint64));
static_assert(same(ReflectKind::uintptr, dwarf::GoKind::uintptr));
static_assert(same(ReflectKind::float32, dwarf::GoKind::float32));
static_assert(same(ReflectKind::float64, dwarf::GoKind::float64));
static_assert(same(ReflectKind::complex64, dwarf::GoKind::complex64));
static_assert(same(ReflectKind::complex128, dwarf::GoKind::complex128));
static_assert(same(ReflectKind::array, dwarf::GoKind::array));
static_assert(same(ReflectKind::chan, dwarf::GoKind::chan));
static_assert(same(ReflectKind::func, dwarf::GoKind::func));
static_assert(same(ReflectKind::interface, dwarf::GoKind::interface));
static_assert(same(ReflectKind::map, dwarf::GoKind::map));
static_assert(same(ReflectKind::ptr, dwarf::GoKind::ptr));
static_assert(same(ReflectKind::slice, dwarf::GoKind::slice));
static_assert(same(ReflectKind::string, dwarf::GoKind::string));
static_assert(same(ReflectKind::struct_, dwarf::GoKind::struct_));
static_assert(same(ReflectKind::unsafe_pointer, dwarf::GoKind::unsafe_pointer));

}  // namespace
}  // namespace goscope::target

#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace goscope::dwarf {

/// Go's reflect.Kind numbering, which DW_AT_go_kind (0x2900) carries and which Delve's
/// api.Variable.kind exposes.
enum class GoKind : std::uint8_t {
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

struct Type;

struct Field {
  std::string name;
  std::uint64_t offset = 0;
  const Type* type = nullptr;
  bool embedded = false;
};

/// A Go type as DWARF describes it. Owned by DebugInfo; pointers stay valid for its lifetime
/// and may form cycles (a struct holding a pointer to itself).
///
/// Go's linker writes every named type twice: the real DIE and a bare DW_TAG_typedef of the
/// same name that other DIEs refer to. The bare typedef is transparent here (it yields the
/// real Type). Interfaces, maps and chans are DW_TAG_typedefs carrying DW_AT_go_kind: they
/// are modelled as the Go type itself (kind interface/map/chan, is_typedef false) with the
/// DWARF representation in `underlying` (runtime.iface/eface, *hash<K,V>, *hchan<T>);
/// interfaces also copy the representation's fields (tab/data or _type/data) and size.
struct Type {
  std::uint64_t die_offset = 0;
  std::string name;  ///< Go spelling: "int", "main.Point", "*main.Point", "[]int".
  GoKind kind = GoKind::invalid;
  std::uint64_t size = 0;   ///< DW_AT_byte_size
  bool is_typedef = false;  ///< DW_TAG_typedef (named types); `elem` is the underlying type
  /// ptr: pointee; slice/array/chan: element; map: value; typedef: underlying.
  const Type* elem = nullptr;
  const Type* key = nullptr;  ///< map key (DW_AT_go_key)
  std::uint64_t count = 0;    ///< array length
  std::vector<Field> fields;  ///< struct (also string/slice/interface/hmap internals)
  /// DW_AT_go_runtime_type as written: for Go 1.19 the offset of this type's runtime._type
  /// from runtime.types (moduledata.types); 0 when absent. DebugInfo::type_by_runtime_type
  /// maps addresses back to types.
  std::uint64_t runtime_type = 0;
  /// interface/map/chan: the representation DWARF gives (see above); nullptr otherwise.
  const Type* underlying = nullptr;
  /// base types: DW_AT_encoding (DW_ATE_signed, DW_ATE_float, ...), 0 when absent.
  std::uint8_t encoding = 0;
  /// A type parameter of a generic function's shape instantiation (Go writes a typedef
  /// ".param0" with DW_AT_go_dict_index): the index of its runtime type in the function's
  /// `.dict` argument; `elem` is the shape type (go.shape.int_0). -1 for every other type.
  std::int64_t dict_index = -1;

  /// Follows typedefs to the underlying type.
  const Type* resolved() const;
  const Field* field(const std::string& name) const;
};

}  // namespace goscope::dwarf

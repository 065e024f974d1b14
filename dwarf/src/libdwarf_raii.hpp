#pragma once
// Private to the dwarf layer: libdwarf's header and owning wrappers for its handles.
#include <memory>
#include <type_traits>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#pragma GCC diagnostic ignored "-Wold-style-cast"
#include <dwarf.h>
#include <libdwarf.h>
#pragma GCC diagnostic pop

namespace goscope::dwarf {

struct DieDeleter {
  void operator()(Dwarf_Die die) const { dwarf_dealloc_die(die); }
};
/// A DIE handle from dwarf_offdie_b/dwarf_child/dwarf_siblingof_b.
using DiePtr = std::unique_ptr<std::remove_pointer_t<Dwarf_Die>, DieDeleter>;

struct DebugDeleter {
  void operator()(Dwarf_Debug dbg) const {
    Dwarf_Error err = nullptr;
    dwarf_object_finish(dbg, &err);
  }
};
/// A libdwarf session opened with dwarf_object_init_b.
using DebugPtr = std::unique_ptr<std::remove_pointer_t<Dwarf_Debug>, DebugDeleter>;

struct LineContextDeleter {
  void operator()(Dwarf_Line_Context ctx) const { dwarf_srclines_dealloc_b(ctx); }
};
using LineContextPtr =
    std::unique_ptr<std::remove_pointer_t<Dwarf_Line_Context>, LineContextDeleter>;

/// The array dwarf_attrlist returns, freed with every attribute in it.
struct AttrList {
  explicit AttrList(Dwarf_Debug d) : dbg(d) {}
  ~AttrList() {
    if (attrs == nullptr) {
      return;
    }
    for (Dwarf_Signed i = 0; i < count; ++i) {
      dwarf_dealloc_attribute(attrs[i]);
    }
    dwarf_dealloc(dbg, attrs, DW_DLA_LIST);
  }
  AttrList(const AttrList&) = delete;
  AttrList& operator=(const AttrList&) = delete;

  Dwarf_Debug dbg;
  Dwarf_Attribute* attrs = nullptr;
  Dwarf_Signed count = 0;
};

}  // namespace goscope::dwarf

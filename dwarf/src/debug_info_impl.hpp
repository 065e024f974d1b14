#pragma once
// Private to the dwarf layer: DebugInfo::Impl, shared by the files that make up DebugInfo:
//   debug_info.cpp        compile units, the function index, the public API
//   debug_info_die.cpp    libdwarf access and reading one DIE's attributes
//   debug_info_vars.cpp   variables, parameters, inlined calls, location and range lists
//   debug_info_types.cpp  types, constants, runtime type lookup
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "dwarf/debug_info.hpp"
#include "libdwarf_raii.hpp"

namespace goscope::dwarf {

/// The parameters of a DIE with an abstract origin (an inlined call, the out-of-line copy
/// of an inlinable function): `params` starts with the origin's, in its order
/// (`described[i]`: whether one of the DIE's own children names origin parameter i), then
/// any the DIE adds. Delve lists only the DIE's own children: an origin parameter the
/// compiler did not describe in this instance (optimized away) is left out, not shown as
/// unreadable.
inline std::vector<Variable> drop_undescribed(std::vector<Variable> params,
                                              const std::vector<bool>& described) {
  std::vector<Variable> out;
  out.reserve(params.size());
  for (std::size_t i = 0; i < params.size(); ++i) {
    if (i >= described.size() || described[i])
      out.push_back(std::move(params[i]));
  }
  return out;
}

class ElfFile;
class DieReader;
struct RawUnit;
struct LineProgramHeader;

// Go's DWARF extensions (cmd/internal/dwarf).
inline constexpr Dwarf_Half kAtGoKind = 0x2900;
inline constexpr Dwarf_Half kAtGoKey = 0x2901;
inline constexpr Dwarf_Half kAtGoElem = 0x2902;
inline constexpr Dwarf_Half kAtGoEmbeddedField = 0x2903;
inline constexpr Dwarf_Half kAtGoRuntimeType = 0x2904;
inline constexpr Dwarf_Half kAtGoDictIndex = 0x2906;
inline constexpr std::uint64_t kLangGo =
    0x16;  // DW_LANG_Go  // a generic function's .paramN typedef

/// Where a DW_AT_location / DW_AT_frame_base points: an inline expression or an offset
/// into .debug_loc.
struct LocAttr {
  bool present = false;
  std::span<const std::byte> expr;
  std::optional<std::uint64_t> list_offset;
  bool list_is_index = false;  ///< DWARF 5 DW_FORM_loclistx: list_offset is an index
};

/// The attributes of one DIE that this layer uses, read in a single pass over
/// dwarf_attrlist (one libdwarf call per attribute instead of one lookup per name).
struct DieAttrs {
  Dwarf_Half tag = 0;
  std::string_view name;
  std::optional<std::uint64_t> low_pc, high_pc;
  bool high_pc_is_offset = false;
  std::optional<Dwarf_Off> type, abstract_origin, go_key, go_elem;
  std::optional<std::uint64_t> ranges, entry_pc, call_file, call_line;
  bool ranges_is_index = false;  ///< DWARF 5 DW_FORM_rnglistx
  std::optional<std::uint64_t> addr_base, loclists_base, rnglists_base;
  std::optional<std::uint64_t> byte_size, go_kind, go_runtime_type, member_offset, count,
      upper_bound, decl_file, decl_line, encoding, stmt_list, go_dict_index;
  bool variable_parameter = false;
  bool go_embedded = false;
  bool declaration = false;
  bool trampoline = false;  ///< DW_AT_trampoline (Go: wrappers such as go/defer closures)
  std::optional<std::int64_t> const_value;  ///< DW_AT_const_value (integer forms)
  std::string_view producer;
  std::string_view comp_dir;              ///< DW_AT_comp_dir (compile units)
  std::optional<std::uint64_t> language;  ///< DW_AT_language (compile units)
  LocAttr location, frame_base;
};

struct DebugInfo::Impl {
  struct CuInfo {
    Dwarf_Off offset = 0;
    unsigned version = 4;
    std::uint64_t base = 0;  // DW_AT_low_pc: base address of location lists
    std::uint64_t addr_base = 0, loclists_base = 0, rnglists_base = 0;  // DWARF 5
    bool optimized = false;
    const std::vector<std::uint32_t>* files = nullptr;
  };

  // Section copies first: libdwarf points into them for as long as `dbg` lives.
  struct Section {
    std::string name;
    std::vector<std::byte> data;
  };
  std::string path;
  std::vector<Section> sections;
  Dwarf_Obj_Access_Methods methods{};
  Dwarf_Obj_Access_Interface access{};
  DebugPtr dbg;

  std::vector<Function> functions;         // sorted by low_pc
  std::vector<CompileUnit> compile_units;  // in .debug_info order
  std::unordered_map<std::string_view, std::size_t> function_by_name;
  LineTable lines;
  FrameTable frames;

  // Each CU's file numbers (DW_AT_decl_file, line-table file register) mapped to indexes
  // into `files`.
  static constexpr std::uint32_t kNoFile = ~std::uint32_t{0};
  std::unordered_map<Dwarf_Off, std::vector<std::uint32_t>> cu_files;
  std::vector<std::string> files;
  std::unordered_map<std::string, std::uint32_t> file_index;

  std::span<const std::byte> debug_loc;
  std::span<const std::byte> debug_ranges;
  std::span<const std::byte> debug_loclists, debug_rnglists, debug_addr;  // DWARF 5 (C code)
  // The compile unit of each function, by DIE offset, for what is read after load.
  std::vector<CuInfo> cu_infos;                                  // in .debug_info order
  std::unordered_map<std::uint64_t, std::uint32_t> function_cu;  // -> index into cu_infos
  /// The compile unit of the function whose DIE is at `die_offset`; nullptr if unknown.
  const CuInfo* cu_of_function(std::uint64_t die_offset) const {
    auto it = function_cu.find(die_offset);
    return it == function_cu.end() ? nullptr : &cu_infos[it->second];
  }

  // Lazily built state, guarded by mu (libdwarf itself is not thread-safe either).
  mutable std::mutex mu;
  std::unordered_map<std::string_view, Dwarf_Off> type_by_name;
  std::unordered_map<std::string_view, Dwarf_Off> global_by_name;
  std::unordered_map<Dwarf_Off, const Type*> type_by_off;
  std::vector<std::unique_ptr<Type>> owned_types;
  std::unordered_map<Dwarf_Off, std::unique_ptr<Variable>> globals;
  // CU-level DW_TAG_constant entries, in DWARF order (type resolved on first use).
  struct RawConstant {
    std::string_view name;
    bool c_prefix = false;  // from a non-Go compile unit: Delve names it "C.<name>"
    Dwarf_Off type = 0;
    std::int64_t value = 0;
  };
  std::vector<RawConstant> raw_constants;
  bool constants_indexed = false;
  std::deque<Constant> constants;  // stable addresses
  std::unordered_map<const Type*, std::vector<const Constant*>> constants_by_type;
  std::unordered_map<std::string, const Constant*> constant_by_name;
  std::unordered_map<std::uint64_t, std::vector<Variable>> locals_by_function;
  bool inlined_indexed = false;
  std::vector<InlinedCall> inlined;  // filled once, then never resized
  std::unordered_map<std::string, std::vector<const InlinedCall*>> inlined_by_name;
  std::unordered_map<const Function*, std::vector<const InlinedCall*>> inlined_by_caller;
  std::optional<std::unordered_map<std::uint64_t, Dwarf_Off>> type_by_runtime;  // by address
  std::uint64_t types_base = 0;  // runtime.types: base of DW_AT_go_runtime_type offsets
  // Interfaces and other Go typedefs copy fields from their representation, which may still
  // be under construction inside a cycle; copies run once the outermost type_at returns.
  std::vector<std::pair<Type*, const Type*>> pending_copies;
  int type_depth = 0;

  // The load-time reader of .debug_info (DWARF 2-4 units; libdwarf reads the rest).
  std::unique_ptr<DieReader> reader;
  std::span<const std::byte> debug_line;

  explicit Impl(std::string p);
  ~Impl();

  [[noreturn]] void fail(Dwarf_Error err, const std::string& what) const;

  // ---- libdwarf object access: serve our (decompressed) section copies --------------------

  static Impl* self(void* obj) { return static_cast<Impl*>(obj); }

  static int get_section_info(void* obj, Dwarf_Half index, Dwarf_Obj_Access_Section* out,
                              int* /*error*/);
  static Dwarf_Endianness get_byte_order(void*) { return DW_OBJECT_LSB; }
  static Dwarf_Small get_length_size(void*) { return 4; }
  static Dwarf_Small get_pointer_size(void*) { return 8; }
  static Dwarf_Unsigned get_section_count(void* obj) { return self(obj)->sections.size() + 1; }
  static int load_section(void* obj, Dwarf_Half index, Dwarf_Small** data, int* /*error*/);
  void open(const ElfFile& elf);

  // ---- DIE access ----------------------------------------------------------------------------

  DiePtr offdie(Dwarf_Off off) const;
  DiePtr child(Dwarf_Die die) const;
  DiePtr sibling(Dwarf_Die die) const;
  Dwarf_Off die_offset(Dwarf_Die die) const;
  Dwarf_Half tag_of(Dwarf_Die die) const;
  std::string_view name_of(Dwarf_Die die) const;
  std::uint64_t udata(Dwarf_Attribute attr, Dwarf_Half form) const;
  Dwarf_Off ref(Dwarf_Attribute attr) const;
  bool flag(Dwarf_Attribute attr) const;
  std::string_view string(Dwarf_Attribute attr) const;
  LocAttr location(Dwarf_Attribute attr, Dwarf_Half form) const;
  DieAttrs attrs(Dwarf_Die die) const;

  // ---- locations -------------------------------------------------------------------------

  /// A location list: DWARF 4 .debug_loc or DWARF 5 .debug_loclists, read by walk_list
  /// (list_walker.hpp) and made absolute with the CU base address.
  std::vector<LocationDesc::Range> loclist(const LocAttr& loc, const CuInfo& cu) const;

  /// An address range list: DWARF 4 .debug_ranges or DWARF 5 .debug_rnglists, made absolute
  /// like loclist().
  std::vector<AddrRange> range_list(std::uint64_t offset, bool is_index, const CuInfo& cu) const;
  LocationDesc location_desc(const LocAttr& loc, const CuInfo& cu) const;

  // ---- types -----------------------------------------------------------------------------

  Type* new_type(Dwarf_Off off, const DieAttrs& a);
  static GoKind base_kind(const DieAttrs& a);

  /// The Type of the DIE at `off`, parsed on first use. Caller holds `mu`.
  const Type* type_at(Dwarf_Off off);
  void run_pending_copies();
  const Type* parse_type(Dwarf_Off off);

  // ---- load ------------------------------------------------------------------------------

  std::string decl_file_name(const CuInfo& cu, std::optional<std::uint64_t> index) const;
  std::uint32_t intern_file(const char* name);

  /// Registers the line program of a compile unit: its file names now (into `unit` and
  /// cu_files), its rows as a part of the lazy line table, decoded on first need.
  LineTable::Part line_part(const CuInfo& cu, std::uint64_t stmt_list, std::string_view comp_dir,
                            CompileUnit& unit);
  /// A compile unit's rows through libdwarf (DWARF 5 line programs).
  std::vector<LineRow> libdwarf_rows(Dwarf_Off cu_off);
  std::span<const std::byte> section(std::string_view name) const;
  /// The attributes of the DIE at `off`, by the fast reader where it can.
  DieAttrs attrs_at(Dwarf_Off off) const;
  /// Calls `f(offset, tag)` for each child of the DIE at `off`, in order, until it returns
  /// false.
  void for_each_child(Dwarf_Off off, const std::function<bool(Dwarf_Off, Dwarf_Half)>& f) const;
  /// The children of a compile unit, by the fast reader (`pos`: the first child).
  void walk_unit(const RawUnit& u, std::uint64_t pos, const CuInfo& cu, const DieAttrs& ca,
                 std::unordered_set<Dwarf_Off>& bare_typedefs);
  /// The same through libdwarf (DWARF 5 units).
  void walk_unit_libdwarf(Dwarf_Die cu_die, const CuInfo& cu, const DieAttrs& ca,
                          std::unordered_set<Dwarf_Off>& bare_typedefs);
  void add_type_name(std::string_view name, Dwarf_Off off, Dwarf_Half tag, bool go_kind,
                     std::unordered_set<Dwarf_Off>& bare_typedefs);
  /// load_function for the fast reader; `pos` is past the DIE's attributes and is moved past
  /// its children.
  void load_function_at(const RawUnit& u, Dwarf_Off off, std::uint64_t& pos, bool children,
                        const DieAttrs& a, const CuInfo& cu);
  /// The formal parameters of the DIE whose children start at `pos` (moved past them).
  std::vector<Variable> params_at(const RawUnit& u, std::uint64_t& pos, bool children,
                                  std::optional<Dwarf_Off> origin_off, const CuInfo& cu);
  /// Reads every line program once, on every core, for what the index needs from rows:
  /// each unit's first file and the line of each function's entry (Go 1.19 writes no
  /// DW_AT_decl_line on subprograms).
  /// Returns each part's first file (an index into `files`, kNoFile when none).
  std::vector<std::uint32_t> scan_lines(std::vector<LineTable::Part>& parts,
                                        const std::vector<std::uint32_t>& function_part);
  Variable make_variable(const DieAttrs& a, const CuInfo& cu);

  /// The formal parameters of a concrete subprogram or inlined call. With an abstract
  /// origin, names, types and order come from the origin and locations from `die`.
  std::vector<Variable> params_of(Dwarf_Die die, std::optional<Dwarf_Off> origin_off,
                                  const CuInfo& cu);
  void load_function(Dwarf_Die die, const DieAttrs& a, const CuInfo& cu);

  // ---- inlined calls ---------------------------------------------------------------------

  void collect_inlined(Dwarf_Die parent, const Function& caller, unsigned depth, const CuInfo& cu,
                       std::vector<InlinedCall>& out);
  void index_inlined();
  static bool producer_optimized(std::string_view producer);
  void load();
  bool has_attr(Dwarf_Die die, Dwarf_Half at) const;

  /// Appends the variables under `parent`, descending into lexical blocks (not into
  /// inlined calls, whose variables belong to the inlined function).
  void collect_locals(Dwarf_Die parent, const std::vector<AddrRange>& scope, unsigned depth,
                      const CuInfo& cu, std::vector<Variable>& out);
  const std::vector<Variable>& locals(const Function& fn);
  const Variable* global(std::string_view name);
  void index_constants();

  /// Maps a runtime._type file address to its Type. DW_AT_go_runtime_type is an offset
  /// from runtime.types, except for the odd DIE where Go's linker wrote the address itself.
  const Type* type_by_runtime_type(std::uint64_t addr);
};

}  // namespace goscope::dwarf

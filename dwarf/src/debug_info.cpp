#include "dwarf/debug_info.hpp"

#include <elf.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <mutex>
#include <unordered_map>

#include "dwarf/elf_file.hpp"
#include "dwarf/error.hpp"
#include "leb128.hpp"
#include "libdwarf_raii.hpp"

namespace goscope::dwarf {

bool Variable::in_scope(FileAddr pc) const {
  return scope.empty() || std::any_of(scope.begin(), scope.end(),
                                      [pc](const AddrRange& r) { return r.contains(pc); });
}

std::optional<std::span<const std::byte>> LocationDesc::at(FileAddr pc) const {
  if (!is_list) {
    return std::span<const std::byte>(expr);
  }
  for (const Range& r : ranges) {
    if (r.low <= pc && pc < r.high) {
      return std::span<const std::byte>(r.expr);
    }
  }
  return std::nullopt;
}

namespace {

// Go's DWARF extensions (cmd/internal/dwarf).
constexpr Dwarf_Half kAtGoKind = 0x2900;
constexpr Dwarf_Half kAtGoKey = 0x2901;
constexpr Dwarf_Half kAtGoElem = 0x2902;
constexpr Dwarf_Half kAtGoEmbeddedField = 0x2903;
constexpr Dwarf_Half kAtGoRuntimeType = 0x2904;
constexpr Dwarf_Half kAtGoDictIndex = 0x2906;
constexpr std::uint64_t kLangGo = 0x16;  // DW_LANG_Go  // a generic function's .paramN typedef

bool is_type_tag(Dwarf_Half tag) {
  switch (tag) {
    case DW_TAG_base_type:
    case DW_TAG_pointer_type:
    case DW_TAG_structure_type:
    case DW_TAG_array_type:
    case DW_TAG_typedef:
    case DW_TAG_subroutine_type:
    case DW_TAG_unspecified_type:
    case DW_TAG_interface_type:
      return true;
    default:
      return false;
  }
}

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

}  // namespace

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
  std::unordered_map<std::uint64_t, CuInfo> function_cu;

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

  explicit Impl(std::string p) : path(std::move(p)) {}

  [[noreturn]] void fail(Dwarf_Error err, const std::string& what) const {
    std::string msg = path + ": " + what;
    if (err != nullptr) {
      msg += ": ";
      msg += dwarf_errmsg(err);
      dwarf_dealloc_error(dbg.get(), err);
    }
    Error::send(msg);
  }

  // ---- libdwarf object access: serve our (decompressed) section copies --------------------

  static Impl* self(void* obj) { return static_cast<Impl*>(obj); }

  static int get_section_info(void* obj, Dwarf_Half index, Dwarf_Obj_Access_Section* out,
                              int* /*error*/) {
    const Impl* impl = self(obj);
    *out = Dwarf_Obj_Access_Section{};
    if (index == 0) {
      out->name = "";  // libdwarf expects ELF's null section at index 0
      return DW_DLV_OK;
    }
    if (index > impl->sections.size()) {
      return DW_DLV_NO_ENTRY;
    }
    const Section& s = impl->sections[index - 1];
    out->type = SHT_PROGBITS;
    out->size = s.data.size();
    out->name = s.name.c_str();
    return DW_DLV_OK;
  }
  static Dwarf_Endianness get_byte_order(void*) { return DW_OBJECT_LSB; }
  static Dwarf_Small get_length_size(void*) { return 4; }
  static Dwarf_Small get_pointer_size(void*) { return 8; }
  static Dwarf_Unsigned get_section_count(void* obj) { return self(obj)->sections.size() + 1; }
  static int load_section(void* obj, Dwarf_Half index, Dwarf_Small** data, int* /*error*/) {
    Impl* impl = self(obj);
    if (index == 0 || index > impl->sections.size()) {
      return DW_DLV_NO_ENTRY;
    }
    *data = reinterpret_cast<Dwarf_Small*>(impl->sections[index - 1].data.data());
    return DW_DLV_OK;
  }

  void open(const ElfFile& elf) {
    for (const std::string& name : elf.section_names()) {
      std::string canonical;
      if (name.starts_with(".debug_")) {
        canonical = name;
      } else if (name.starts_with(".zdebug_")) {
        canonical = "." + name.substr(2);
      } else {
        continue;
      }
      auto data = elf.section_data(canonical);
      if (!data || data->empty()) {
        continue;
      }
      if (std::any_of(sections.begin(), sections.end(),
                      [&](const Section& s) { return s.name == canonical; })) {
        continue;
      }
      sections.push_back(Section{canonical, {data->begin(), data->end()}});
    }
    const bool has_info = std::any_of(sections.begin(), sections.end(),
                                      [](const Section& s) { return s.name == ".debug_info"; });
    if (!has_info) {
      Error::send(path + ": no DWARF debug info (stripped binary?)");
    }
    for (const Section& s : sections) {
      if (s.name == ".debug_loc") {
        debug_loc = s.data;
      } else if (s.name == ".debug_ranges") {
        debug_ranges = s.data;
      } else if (s.name == ".debug_loclists") {
        debug_loclists = s.data;
      } else if (s.name == ".debug_rnglists") {
        debug_rnglists = s.data;
      } else if (s.name == ".debug_addr") {
        debug_addr = s.data;
      } else if (s.name == ".debug_frame") {
        frames = FrameTable::parse(s.data);
      }
    }
    methods.get_section_info = &Impl::get_section_info;
    methods.get_byte_order = &Impl::get_byte_order;
    methods.get_length_size = &Impl::get_length_size;
    methods.get_pointer_size = &Impl::get_pointer_size;
    methods.get_section_count = &Impl::get_section_count;
    methods.load_section = &Impl::load_section;
    methods.relocate_a_section = nullptr;  // executables carry no relocations to apply
    access.object = this;
    access.methods = &methods;
    Dwarf_Debug raw = nullptr;
    Dwarf_Error err = nullptr;
    const int rc = dwarf_object_init_b(&access, nullptr, nullptr, DW_GROUPNUMBER_ANY, &raw, &err);
    if (rc == DW_DLV_NO_ENTRY) {
      Error::send(path + ": no DWARF debug info (stripped binary?)");
    }
    if (rc != DW_DLV_OK) {
      std::string msg = path + ": cannot read DWARF";
      if (err != nullptr) {
        msg += std::string(": ") + dwarf_errmsg(err);
      }
      Error::send(msg);
    }
    dbg.reset(raw);
  }

  // ---- DIE access ----------------------------------------------------------------------------

  DiePtr offdie(Dwarf_Off off) const {
    Dwarf_Die die = nullptr;
    Dwarf_Error err = nullptr;
    if (dwarf_offdie_b(dbg.get(), off, true, &die, &err) != DW_DLV_OK) {
      fail(err, "bad DIE offset " + std::to_string(off));
    }
    return DiePtr(die);
  }

  DiePtr child(Dwarf_Die die) const {
    Dwarf_Die c = nullptr;
    Dwarf_Error err = nullptr;
    const int rc = dwarf_child(die, &c, &err);
    if (rc == DW_DLV_ERROR) {
      fail(err, "dwarf_child");
    }
    return DiePtr(rc == DW_DLV_OK ? c : nullptr);
  }

  DiePtr sibling(Dwarf_Die die) const {
    Dwarf_Die s = nullptr;
    Dwarf_Error err = nullptr;
    const int rc = dwarf_siblingof_b(dbg.get(), die, true, &s, &err);
    if (rc == DW_DLV_ERROR) {
      fail(err, "dwarf_siblingof");
    }
    return DiePtr(rc == DW_DLV_OK ? s : nullptr);
  }

  Dwarf_Off die_offset(Dwarf_Die die) const {
    Dwarf_Off off = 0;
    Dwarf_Error err = nullptr;
    if (dwarf_dieoffset(die, &off, &err) != DW_DLV_OK) {
      fail(err, "dwarf_dieoffset");
    }
    return off;
  }

  Dwarf_Half tag_of(Dwarf_Die die) const {
    Dwarf_Half tag = 0;
    Dwarf_Error err = nullptr;
    if (dwarf_tag(die, &tag, &err) != DW_DLV_OK) {
      fail(err, "dwarf_tag");
    }
    return tag;
  }

  std::string_view name_of(Dwarf_Die die) const {
    char* name = nullptr;
    Dwarf_Error err = nullptr;
    const int rc = dwarf_diename(die, &name, &err);
    if (rc == DW_DLV_ERROR) {
      fail(err, "dwarf_diename");
    }
    return rc == DW_DLV_OK && name != nullptr ? std::string_view(name) : std::string_view();
  }

  std::uint64_t udata(Dwarf_Attribute attr, Dwarf_Half form) const {
    Dwarf_Error err = nullptr;
    if (form == DW_FORM_sdata || form == DW_FORM_implicit_const) {
      Dwarf_Signed v = 0;
      if (dwarf_formsdata(attr, &v, &err) != DW_DLV_OK) {
        fail(err, "dwarf_formsdata");
      }
      return static_cast<std::uint64_t>(v);
    }
    Dwarf_Unsigned v = 0;
    if (dwarf_formudata(attr, &v, &err) != DW_DLV_OK) {
      fail(err, "dwarf_formudata");
    }
    return v;
  }

  Dwarf_Off ref(Dwarf_Attribute attr) const {
    Dwarf_Off off = 0;
    Dwarf_Error err = nullptr;
    if (dwarf_global_formref(attr, &off, &err) != DW_DLV_OK) {
      fail(err, "dwarf_global_formref");
    }
    return off;
  }

  bool flag(Dwarf_Attribute attr) const {
    Dwarf_Bool v = 0;
    Dwarf_Error err = nullptr;
    if (dwarf_formflag(attr, &v, &err) != DW_DLV_OK) {
      fail(err, "dwarf_formflag");
    }
    return v != 0;
  }

  std::string_view string(Dwarf_Attribute attr) const {
    char* s = nullptr;
    Dwarf_Error err = nullptr;
    if (dwarf_formstring(attr, &s, &err) != DW_DLV_OK) {
      fail(err, "dwarf_formstring");
    }
    return s != nullptr ? std::string_view(s) : std::string_view();
  }

  LocAttr location(Dwarf_Attribute attr, Dwarf_Half form) const {
    LocAttr loc;
    loc.present = true;
    Dwarf_Error err = nullptr;
    switch (form) {
      case DW_FORM_exprloc: {
        Dwarf_Unsigned len = 0;
        Dwarf_Ptr ptr = nullptr;
        if (dwarf_formexprloc(attr, &len, &ptr, &err) != DW_DLV_OK) {
          fail(err, "dwarf_formexprloc");
        }
        loc.expr = {static_cast<const std::byte*>(ptr), static_cast<std::size_t>(len)};
        break;
      }
      case DW_FORM_block1:
      case DW_FORM_block2:
      case DW_FORM_block4:
      case DW_FORM_block: {
        Dwarf_Block* block = nullptr;
        if (dwarf_formblock(attr, &block, &err) != DW_DLV_OK) {
          fail(err, "dwarf_formblock");
        }
        // bl_data points into .debug_info, which we own; only the descriptor is freed.
        loc.expr = {static_cast<const std::byte*>(block->bl_data),
                    static_cast<std::size_t>(block->bl_len)};
        dwarf_dealloc(dbg.get(), block, DW_DLA_BLOCK);
        break;
      }
      case DW_FORM_sec_offset:
        loc.list_offset = ref(attr);
        break;
      case DW_FORM_data4:
      case DW_FORM_data8:
        loc.list_offset = udata(attr, form);
        break;
      case DW_FORM_loclistx:
        loc.list_offset = udata(attr, form);
        loc.list_is_index = true;
        break;
      default:
        break;
    }
    return loc;
  }

  DieAttrs attrs(Dwarf_Die die) const {
    DieAttrs a;
    a.tag = tag_of(die);
    AttrList list(dbg.get());
    Dwarf_Error err = nullptr;
    const int rc = dwarf_attrlist(die, &list.attrs, &list.count, &err);
    if (rc == DW_DLV_ERROR) {
      fail(err, "dwarf_attrlist");
    }
    for (Dwarf_Signed i = 0; i < list.count; ++i) {
      Dwarf_Attribute attr = list.attrs[i];
      Dwarf_Half at = 0;
      Dwarf_Half form = 0;
      if (dwarf_whatattr(attr, &at, &err) != DW_DLV_OK) {
        fail(err, "dwarf_whatattr");
      }
      if (dwarf_whatform(attr, &form, &err) != DW_DLV_OK) {
        fail(err, "dwarf_whatform");
      }
      switch (at) {
        case DW_AT_name:
          a.name = string(attr);
          break;
        case DW_AT_producer:
          a.producer = string(attr);
          break;
        case DW_AT_comp_dir:
          a.comp_dir = string(attr);
          break;
        case DW_AT_language:
          a.language = udata(attr, form);
          break;
        case DW_AT_low_pc: {
          Dwarf_Addr v = 0;
          if (dwarf_formaddr(attr, &v, &err) != DW_DLV_OK) {
            fail(err, "dwarf_formaddr");
          }
          a.low_pc = v;
          break;
        }
        case DW_AT_high_pc:
          if (form == DW_FORM_addr) {
            Dwarf_Addr v = 0;
            if (dwarf_formaddr(attr, &v, &err) != DW_DLV_OK) {
              fail(err, "dwarf_formaddr");
            }
            a.high_pc = v;
          } else {
            a.high_pc = udata(attr, form);  // DWARF 4+: an offset from low_pc
            a.high_pc_is_offset = true;
          }
          break;
        case DW_AT_type:
          a.type = ref(attr);
          break;
        case DW_AT_abstract_origin:
          a.abstract_origin = ref(attr);
          break;
        case kAtGoKey:
          a.go_key = ref(attr);
          break;
        case kAtGoElem:
          a.go_elem = ref(attr);
          break;
        case DW_AT_byte_size:
          a.byte_size = udata(attr, form);
          break;
        case kAtGoKind:
          a.go_kind = udata(attr, form);
          break;
        case kAtGoRuntimeType:
          if (form == DW_FORM_addr) {
            Dwarf_Addr v = 0;
            if (dwarf_formaddr(attr, &v, &err) != DW_DLV_OK) {
              fail(err, "dwarf_formaddr");
            }
            a.go_runtime_type = v;
          } else {
            a.go_runtime_type = udata(attr, form);
          }
          break;
        case kAtGoDictIndex:
          a.go_dict_index = udata(attr, form);
          break;
        case kAtGoEmbeddedField:
          a.go_embedded = flag(attr);
          break;
        case DW_AT_data_member_location:
          if (form == DW_FORM_exprloc || form == DW_FORM_block1) {
            // DWARF 2 style: DW_OP_plus_uconst <offset>
            auto loc = location(attr, form);
            ByteReader r(loc.expr);
            if (!loc.expr.empty() && r.u8() == DW_OP_plus_uconst) {
              a.member_offset = r.uleb();
            }
          } else {
            a.member_offset = udata(attr, form);
          }
          break;
        case DW_AT_count:
          a.count = udata(attr, form);
          break;
        case DW_AT_upper_bound:
          a.upper_bound = udata(attr, form);
          break;
        case DW_AT_decl_file:
          a.decl_file = udata(attr, form);
          break;
        case DW_AT_decl_line:
          a.decl_line = udata(attr, form);
          break;
        case DW_AT_encoding:
          a.encoding = udata(attr, form);
          break;
        case DW_AT_stmt_list:
          a.stmt_list = 0;
          break;
        case DW_AT_variable_parameter:
          a.variable_parameter = flag(attr);
          break;
        case DW_AT_declaration:
          a.declaration = flag(attr);
          break;
        case DW_AT_trampoline:
          a.trampoline = flag(attr);
          break;
        case DW_AT_location:
          a.location = location(attr, form);
          break;
        case DW_AT_frame_base:
          a.frame_base = location(attr, form);
          break;
        case DW_AT_const_value:
          if (form == DW_FORM_sdata || form == DW_FORM_udata || form == DW_FORM_data1 ||
              form == DW_FORM_data2 || form == DW_FORM_data4 || form == DW_FORM_data8 ||
              form == DW_FORM_implicit_const) {
            a.const_value = static_cast<std::int64_t>(udata(attr, form));
          }
          break;
        case DW_AT_call_file:
          a.call_file = udata(attr, form);
          break;
        case DW_AT_call_line:
          a.call_line = udata(attr, form);
          break;
        case DW_AT_entry_pc:
          if (form == DW_FORM_addr) {
            Dwarf_Addr v = 0;
            if (dwarf_formaddr(attr, &v, &err) != DW_DLV_OK) {
              fail(err, "dwarf_formaddr");
            }
            a.entry_pc = v;
          }
          break;
        case DW_AT_ranges:
          a.ranges = form == DW_FORM_sec_offset ? ref(attr) : udata(attr, form);
          a.ranges_is_index = form == DW_FORM_rnglistx;
          break;
        case DW_AT_addr_base:
          a.addr_base = form == DW_FORM_sec_offset ? ref(attr) : udata(attr, form);
          break;
        case DW_AT_loclists_base:
          a.loclists_base = form == DW_FORM_sec_offset ? ref(attr) : udata(attr, form);
          break;
        case DW_AT_rnglists_base:
          a.rnglists_base = form == DW_FORM_sec_offset ? ref(attr) : udata(attr, form);
          break;
        default:
          break;
      }
    }
    if (a.high_pc && a.high_pc_is_offset && a.low_pc) {
      a.high_pc = *a.low_pc + *a.high_pc;
      a.high_pc_is_offset = false;
    }
    return a;
  }

  // ---- locations -------------------------------------------------------------------------

  /// Entry `index` of .debug_addr for the CU (DWARF 5 DW_FORM_addrx and friends).
  std::uint64_t addrx(const CuInfo& cu, std::uint64_t index) const {
    ByteReader r(debug_addr);
    r.seek(static_cast<std::size_t>(cu.addr_base + index * 8));
    return r.u64();
  }

  /// Resolves a DWARF 5 loclistx/rnglistx index through the offset table at `base`.
  static std::uint64_t list_index(std::span<const std::byte> sec, std::uint64_t base,
                                  std::uint64_t index) {
    ByteReader r(sec);
    r.seek(static_cast<std::size_t>(base + index * 4));
    return base + r.u32();
  }

  /// A location list: DWARF 4 .debug_loc or DWARF 5 .debug_loclists. Entries are made
  /// absolute using the CU base address and any base-address entries.
  std::vector<LocationDesc::Range> loclist(const LocAttr& loc, const CuInfo& cu) const {
    std::vector<LocationDesc::Range> out;
    std::uint64_t base = cu.base;
    auto add = [&](std::uint64_t low, std::uint64_t high, std::span<const std::byte> expr) {
      out.push_back(LocationDesc::Range{FileAddr(low), FileAddr(high), {expr.begin(), expr.end()}});
    };
    if (cu.version < 5) {
      const std::uint64_t offset = *loc.list_offset;
      if (offset >= debug_loc.size()) {
        Error::send(path + ": location list offset " + std::to_string(offset) +
                    " outside .debug_loc");
      }
      ByteReader r(debug_loc);
      r.seek(static_cast<std::size_t>(offset));
      while (true) {
        const auto begin = r.u64();
        const auto end = r.u64();
        if (begin == 0 && end == 0) {
          break;
        }
        if (begin == ~std::uint64_t{0}) {
          base = end;
          continue;
        }
        const auto len = r.u16();
        add(base + begin, base + end, r.bytes(len));
      }
      return out;
    }
    const std::uint64_t offset =
        loc.list_is_index ? list_index(debug_loclists, cu.loclists_base, *loc.list_offset)
                          : *loc.list_offset;
    ByteReader r(debug_loclists);
    r.seek(static_cast<std::size_t>(offset));
    while (true) {
      switch (r.u8()) {
        case DW_LLE_end_of_list:
          return out;
        case DW_LLE_base_addressx:
          base = addrx(cu, r.uleb());
          break;
        case DW_LLE_startx_endx: {
          const auto low = addrx(cu, r.uleb());
          const auto high = addrx(cu, r.uleb());
          add(low, high, r.bytes(r.uleb()));
          break;
        }
        case DW_LLE_startx_length: {
          const auto low = addrx(cu, r.uleb());
          const auto len = r.uleb();
          add(low, low + len, r.bytes(r.uleb()));
          break;
        }
        case DW_LLE_offset_pair: {
          const auto low = r.uleb();
          const auto high = r.uleb();
          add(base + low, base + high, r.bytes(r.uleb()));
          break;
        }
        case DW_LLE_default_location:
          add(0, ~std::uint64_t{0}, r.bytes(r.uleb()));
          break;
        case DW_LLE_base_address:
          base = r.u64();
          break;
        case DW_LLE_start_end: {
          const auto low = r.u64();
          const auto high = r.u64();
          add(low, high, r.bytes(r.uleb()));
          break;
        }
        case DW_LLE_start_length: {
          const auto low = r.u64();
          const auto len = r.uleb();
          add(low, low + len, r.bytes(r.uleb()));
          break;
        }
        case 0x09:  // DW_LLE_GNU_view_pair: view numbers only, no location
          r.uleb();
          r.uleb();
          break;
        default:
          Error::send(path + ": unknown location list entry");
      }
    }
  }

  /// An address range list: DWARF 4 .debug_ranges or DWARF 5 .debug_rnglists, made absolute
  /// like loclist().
  std::vector<AddrRange> range_list(std::uint64_t offset, bool is_index, const CuInfo& cu) const {
    std::vector<AddrRange> out;
    std::uint64_t base = cu.base;
    auto add = [&](std::uint64_t low, std::uint64_t high) {
      out.push_back(AddrRange{FileAddr(low), FileAddr(high)});
    };
    if (cu.version < 5) {
      if (offset >= debug_ranges.size()) {
        Error::send(path + ": range list offset " + std::to_string(offset) +
                    " outside .debug_ranges");
      }
      ByteReader r(debug_ranges);
      r.seek(static_cast<std::size_t>(offset));
      while (true) {
        const auto begin = r.u64();
        const auto end = r.u64();
        if (begin == 0 && end == 0) {
          break;
        }
        if (begin == ~std::uint64_t{0}) {
          base = end;
          continue;
        }
        add(base + begin, base + end);
      }
      return out;
    }
    if (is_index) {
      offset = list_index(debug_rnglists, cu.rnglists_base, offset);
    }
    ByteReader r(debug_rnglists);
    r.seek(static_cast<std::size_t>(offset));
    while (true) {
      switch (r.u8()) {
        case DW_RLE_end_of_list:
          return out;
        case DW_RLE_base_addressx:
          base = addrx(cu, r.uleb());
          break;
        case DW_RLE_startx_endx: {
          const auto low = addrx(cu, r.uleb());
          add(low, addrx(cu, r.uleb()));
          break;
        }
        case DW_RLE_startx_length: {
          const auto low = addrx(cu, r.uleb());
          add(low, low + r.uleb());
          break;
        }
        case DW_RLE_offset_pair: {
          const auto low = r.uleb();
          add(base + low, base + r.uleb());
          break;
        }
        case DW_RLE_base_address:
          base = r.u64();
          break;
        case DW_RLE_start_end: {
          const auto low = r.u64();
          add(low, r.u64());
          break;
        }
        case DW_RLE_start_length: {
          const auto low = r.u64();
          add(low, low + r.uleb());
          break;
        }
        default:
          Error::send(path + ": unknown range list entry");
      }
    }
  }

  LocationDesc location_desc(const LocAttr& loc, const CuInfo& cu) const {
    LocationDesc d;
    d.present = loc.present;
    if (loc.list_offset) {
      d.is_list = true;
      d.list_offset = *loc.list_offset;
      d.ranges = loclist(loc, cu);
    } else {
      d.expr.assign(loc.expr.begin(), loc.expr.end());
    }
    return d;
  }

  // ---- types -----------------------------------------------------------------------------

  Type* new_type(Dwarf_Off off, const DieAttrs& a) {
    owned_types.push_back(std::make_unique<Type>());
    Type* t = owned_types.back().get();
    t->die_offset = off;
    t->name = std::string(a.name);
    t->size = a.byte_size.value_or(0);
    t->runtime_type = a.go_runtime_type.value_or(0);
    t->encoding = static_cast<std::uint8_t>(a.encoding.value_or(0));
    if (a.go_kind && *a.go_kind != 0 &&
        *a.go_kind <= static_cast<std::uint64_t>(GoKind::unsafe_pointer)) {
      t->kind = static_cast<GoKind>(*a.go_kind);
    }
    type_by_off[off] = t;
    return t;
  }

  static GoKind base_kind(const DieAttrs& a) {
    const auto size = a.byte_size.value_or(0);
    switch (a.encoding.value_or(0)) {
      case DW_ATE_boolean:
        return GoKind::bool_;
      case DW_ATE_float:
        return size == 4 ? GoKind::float32 : GoKind::float64;
      case DW_ATE_complex_float:
        return size == 8 ? GoKind::complex64 : GoKind::complex128;
      case DW_ATE_signed:
      case DW_ATE_signed_char:
        return size == 1   ? GoKind::int8
               : size == 2 ? GoKind::int16
               : size == 4 ? GoKind::int32
                           : GoKind::int64;
      case DW_ATE_unsigned:
      case DW_ATE_unsigned_char:
        return size == 1   ? GoKind::uint8
               : size == 2 ? GoKind::uint16
               : size == 4 ? GoKind::uint32
                           : GoKind::uint64;
      default:
        return GoKind::invalid;
    }
  }

  /// The Type of the DIE at `off`, parsed on first use. Caller holds `mu`.
  const Type* type_at(Dwarf_Off off) {
    if (auto it = type_by_off.find(off); it != type_by_off.end()) {
      return it->second;
    }
    ++type_depth;
    struct DepthGuard {
      Impl* impl;
      ~DepthGuard() {
        if (--impl->type_depth == 0) {
          impl->pending_copies.clear();
        }
      }
    } guard{this};
    const Type* t = parse_type(off);
    if (type_depth == 1) {
      run_pending_copies();
    }
    return t;
  }

  void run_pending_copies() {
    // Copies can enqueue nothing new (they only read finished types), one pass suffices.
    for (auto& [dst, src] : pending_copies) {
      const Type* rep = src->resolved();
      if (dst->kind == GoKind::interface || dst->fields.empty()) {
        dst->fields = rep->fields;
      }
      if (dst->size == 0) {
        dst->size = rep->size;
      }
      if (dst->kind != GoKind::map && dst->kind != GoKind::chan && dst->elem == nullptr) {
        dst->elem = rep->elem;
      }
      if (dst->count == 0) {
        dst->count = rep->count;
      }
    }
    pending_copies.clear();
  }

  const Type* parse_type(Dwarf_Off off) {
    DiePtr die = offdie(off);
    const DieAttrs a = attrs(die.get());
    switch (a.tag) {
      case DW_TAG_typedef: {
        if (!a.go_kind || *a.go_kind == 0) {
          if (!a.type) {
            Type* t = new_type(off, a);
            return t;
          }
          const Type* target = type_at(*a.type);
          if (auto it = type_by_off.find(off); it != type_by_off.end()) {
            return it->second;  // reached through a cycle while parsing the target
          }
          if (target->name == a.name) {
            type_by_off[off] = target;  // Go's bare typedef: the real DIE stands for it
            return target;
          }
          Type* t = new_type(off, a);
          t->is_typedef = true;
          t->elem = target;
          t->kind = target->resolved()->kind;
          t->size = target->size;
          if (a.go_dict_index) {
            t->dict_index = static_cast<std::int64_t>(*a.go_dict_index);
          }
          return t;
        }
        Type* t = new_type(off, a);
        if (a.type) {
          t->underlying = type_at(*a.type);
        }
        if (a.go_key) {
          t->key = type_at(*a.go_key);
        }
        if (a.go_elem) {
          t->elem = type_at(*a.go_elem);
        }
        if (t->kind == GoKind::map || t->kind == GoKind::chan || t->kind == GoKind::func ||
            t->kind == GoKind::ptr || t->kind == GoKind::unsafe_pointer) {
          t->size = 8;
        }
        if (t->underlying != nullptr) {
          pending_copies.emplace_back(t, t->underlying);
        }
        return t;
      }
      case DW_TAG_base_type: {
        Type* t = new_type(off, a);
        if (t->kind == GoKind::invalid) {
          t->kind = base_kind(a);
        }
        return t;
      }
      case DW_TAG_pointer_type: {
        Type* t = new_type(off, a);
        t->size = 8;
        if (!a.type) {
          t->kind = GoKind::unsafe_pointer;
          if (t->name.empty()) {
            t->name = "unsafe.Pointer";  // C's void*
          }
          return t;
        }
        t->kind = GoKind::ptr;
        t->elem = type_at(*a.type);
        if (t->name.empty()) {
          t->name = "*" + t->elem->name;  // C pointers are unnamed; Go spells them so
        }
        return t;
      }
      case DW_TAG_const_type:
      case DW_TAG_volatile_type:
      case DW_TAG_restrict_type:
      case DW_TAG_atomic_type: {
        // C qualifiers change nothing a debugger reads; `const void` has no target.
        if (!a.type) {
          Type* t = new_type(off, a);
          t->name = "void";
          return t;
        }
        const Type* target = type_at(*a.type);
        type_by_off.emplace(off, target);
        return target;
      }
      case DW_TAG_unspecified_type: {
        Type* t = new_type(off, a);
        t->kind = GoKind::unsafe_pointer;
        return t;
      }
      case DW_TAG_subroutine_type: {
        Type* t = new_type(off, a);
        t->kind = GoKind::func;
        t->size = a.byte_size.value_or(8);
        return t;
      }
      case DW_TAG_array_type: {
        Type* t = new_type(off, a);
        t->kind = GoKind::array;
        for (DiePtr c = child(die.get()); c; c = sibling(c.get())) {
          if (tag_of(c.get()) == DW_TAG_subrange_type) {
            const DieAttrs sub = attrs(c.get());
            if (sub.count) {
              t->count = *sub.count;
            } else if (sub.upper_bound) {
              t->count = *sub.upper_bound + 1;
            }
            break;
          }
        }
        if (a.type) {
          t->elem = type_at(*a.type);
          if (t->name.empty()) {
            t->name = "[" + std::to_string(t->count) + "]" + t->elem->name;
          }
          if (t->size == 0) {
            t->size = t->count * t->elem->size;
          }
        }
        return t;
      }
      case DW_TAG_structure_type:
      case DW_TAG_union_type:
      case DW_TAG_interface_type: {
        Type* t = new_type(off, a);
        if (t->kind == GoKind::invalid) {
          t->kind = a.tag == DW_TAG_interface_type ? GoKind::interface : GoKind::struct_;
        }
        for (DiePtr c = child(die.get()); c; c = sibling(c.get())) {
          if (tag_of(c.get()) != DW_TAG_member) {
            continue;
          }
          const DieAttrs m = attrs(c.get());
          Field f;
          f.name = std::string(m.name);
          f.offset = m.member_offset.value_or(0);
          f.embedded = m.go_embedded;
          if (m.type) {
            f.type = type_at(*m.type);
          }
          t->fields.push_back(std::move(f));
        }
        if (a.go_elem) {
          t->elem = type_at(*a.go_elem);
        } else if (t->kind == GoKind::slice) {
          if (const Field* arr = t->field("array"); arr && arr->type) {
            t->elem = arr->type->elem;
          }
        }
        return t;
      }
      default: {
        Type* t = new_type(off, a);
        if (a.type) {
          t->elem = type_at(*a.type);
        }
        return t;
      }
    }
  }

  // ---- load ------------------------------------------------------------------------------

  std::string decl_file_name(const CuInfo& cu, std::optional<std::uint64_t> index) const {
    if (!index || cu.files == nullptr || *index >= cu.files->size() ||
        (*cu.files)[*index] == kNoFile) {
      return {};
    }
    return files[(*cu.files)[*index]];
  }

  std::uint32_t intern_file(const char* name) {
    auto [it, inserted] = file_index.emplace(name, static_cast<std::uint32_t>(files.size()));
    if (inserted) {
      files.emplace_back(name);
    }
    return it->second;
  }

  /// Reads the line table of a CU into `rows` and records its file names and the file of
  /// its first row in `unit`.
  void load_cu_lines(Dwarf_Die cu_die, Dwarf_Off cu_off, unsigned cu_version,
                     std::vector<LineRow>& rows, CompileUnit& unit) {
    Dwarf_Error err = nullptr;
    auto& map = cu_files[cu_off];
    if (cu_version < 5) {
      map.push_back(kNoFile);  // DWARF 2-4 number files from 1; DWARF 5 from 0
    }
    char** names = nullptr;
    Dwarf_Signed name_count = 0;
    int rc = dwarf_srcfiles(cu_die, &names, &name_count, &err);
    if (rc == DW_DLV_ERROR) {
      fail(err, "dwarf_srcfiles");
    }
    if (rc == DW_DLV_OK) {
      for (Dwarf_Signed i = 0; i < name_count; ++i) {
        // libdwarf joins Go's comp_dir "." to its pseudo-files: "./<autogenerated>" is
        // "<autogenerated>" to Go and Delve.
        std::string_view name = names[i];
        if (name.starts_with("./<"))
          name.remove_prefix(2);
        map.push_back(intern_file(std::string(name).c_str()));
        unit.files.emplace_back(name);
        dwarf_dealloc(dbg.get(), names[i], DW_DLA_STRING);
      }
      dwarf_dealloc(dbg.get(), names, DW_DLA_LIST);
    }

    Dwarf_Unsigned version = 0;
    Dwarf_Small table_count = 0;
    Dwarf_Line_Context raw_ctx = nullptr;
    rc = dwarf_srclines_b(cu_die, &version, &table_count, &raw_ctx, &err);
    if (rc == DW_DLV_ERROR) {
      fail(err, "dwarf_srclines_b");
    }
    if (rc != DW_DLV_OK) {
      return;
    }
    LineContextPtr ctx(raw_ctx);
    Dwarf_Line* line_buf = nullptr;
    Dwarf_Signed count = 0;
    if (dwarf_srclines_from_linecontext(ctx.get(), &line_buf, &count, &err) != DW_DLV_OK) {
      fail(err, "dwarf_srclines_from_linecontext");
    }
    rows.reserve(rows.size() + static_cast<std::size_t>(count));
    const std::size_t first_row = rows.size();
    for (Dwarf_Signed i = 0; i < count; ++i) {
      Dwarf_Line l = line_buf[i];
      Dwarf_Addr addr = 0;
      Dwarf_Unsigned lineno = 0;
      Dwarf_Unsigned fileno = 0;
      Dwarf_Bool stmt = 0;
      Dwarf_Bool end = 0;
      Dwarf_Bool pe = 0;
      Dwarf_Bool eb = 0;
      Dwarf_Unsigned isa = 0;
      Dwarf_Unsigned disc = 0;
      if (dwarf_lineaddr(l, &addr, &err) != DW_DLV_OK ||
          dwarf_lineno(l, &lineno, &err) != DW_DLV_OK ||
          dwarf_line_srcfileno(l, &fileno, &err) != DW_DLV_OK ||
          dwarf_linebeginstatement(l, &stmt, &err) != DW_DLV_OK ||
          dwarf_lineendsequence(l, &end, &err) != DW_DLV_OK ||
          dwarf_prologue_end_etc(l, &pe, &eb, &isa, &disc, &err) != DW_DLV_OK) {
        fail(err, "reading line table");
      }
      LineRow row;
      row.addr = FileAddr(addr);
      row.line = static_cast<std::uint32_t>(lineno);
      row.file = fileno < map.size() ? map[fileno] : kNoFile;
      row.is_stmt = stmt != 0;
      row.prologue_end = pe != 0;
      row.end_sequence = end != 0;
      rows.push_back(row);
    }
    // Delve's DebugLineInfo.FirstFile: the file register of the program's first row.
    if (rows.size() > first_row && rows[first_row].file != kNoFile) {
      unit.first_file = files[rows[first_row].file];
    }
  }

  Variable make_variable(const DieAttrs& a, const CuInfo& cu) {
    Variable v;
    v.name = std::string(a.name);
    if (a.type) {
      v.type = type_at(*a.type);
    }
    v.location = location_desc(a.location, cu);
    v.is_parameter = a.tag == DW_TAG_formal_parameter;
    v.is_result = v.is_parameter && a.variable_parameter;
    v.decl_line = static_cast<std::uint32_t>(a.decl_line.value_or(0));
    return v;
  }

  /// The formal parameters of a concrete subprogram or inlined call. With an abstract
  /// origin, names, types and order come from the origin and locations from `die`.
  std::vector<Variable> params_of(Dwarf_Die die, std::optional<Dwarf_Off> origin_off,
                                  const CuInfo& cu) {
    std::vector<Variable> params;
    std::unordered_map<Dwarf_Off, std::size_t> param_by_origin;
    if (origin_off) {
      DiePtr origin = offdie(*origin_off);
      for (DiePtr c = child(origin.get()); c; c = sibling(c.get())) {
        if (tag_of(c.get()) != DW_TAG_formal_parameter) {
          continue;
        }
        const DieAttrs pa = attrs(c.get());
        param_by_origin.emplace(die_offset(c.get()), params.size());
        params.push_back(make_variable(pa, cu));
      }
    }
    for (DiePtr c = child(die); c; c = sibling(c.get())) {
      if (tag_of(c.get()) != DW_TAG_formal_parameter) {
        continue;
      }
      const DieAttrs pa = attrs(c.get());
      if (pa.abstract_origin) {
        if (auto it = param_by_origin.find(*pa.abstract_origin); it != param_by_origin.end()) {
          params[it->second].location = location_desc(pa.location, cu);
          continue;
        }
        DiePtr po = offdie(*pa.abstract_origin);
        DieAttrs merged = attrs(po.get());
        merged.location = pa.location;
        params.push_back(make_variable(merged, cu));
        continue;
      }
      params.push_back(make_variable(pa, cu));
    }
    return params;
  }

  void load_function(Dwarf_Die die, const DieAttrs& a, const CuInfo& cu) {
    Function fn;
    fn.die_offset = die_offset(die);
    fn.low_pc = FileAddr(*a.low_pc);
    fn.high_pc = FileAddr(a.high_pc.value_or(*a.low_pc));
    fn.optimized = cu.optimized;
    fn.trampoline = a.trampoline;
    fn.frame_base = location_desc(a.frame_base, cu);
    if (a.abstract_origin) {
      // An out-of-line copy of an inlined function names nothing itself.
      DiePtr origin = offdie(*a.abstract_origin);
      const DieAttrs oa = attrs(origin.get());
      fn.name = std::string(oa.name);
      fn.decl_file = decl_file_name(cu, oa.decl_file);
      fn.decl_line = static_cast<std::uint32_t>(oa.decl_line.value_or(0));
    } else {
      fn.name = std::string(a.name);
      fn.decl_file = decl_file_name(cu, a.decl_file);
      fn.decl_line = static_cast<std::uint32_t>(a.decl_line.value_or(0));
    }
    fn.params = params_of(die, a.abstract_origin, cu);
    function_cu.emplace(fn.die_offset, cu);
    functions.push_back(std::move(fn));
  }

  // ---- inlined calls ---------------------------------------------------------------------

  void collect_inlined(Dwarf_Die parent, const Function& caller, unsigned depth, const CuInfo& cu,
                       std::vector<InlinedCall>& out) {
    for (DiePtr c = child(parent); c; c = sibling(c.get())) {
      const Dwarf_Half tag = tag_of(c.get());
      if (tag == DW_TAG_lexical_block) {
        collect_inlined(c.get(), caller, depth, cu, out);
        continue;
      }
      if (tag != DW_TAG_inlined_subroutine) {
        continue;
      }
      const DieAttrs a = attrs(c.get());
      InlinedCall call;
      call.die_offset = die_offset(c.get());
      call.caller = &caller;
      call.depth = depth;
      if (a.abstract_origin) {
        DiePtr origin = offdie(*a.abstract_origin);
        call.name = std::string(name_of(origin.get()));
      }
      if (a.ranges) {
        call.ranges = range_list(*a.ranges, a.ranges_is_index, cu);
      } else if (a.low_pc) {
        call.ranges.push_back(
            AddrRange{FileAddr(*a.low_pc), FileAddr(a.high_pc.value_or(*a.low_pc))});
      }
      call.entry = a.entry_pc            ? FileAddr(*a.entry_pc)
                   : call.ranges.empty() ? FileAddr()
                                         : call.ranges.front().low;
      call.call_file = decl_file_name(cu, a.call_file);
      call.call_line = static_cast<std::uint32_t>(a.call_line.value_or(0));
      call.params = params_of(c.get(), a.abstract_origin, cu);
      out.push_back(std::move(call));
      collect_inlined(c.get(), caller, depth + 1, cu, out);
    }
  }

  void index_inlined() {
    if (inlined_indexed) {
      return;
    }
    std::vector<InlinedCall> calls;
    for (const Function& fn : functions) {
      const auto it = function_cu.find(fn.die_offset);
      if (it == function_cu.end() || !it->second.optimized) {
        continue;  // -N -l code inlines nothing
      }
      DiePtr die = offdie(fn.die_offset);
      collect_inlined(die.get(), fn, 0, it->second, calls);
    }
    inlined = std::move(calls);
    for (const InlinedCall& call : inlined) {
      inlined_by_name[call.name].push_back(&call);
      inlined_by_caller[call.caller].push_back(&call);
    }
    inlined_indexed = true;
  }

  static bool producer_optimized(std::string_view producer) {
    // Mirrors Delve: Go records its flags after ';' ("go1.19.8; -N -l regabi").
    const auto semi = producer.find(';');
    if (semi == std::string_view::npos) {
      return producer.starts_with("Go cmd/compile");
    }
    const auto flags = producer.substr(semi);
    return flags.find("-N") == std::string_view::npos || flags.find("-l") == std::string_view::npos;
  }

  void load() {
    std::vector<LineRow> rows;
    Dwarf_Error err = nullptr;
    while (true) {
      Dwarf_Unsigned header_length = 0;
      Dwarf_Half version = 0;
      Dwarf_Off abbrev_offset = 0;
      Dwarf_Half address_size = 0;
      Dwarf_Half offset_size = 0;
      Dwarf_Half extension_size = 0;
      Dwarf_Sig8 signature{};
      Dwarf_Unsigned type_offset = 0;
      Dwarf_Unsigned next_cu = 0;
      Dwarf_Half cu_type = 0;
      const int rc = dwarf_next_cu_header_d(
          dbg.get(), true, &header_length, &version, &abbrev_offset, &address_size, &offset_size,
          &extension_size, &signature, &type_offset, &next_cu, &cu_type, &err);
      if (rc == DW_DLV_ERROR) {
        fail(err, "reading compile unit header");
      }
      if (rc == DW_DLV_NO_ENTRY) {
        break;
      }
      DiePtr cu_die = sibling(nullptr);
      if (!cu_die) {
        continue;
      }
      const DieAttrs ca = attrs(cu_die.get());
      CuInfo cu;
      cu.offset = die_offset(cu_die.get());
      cu.version = version;
      cu.base = ca.low_pc.value_or(0);
      cu.addr_base = ca.addr_base.value_or(0);
      cu.loclists_base = ca.loclists_base.value_or(0);
      cu.rnglists_base = ca.rnglists_base.value_or(0);
      cu.optimized = producer_optimized(ca.producer);
      CompileUnit& unit = compile_units.emplace_back();
      unit.offset = cu.offset;
      unit.name = std::string(ca.name);
      unit.comp_dir = std::string(ca.comp_dir);
      unit.is_go = ca.language == kLangGo;
      unit.has_lines = ca.stmt_list.has_value();
      if (ca.stmt_list) {
        load_cu_lines(cu_die.get(), cu.offset, cu.version, rows, unit);
      }
      cu.files = &cu_files[cu.offset];

      for (DiePtr d = child(cu_die.get()); d; d = sibling(d.get())) {
        const Dwarf_Half tag = tag_of(d.get());
        if (tag == DW_TAG_subprogram) {
          const DieAttrs a = attrs(d.get());
          if (a.low_pc && !a.declaration) {
            load_function(d.get(), a, cu);
          }
        } else if (tag == DW_TAG_variable) {
          const auto name = name_of(d.get());
          if (!name.empty()) {
            global_by_name.emplace(name, die_offset(d.get()));
          }
        } else if (tag == DW_TAG_constant) {
          // Delve's loadDebugInfoMaps: name, type and an integer value, all required.
          const DieAttrs a = attrs(d.get());
          if (!a.name.empty() && a.type && a.const_value) {
            raw_constants.push_back(
                RawConstant{a.name, !ca.producer.starts_with("Go "), *a.type, *a.const_value});
          }
        } else if (is_type_tag(tag)) {
          const auto name = name_of(d.get());
          if (name.empty()) {
            continue;
          }
          const Dwarf_Off off = die_offset(d.get());
          auto [it, inserted] = type_by_name.emplace(name, off);
          if (!inserted && tag != DW_TAG_typedef) {
            // Prefer the real DIE over Go's bare same-name typedef that precedes it.
            DiePtr prev = offdie(it->second);
            if (tag_of(prev.get()) == DW_TAG_typedef && !has_attr(prev.get(), kAtGoKind)) {
              it->second = off;
            }
          }
        }
      }
    }
    lines = LineTable(std::move(rows), files);

    std::sort(functions.begin(), functions.end(),
              [](const Function& x, const Function& y) { return x.low_pc < y.low_pc; });
    function_by_name.reserve(functions.size());
    for (std::size_t i = 0; i < functions.size(); ++i) {
      Function& fn = functions[i];
      if (fn.decl_line == 0) {
        // Go 1.19 writes no DW_AT_decl_line on subprograms; the row at the entry is the
        // line of `func`.
        if (auto loc = lines.find(fn.low_pc)) {
          fn.decl_line = loc->line;
          if (fn.decl_file.empty()) {
            fn.decl_file = loc->file;
          }
        }
      }
      function_by_name.emplace(fn.name, i);
    }
  }

  bool has_attr(Dwarf_Die die, Dwarf_Half at) const {
    Dwarf_Bool v = 0;
    Dwarf_Error err = nullptr;
    if (dwarf_hasattr(die, at, &v, &err) == DW_DLV_ERROR) {
      fail(err, "dwarf_hasattr");
    }
    return v != 0;
  }

  /// Appends the variables under `parent`, descending into lexical blocks (not into
  /// inlined calls, whose variables belong to the inlined function).
  void collect_locals(Dwarf_Die parent, const std::vector<AddrRange>& scope, unsigned depth,
                      const CuInfo& cu, std::vector<Variable>& out) {
    for (DiePtr c = child(parent); c; c = sibling(c.get())) {
      const Dwarf_Half tag = tag_of(c.get());
      if (tag == DW_TAG_variable) {
        DieAttrs a = attrs(c.get());
        if (a.abstract_origin) {
          DiePtr origin = offdie(*a.abstract_origin);
          DieAttrs merged = attrs(origin.get());
          merged.location = a.location;
          a = merged;
        }
        Variable v = make_variable(a, cu);
        v.scope = scope;
        v.depth = depth;
        out.push_back(std::move(v));
      } else if (tag == DW_TAG_lexical_block) {
        const DieAttrs b = attrs(c.get());
        std::vector<AddrRange> inner;
        if (b.ranges) {
          inner = range_list(*b.ranges, b.ranges_is_index, cu);
        } else if (b.low_pc) {
          inner.push_back(AddrRange{FileAddr(*b.low_pc), FileAddr(b.high_pc.value_or(*b.low_pc))});
        } else {
          inner = scope;
        }
        collect_locals(c.get(), inner, depth + 1, cu, out);
      }
    }
  }

  const std::vector<Variable>& locals(const Function& fn) {
    if (auto it = locals_by_function.find(fn.die_offset); it != locals_by_function.end()) {
      return it->second;
    }
    CuInfo cu;
    if (auto it = function_cu.find(fn.die_offset); it != function_cu.end()) {
      cu = it->second;
    }
    std::vector<Variable> out;
    DiePtr die = offdie(fn.die_offset);
    collect_locals(die.get(), {}, 0, cu, out);
    return locals_by_function.emplace(fn.die_offset, std::move(out)).first->second;
  }

  const Variable* global(std::string_view name) {
    auto it = global_by_name.find(name);
    if (it == global_by_name.end()) {
      return nullptr;
    }
    if (auto g = globals.find(it->second); g != globals.end()) {
      return g->second.get();
    }
    DiePtr die = offdie(it->second);
    const DieAttrs a = attrs(die.get());
    if (!a.location.present) {
      return nullptr;
    }
    CuInfo cu;  // globals use DW_OP_addr, never location lists
    auto v = std::make_unique<Variable>(make_variable(a, cu));
    const Variable* out = v.get();
    globals.emplace(it->second, std::move(v));
    return out;
  }

  void index_constants() {
    if (constants_indexed) {
      return;
    }
    constants_indexed = true;
    for (const RawConstant& rc : raw_constants) {
      Constant c;
      c.name = rc.c_prefix ? "C." + std::string(rc.name) : std::string(rc.name);
      c.type = type_at(rc.type);
      c.value = rc.value;
      const Constant& stored = constants.emplace_back(std::move(c));
      constants_by_type[stored.type].push_back(&stored);
      constant_by_name.emplace(stored.name, &stored);
    }
    for (auto& [type, list] : constants_by_type) {
      std::stable_sort(list.begin(), list.end(),
                       [](const Constant* x, const Constant* y) { return x->value < y->value; });
    }
  }

  /// Maps a runtime._type file address to its Type. DW_AT_go_runtime_type is an offset
  /// from runtime.types, except for the odd DIE where Go's linker wrote the address itself.
  const Type* type_by_runtime_type(std::uint64_t addr) {
    if (!type_by_runtime) {
      type_by_runtime.emplace();
      for (const auto& [name, off] : type_by_name) {
        DiePtr die = offdie(off);
        const DieAttrs a = attrs(die.get());
        if (!a.go_runtime_type || *a.go_runtime_type == 0) {
          continue;
        }
        std::uint64_t v = *a.go_runtime_type;
        if (types_base != 0 && v < types_base) {
          v += types_base;
        }
        type_by_runtime->emplace(v, off);
      }
    }
    auto it = type_by_runtime->find(addr);
    return it == type_by_runtime->end() ? nullptr : type_at(it->second);
  }
};

DebugInfo::DebugInfo(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DebugInfo::~DebugInfo() = default;

std::unique_ptr<DebugInfo> DebugInfo::load(const ElfFile& elf) {
  auto impl = std::make_unique<Impl>(elf.path());
  if (const ElfSymbol* types = elf.find_symbol("runtime.types")) {
    impl->types_base = types->addr.value();
  }
  impl->open(elf);
  impl->load();
  return std::unique_ptr<DebugInfo>(new DebugInfo(std::move(impl)));
}

const std::vector<Function>& DebugInfo::functions() const {
  return impl_->functions;
}

const Function* DebugInfo::function_at(FileAddr pc) const {
  const auto& fns = impl_->functions;
  auto it = std::upper_bound(fns.begin(), fns.end(), pc,
                             [](FileAddr a, const Function& f) { return a < f.low_pc; });
  if (it == fns.begin()) {
    return nullptr;
  }
  const Function& fn = *std::prev(it);
  return pc < fn.high_pc ? &fn : nullptr;
}

const Function* DebugInfo::find_function(std::string_view name) const {
  auto it = impl_->function_by_name.find(name);
  return it == impl_->function_by_name.end() ? nullptr : &impl_->functions[it->second];
}

const FrameTable& DebugInfo::frames() const {
  return impl_->frames;
}

const std::vector<CompileUnit>& DebugInfo::compile_units() const {
  return impl_->compile_units;
}

const LineTable& DebugInfo::lines() const {
  return impl_->lines;
}

const Type* DebugInfo::find_type(std::string_view name) const {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->type_by_name.find(name);
  return it == impl_->type_by_name.end() ? nullptr : impl_->type_at(it->second);
}

std::vector<std::string> DebugInfo::type_names() const {
  std::lock_guard lock(impl_->mu);
  std::vector<std::string> out;
  out.reserve(impl_->type_by_name.size());
  for (const auto& entry : impl_->type_by_name) {
    out.emplace_back(entry.first);
  }
  return out;
}

const Type* DebugInfo::type_by_runtime_type(std::uint64_t runtime_type_addr) const {
  std::lock_guard lock(impl_->mu);
  return impl_->type_by_runtime_type(runtime_type_addr);
}

const std::vector<Variable>& DebugInfo::locals(const Function& fn) const {
  std::lock_guard lock(impl_->mu);
  return impl_->locals(fn);
}

std::vector<const InlinedCall*> DebugInfo::inlined_calls(std::string_view name) const {
  std::lock_guard lock(impl_->mu);
  impl_->index_inlined();
  auto it = impl_->inlined_by_name.find(std::string(name));
  return it == impl_->inlined_by_name.end() ? std::vector<const InlinedCall*>{} : it->second;
}

std::vector<std::string> DebugInfo::inlined_function_names() const {
  std::lock_guard lock(impl_->mu);
  impl_->index_inlined();
  std::vector<std::string> names;
  names.reserve(impl_->inlined_by_name.size());
  for (const auto& [name, calls] : impl_->inlined_by_name) names.push_back(name);
  return names;
}

std::vector<const InlinedCall*> DebugInfo::inlined_at(FileAddr pc) const {
  const Function* fn = function_at(pc);
  if (fn == nullptr) {
    return {};
  }
  std::lock_guard lock(impl_->mu);
  impl_->index_inlined();
  std::vector<const InlinedCall*> out;
  auto it = impl_->inlined_by_caller.find(fn);
  if (it == impl_->inlined_by_caller.end()) {
    return out;
  }
  for (const InlinedCall* call : it->second) {
    if (std::any_of(call->ranges.begin(), call->ranges.end(),
                    [pc](const AddrRange& r) { return r.contains(pc); })) {
      out.push_back(call);
    }
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const InlinedCall* x, const InlinedCall* y) { return x->depth > y->depth; });
  return out;
}

std::vector<std::string> DebugInfo::global_names() const {
  std::lock_guard lock(impl_->mu);
  std::vector<std::pair<Dwarf_Off, std::string_view>> by_off;
  by_off.reserve(impl_->global_by_name.size());
  for (const auto& [name, off] : impl_->global_by_name) by_off.emplace_back(off, name);
  std::sort(by_off.begin(), by_off.end());
  std::vector<std::string> out;
  out.reserve(by_off.size());
  for (const auto& [off, name] : by_off) out.emplace_back(name);
  return out;
}

std::vector<const Constant*> DebugInfo::constants_of_type(const Type* type) const {
  std::lock_guard lock(impl_->mu);
  impl_->index_constants();
  auto it = impl_->constants_by_type.find(type);
  return it == impl_->constants_by_type.end() ? std::vector<const Constant*>{} : it->second;
}

std::vector<const Constant*> DebugInfo::constants() const {
  std::lock_guard lock(impl_->mu);
  impl_->index_constants();
  std::vector<const Constant*> out;
  out.reserve(impl_->constants.size());
  for (const auto& c : impl_->constants) out.push_back(&c);
  return out;
}

const Constant* DebugInfo::find_constant(std::string_view name) const {
  std::lock_guard lock(impl_->mu);
  impl_->index_constants();
  auto it = impl_->constant_by_name.find(std::string(name));
  return it == impl_->constant_by_name.end() ? nullptr : it->second;
}

const Variable* DebugInfo::find_global(std::string_view name) const {
  std::lock_guard lock(impl_->mu);
  return impl_->global(name);
}

}  // namespace goscope::dwarf

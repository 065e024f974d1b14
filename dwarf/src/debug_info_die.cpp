// DebugInfo: libdwarf access: our section copies served to libdwarf, DIE navigation and
// the one-pass read of a DIE's attributes.
#include "debug_info_impl.hpp"

#include <elf.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>

#include "dwarf/elf_file.hpp"
#include "dwarf/error.hpp"
#include "leb128.hpp"

namespace goscope::dwarf {

void DebugInfo::Impl::fail(Dwarf_Error err, const std::string& what) const {
  std::string msg = path + ": " + what;
  if (err != nullptr) {
    msg += ": ";
    msg += dwarf_errmsg(err);
    dwarf_dealloc_error(dbg.get(), err);
  }
  Error::send(msg);
}

int DebugInfo::Impl::get_section_info(void* obj, Dwarf_Half index, Dwarf_Obj_Access_Section* out,
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

int DebugInfo::Impl::load_section(void* obj, Dwarf_Half index, Dwarf_Small** data, int* /*error*/) {
  Impl* impl = self(obj);
  if (index == 0 || index > impl->sections.size()) {
    return DW_DLV_NO_ENTRY;
  }
  *data = reinterpret_cast<Dwarf_Small*>(impl->sections[index - 1].data.data());
  return DW_DLV_OK;
}

void DebugInfo::Impl::open(const ElfFile& elf) {
  std::vector<std::string> names;
  for (const std::string& name : elf.section_names()) {
    std::string canonical;
    if (name.starts_with(".debug_")) {
      canonical = name;
    } else if (name.starts_with(".zdebug_")) {
      canonical = "." + name.substr(2);
    } else {
      continue;
    }
    if (std::find(names.begin(), names.end(), canonical) == names.end()) {
      names.push_back(canonical);
    }
  }
  // Decompress on every core: zlib is a good part of a big binary's load.
  std::vector<std::optional<std::vector<std::byte>>> data(names.size());
  std::atomic<std::size_t> next{0};
  std::exception_ptr failure;
  std::mutex failure_mu;
  auto work = [&] {
    try {
      for (std::size_t i; (i = next++) < names.size();) data[i] = elf.section_copy(names[i]);
    } catch (...) {
      std::lock_guard lock(failure_mu);
      if (!failure)
        failure = std::current_exception();
    }
  };
  const unsigned workers = std::max(1u, std::min<unsigned>(std::thread::hardware_concurrency(), 4));
  std::vector<std::thread> pool;
  for (unsigned w = 1; w < workers && w < names.size(); ++w) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  if (failure) {
    std::rethrow_exception(failure);
  }
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (data[i] && !data[i]->empty()) {
      sections.push_back(Section{names[i], std::move(*data[i])});
    }
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

DiePtr DebugInfo::Impl::offdie(Dwarf_Off off) const {
  Dwarf_Die die = nullptr;
  Dwarf_Error err = nullptr;
  if (dwarf_offdie_b(dbg.get(), off, true, &die, &err) != DW_DLV_OK) {
    fail(err, "bad DIE offset " + std::to_string(off));
  }
  return DiePtr(die);
}

DiePtr DebugInfo::Impl::child(Dwarf_Die die) const {
  Dwarf_Die c = nullptr;
  Dwarf_Error err = nullptr;
  const int rc = dwarf_child(die, &c, &err);
  if (rc == DW_DLV_ERROR) {
    fail(err, "dwarf_child");
  }
  return DiePtr(rc == DW_DLV_OK ? c : nullptr);
}

DiePtr DebugInfo::Impl::sibling(Dwarf_Die die) const {
  Dwarf_Die s = nullptr;
  Dwarf_Error err = nullptr;
  const int rc = dwarf_siblingof_b(dbg.get(), die, true, &s, &err);
  if (rc == DW_DLV_ERROR) {
    fail(err, "dwarf_siblingof");
  }
  return DiePtr(rc == DW_DLV_OK ? s : nullptr);
}

Dwarf_Off DebugInfo::Impl::die_offset(Dwarf_Die die) const {
  Dwarf_Off off = 0;
  Dwarf_Error err = nullptr;
  if (dwarf_dieoffset(die, &off, &err) != DW_DLV_OK) {
    fail(err, "dwarf_dieoffset");
  }
  return off;
}

Dwarf_Half DebugInfo::Impl::tag_of(Dwarf_Die die) const {
  Dwarf_Half tag = 0;
  Dwarf_Error err = nullptr;
  if (dwarf_tag(die, &tag, &err) != DW_DLV_OK) {
    fail(err, "dwarf_tag");
  }
  return tag;
}

std::string_view DebugInfo::Impl::name_of(Dwarf_Die die) const {
  char* name = nullptr;
  Dwarf_Error err = nullptr;
  const int rc = dwarf_diename(die, &name, &err);
  if (rc == DW_DLV_ERROR) {
    fail(err, "dwarf_diename");
  }
  return rc == DW_DLV_OK && name != nullptr ? std::string_view(name) : std::string_view();
}

std::uint64_t DebugInfo::Impl::udata(Dwarf_Attribute attr, Dwarf_Half form) const {
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

Dwarf_Off DebugInfo::Impl::ref(Dwarf_Attribute attr) const {
  Dwarf_Off off = 0;
  Dwarf_Error err = nullptr;
  if (dwarf_global_formref(attr, &off, &err) != DW_DLV_OK) {
    fail(err, "dwarf_global_formref");
  }
  return off;
}

bool DebugInfo::Impl::flag(Dwarf_Attribute attr) const {
  Dwarf_Bool v = 0;
  Dwarf_Error err = nullptr;
  if (dwarf_formflag(attr, &v, &err) != DW_DLV_OK) {
    fail(err, "dwarf_formflag");
  }
  return v != 0;
}

std::string_view DebugInfo::Impl::string(Dwarf_Attribute attr) const {
  char* s = nullptr;
  Dwarf_Error err = nullptr;
  if (dwarf_formstring(attr, &s, &err) != DW_DLV_OK) {
    fail(err, "dwarf_formstring");
  }
  return s != nullptr ? std::string_view(s) : std::string_view();
}

bool DebugInfo::Impl::has_attr(Dwarf_Die die, Dwarf_Half at) const {
  Dwarf_Bool v = 0;
  Dwarf_Error err = nullptr;
  if (dwarf_hasattr(die, at, &v, &err) == DW_DLV_ERROR) {
    fail(err, "dwarf_hasattr");
  }
  return v != 0;
}

LocAttr DebugInfo::Impl::location(Dwarf_Attribute attr, Dwarf_Half form) const {
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

DieAttrs DebugInfo::Impl::attrs(Dwarf_Die die) const {
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

}  // namespace goscope::dwarf

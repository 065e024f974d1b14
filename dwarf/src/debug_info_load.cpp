// DebugInfo: the load-time index. One pass over .debug_info (DieReader, in place) finds the
// compile units, functions with their parameters, and the names of globals, constants and
// types; line programs are registered as parts of a lazy LineTable and read once, on every
// core, for each function's line. Types, locals, inlined calls and rows are read when first
// needed.
#include <algorithm>
#include <exception>
#include <mutex>
#include <thread>

#include "debug_info_impl.hpp"
#include "die_reader.hpp"
#include "dwarf/elf_file.hpp"
#include "dwarf/error.hpp"
#include "line_program.hpp"

namespace goscope::dwarf {

namespace {

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

unsigned worker_count() {
  return std::max(1u, std::min<unsigned>(std::thread::hardware_concurrency(), 4));
}

}  // namespace

DieAttrs DebugInfo::Impl::attrs_at(Dwarf_Off off) const {
  if (const RawUnit* u = reader->unit_of(off); u && DieReader::handles(*u)) {
    bool kids = false;
    std::uint64_t after = 0;
    return reader->read_at(off, kids, after);
  }
  DiePtr die = offdie(off);
  return attrs(die.get());
}

void DebugInfo::Impl::for_each_child(Dwarf_Off off,
                                     const std::function<bool(Dwarf_Off, Dwarf_Half)>& f) const {
  if (const RawUnit* u = reader->unit_of(off); u && DieReader::handles(*u)) {
    bool kids = false;
    std::uint64_t pos = 0;
    reader->read_at(off, kids, pos);
    while (kids && pos < u->end) {
      const Dwarf_Half tag = reader->peek_tag(*u, pos);
      if (tag == 0)
        return;
      const Dwarf_Off child_off = pos;
      reader->skip_tree(*u, pos);
      if (!f(child_off, tag))
        return;
    }
    return;
  }
  DiePtr die = offdie(off);
  for (DiePtr c = child(die.get()); c; c = sibling(c.get())) {
    if (!f(die_offset(c.get()), tag_of(c.get())))
      return;
  }
}

void DebugInfo::Impl::add_type_name(std::string_view name, Dwarf_Off off, Dwarf_Half tag,
                                    bool go_kind, std::unordered_set<Dwarf_Off>& bare_typedefs) {
  if (name.empty())
    return;
  if (tag == DW_TAG_typedef && !go_kind)
    bare_typedefs.insert(off);
  auto [it, inserted] = type_by_name.emplace(name, off);
  // Prefer the real DIE over Go's bare same-name typedef (no DW_AT_go_kind) that precedes it.
  if (!inserted && tag != DW_TAG_typedef && bare_typedefs.contains(it->second))
    it->second = off;
}

std::vector<Variable> DebugInfo::Impl::params_at(const RawUnit& u, std::uint64_t& pos,
                                                 bool children, std::optional<Dwarf_Off> origin_off,
                                                 const CuInfo& cu) {
  // As params_of: with an abstract origin, names, types and order come from the origin's
  // parameters and locations from this DIE's.
  std::vector<Variable> params;
  std::unordered_map<Dwarf_Off, std::size_t> param_by_origin;
  std::vector<bool> described;  // by this DIE's children, per origin parameter
  if (origin_off) {
    bool kids = false;
    std::uint64_t opos = 0;
    reader->read_at(*origin_off, kids, opos);
    const RawUnit& ou = *reader->unit_of(*origin_off);
    while (kids && opos < ou.end) {
      const Dwarf_Off coff = opos;
      if (reader->peek_tag(ou, opos) != DW_TAG_formal_parameter) {
        const bool end = reader->peek_tag(ou, opos) == 0;
        reader->skip_tree(ou, opos);
        if (end)
          break;
        continue;
      }
      bool ckids = false;
      const DieAttrs pa = reader->read(ou, opos, ckids);
      if (ckids)
        reader->skip_children(ou, opos);
      param_by_origin.emplace(coff, params.size());
      params.push_back(make_variable(pa, cu));
      described.push_back(false);
    }
  }
  while (children && pos < u.end) {
    const Dwarf_Half tag = reader->peek_tag(u, pos);
    if (tag != DW_TAG_formal_parameter) {
      reader->skip_tree(u, pos);
      if (tag == 0)
        break;
      continue;
    }
    bool kids = false;
    const DieAttrs pa = reader->read(u, pos, kids);
    if (kids)
      reader->skip_children(u, pos);
    if (pa.abstract_origin) {
      if (auto it = param_by_origin.find(*pa.abstract_origin); it != param_by_origin.end()) {
        params[it->second].location = location_desc(pa.location, cu);
        described[it->second] = true;
        continue;
      }
      DieAttrs merged = attrs_at(*pa.abstract_origin);
      merged.location = pa.location;
      params.push_back(make_variable(merged, cu));
      continue;
    }
    params.push_back(make_variable(pa, cu));
  }
  return drop_undescribed(std::move(params), described);
}

void DebugInfo::Impl::load_function_at(const RawUnit& u, Dwarf_Off off, std::uint64_t& pos,
                                       bool children, const DieAttrs& a, const CuInfo& cu) {
  Function fn;
  fn.die_offset = off;
  fn.low_pc = FileAddr(*a.low_pc);
  fn.high_pc = FileAddr(a.high_pc.value_or(*a.low_pc));
  fn.optimized = cu.optimized;
  fn.trampoline = a.trampoline;
  fn.frame_base = location_desc(a.frame_base, cu);
  const RawUnit* origin_unit = a.abstract_origin ? reader->unit_of(*a.abstract_origin) : nullptr;
  if (a.abstract_origin) {
    // An out-of-line copy of an inlined function names nothing itself.
    const DieAttrs oa = attrs_at(*a.abstract_origin);
    fn.name = std::string(oa.name);
    fn.decl_file = decl_file_name(cu, oa.decl_file);
    fn.decl_line = static_cast<std::uint32_t>(oa.decl_line.value_or(0));
  } else {
    fn.name = std::string(a.name);
    fn.decl_file = decl_file_name(cu, a.decl_file);
    fn.decl_line = static_cast<std::uint32_t>(a.decl_line.value_or(0));
  }
  if (a.abstract_origin && (origin_unit == nullptr || !DieReader::handles(*origin_unit))) {
    DiePtr die = offdie(off);
    fn.params = params_of(die.get(), a.abstract_origin, cu);
    if (children)
      reader->skip_children(u, pos);
  } else {
    fn.params = params_at(u, pos, children, a.abstract_origin, cu);
  }
  function_cu.emplace(fn.die_offset, static_cast<std::uint32_t>(&cu - cu_infos.data()));
  functions.push_back(std::move(fn));
}

void DebugInfo::Impl::walk_unit(const RawUnit& u, std::uint64_t pos, const CuInfo& cu,
                                const DieAttrs& ca, std::unordered_set<Dwarf_Off>& bare_typedefs) {
  while (pos < u.end) {
    const Dwarf_Off off = pos;
    const Dwarf_Half tag = reader->peek_tag(u, pos);
    if (tag == 0)
      break;  // the unit's children end
    bool kids = false;
    if (tag == DW_TAG_subprogram) {
      const DieAttrs a = reader->read(u, pos, kids);
      if (a.low_pc && !a.declaration) {
        load_function_at(u, off, pos, kids, a, cu);
        continue;
      }
    } else if (tag == DW_TAG_variable) {
      const DieAttrs a = reader->read(u, pos, kids);
      if (!a.name.empty())
        global_by_name.emplace(a.name, off);
    } else if (tag == DW_TAG_constant) {
      // Delve's loadDebugInfoMaps: name, type and an integer value, all required.
      const DieAttrs a = reader->read(u, pos, kids);
      if (!a.name.empty() && a.type && a.const_value) {
        raw_constants.push_back(
            RawConstant{a.name, !ca.producer.starts_with("Go "), *a.type, *a.const_value});
      }
    } else if (is_type_tag(tag)) {
      const DieAttrs a = reader->read(u, pos, kids);
      add_type_name(a.name, off, tag, a.go_kind.has_value(), bare_typedefs);
    } else {
      reader->skip_tree(u, pos);
      continue;
    }
    if (kids)
      reader->skip_children(u, pos);
  }
}

void DebugInfo::Impl::walk_unit_libdwarf(Dwarf_Die cu_die, const CuInfo& cu, const DieAttrs& ca,
                                         std::unordered_set<Dwarf_Off>& bare_typedefs) {
  for (DiePtr d = child(cu_die); d; d = sibling(d.get())) {
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
      const DieAttrs a = attrs(d.get());
      if (!a.name.empty() && a.type && a.const_value) {
        raw_constants.push_back(
            RawConstant{a.name, !ca.producer.starts_with("Go "), *a.type, *a.const_value});
      }
    } else if (is_type_tag(tag)) {
      const auto name = name_of(d.get());
      add_type_name(name, die_offset(d.get()), tag,
                    tag == DW_TAG_typedef && has_attr(d.get(), kAtGoKind), bare_typedefs);
    }
  }
}

std::vector<std::uint32_t> DebugInfo::Impl::scan_lines(
    std::vector<LineTable::Part>& parts, const std::vector<std::uint32_t>& function_part) {
  // What each part must answer: the entries of its functions that have no line yet.
  std::vector<std::vector<std::size_t>> wanted(parts.size());
  for (std::size_t i = 0; i < functions.size(); ++i) {
    if (functions[i].decl_line == 0 && function_part[i] < parts.size())
      wanted[function_part[i]].push_back(i);
  }
  struct Found {
    std::uint32_t file = kNoFile, line = 0;
    bool before_first = true;  // no row of the part at or before the entry
  };
  std::vector<Found> found(functions.size());
  std::vector<std::uint32_t> first_file(parts.size(), kNoFile);
  auto scan = [&](std::size_t p) {
    std::vector<LineRow> rows = parts[p].decode();
    if (!rows.empty())
      first_file[p] = rows.front().file;
    if (wanted[p].empty())
      return;
    auto before = [](const LineRow& a, const LineRow& b) {
      if (a.addr != b.addr)
        return a.addr < b.addr;
      return a.end_sequence && !b.end_sequence;
    };
    if (!std::is_sorted(rows.begin(), rows.end(), before))  // Go's programs mostly are
      std::stable_sort(rows.begin(), rows.end(), before);
    for (std::size_t i : wanted[p]) {
      const FileAddr pc = functions[i].low_pc;
      auto it = std::upper_bound(rows.begin(), rows.end(), pc,
                                 [](FileAddr a, const LineRow& r) { return a < r.addr; });
      if (it == rows.begin())
        continue;
      const LineRow& row = *std::prev(it);
      found[i].before_first = false;
      if (!row.end_sequence && row.file < files.size()) {
        found[i].file = row.file;
        found[i].line = row.line;
      }
    }
  };
  // libdwarf parts take `mu` themselves, so workers may run any part.
  const unsigned workers = worker_count();
  std::exception_ptr failure;
  std::mutex failure_mu;
  auto run = [&](unsigned w) {
    try {
      for (std::size_t p = w; p < parts.size(); p += workers) scan(p);
    } catch (...) {
      std::lock_guard lock(failure_mu);
      if (!failure)
        failure = std::current_exception();
    }
  };
  std::vector<std::thread> pool;
  for (unsigned w = 1; w < workers && w < parts.size(); ++w) pool.emplace_back(run, w);
  run(0);
  for (auto& t : pool) t.join();
  if (failure)
    std::rethrow_exception(failure);

  for (std::size_t i = 0; i < functions.size(); ++i) {
    Function& fn = functions[i];
    if (fn.decl_line != 0)
      continue;
    if (found[i].before_first) {
      // No row of its own unit at or before the entry: answer as the merged table does.
      if (auto loc = lines.find(fn.low_pc)) {
        fn.decl_line = loc->line;
        if (fn.decl_file.empty())
          fn.decl_file = loc->file;
      }
      continue;
    }
    if (found[i].file != kNoFile) {
      fn.decl_line = found[i].line;
      if (fn.decl_file.empty())
        fn.decl_file = files[found[i].file];
    }
  }
  return first_file;
}

void DebugInfo::Impl::load() {
  debug_line = section(".debug_line");
  reader = std::make_unique<DieReader>(section(".debug_info"), section(".debug_abbrev"),
                                       section(".debug_str"), section(".debug_line_str"), path);
  std::vector<LineTable::Part> parts;
  std::vector<std::size_t> part_unit;  // part -> index into compile_units
  std::unordered_map<Dwarf_Off, std::uint32_t> part_of_cu;
  std::unordered_set<Dwarf_Off> bare_typedefs;
  // References into cu_infos stay valid while the units are walked.
  cu_infos.reserve(reader->units().size());
  function_cu.reserve(reader->units().size() * 64);
  for (const RawUnit& u : reader->units()) {
    const bool fast = DieReader::handles(u);
    std::uint64_t pos = u.first_die;
    bool kids = false;
    DiePtr cu_die;
    DieAttrs ca;
    if (fast) {
      ca = reader->read(u, pos, kids);
    } else {
      cu_die = offdie(u.first_die);
      ca = attrs(cu_die.get());
      kids = true;
    }
    if (ca.tag == 0)
      continue;
    CuInfo& cu = cu_infos.emplace_back();
    cu.offset = u.first_die;
    cu.version = u.version;
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
      part_of_cu.emplace(cu.offset, static_cast<std::uint32_t>(parts.size()));
      part_unit.push_back(compile_units.size() - 1);
      parts.push_back(line_part(cu, *ca.stmt_list, ca.comp_dir, unit));
    }
    cu.files = &cu_files[cu.offset];
    if (!kids)
      continue;
    if (fast)
      walk_unit(u, pos, cu, ca, bare_typedefs);
    else
      walk_unit_libdwarf(cu_die.get(), cu, ca, bare_typedefs);
  }

  std::sort(functions.begin(), functions.end(),
            [](const Function& x, const Function& y) { return x.low_pc < y.low_pc; });
  std::vector<std::uint32_t> function_part(functions.size(), ~std::uint32_t{0});
  std::vector<LineTable::PartRange> ranges;
  ranges.reserve(functions.size());
  for (std::size_t i = 0; i < functions.size(); ++i) {
    const Function& fn = functions[i];
    const CuInfo* cu = cu_of_function(fn.die_offset);
    if (cu == nullptr)
      continue;
    auto part = part_of_cu.find(cu->offset);
    if (part == part_of_cu.end())
      continue;
    function_part[i] = part->second;
    if (fn.low_pc < fn.high_pc)
      ranges.push_back({fn.low_pc, fn.high_pc, part->second});
  }
  // The scan reads each program once; the table keeps the decoders for later lookups.
  std::vector<LineTable::Part> table_parts = parts;
  lines = LineTable(std::move(table_parts), std::move(ranges), files);
  const auto first_file = scan_lines(parts, function_part);
  for (std::size_t p = 0; p < parts.size(); ++p) {
    // Delve's DebugLineInfo.FirstFile: the file register of the program's first row.
    if (first_file[p] < files.size())
      compile_units[part_unit[p]].first_file = files[first_file[p]];
  }

  function_by_name.reserve(functions.size());
  for (std::size_t i = 0; i < functions.size(); ++i) {
    function_by_name.emplace(functions[i].name, i);
  }
}

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

}  // namespace goscope::dwarf

// DebugInfo: variables and where they live: location and range lists, parameters,
// locals by lexical block, globals and inlined calls.
#include "debug_info_impl.hpp"

#include "list_walker.hpp"

namespace goscope::dwarf {

std::vector<LocationDesc::Range> DebugInfo::Impl::loclist(const LocAttr& loc,
                                                          const CuInfo& cu) const {
  std::vector<LocationDesc::Range> out;
  for (const ListEntry& e :
       walk_list(ListKind::location, ListSections{debug_loc, debug_loclists, debug_addr},
                 ListCu{cu.version, cu.base, cu.addr_base, cu.loclists_base}, *loc.list_offset,
                 loc.list_is_index, path)) {
    out.push_back(
        LocationDesc::Range{FileAddr(e.low), FileAddr(e.high), {e.expr.begin(), e.expr.end()}});
  }
  return out;
}

std::vector<AddrRange> DebugInfo::Impl::range_list(std::uint64_t offset, bool is_index,
                                                   const CuInfo& cu) const {
  std::vector<AddrRange> out;
  for (const ListEntry& e : walk_list(
           ListKind::range, ListSections{debug_ranges, debug_rnglists, debug_addr},
           ListCu{cu.version, cu.base, cu.addr_base, cu.rnglists_base}, offset, is_index, path)) {
    out.push_back(AddrRange{FileAddr(e.low), FileAddr(e.high)});
  }
  return out;
}

LocationDesc DebugInfo::Impl::location_desc(const LocAttr& loc, const CuInfo& cu) const {
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

Variable DebugInfo::Impl::make_variable(const DieAttrs& a, const CuInfo& cu) {
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

std::vector<Variable> DebugInfo::Impl::params_of(Dwarf_Die die, std::optional<Dwarf_Off> origin_off,
                                                 const CuInfo& cu) {
  std::vector<Variable> params;
  std::unordered_map<Dwarf_Off, std::size_t> param_by_origin;
  std::vector<bool> described;  // by this DIE's children, per origin parameter
  if (origin_off) {
    DiePtr origin = offdie(*origin_off);
    for (DiePtr c = child(origin.get()); c; c = sibling(c.get())) {
      if (tag_of(c.get()) != DW_TAG_formal_parameter) {
        continue;
      }
      const DieAttrs pa = attrs(c.get());
      param_by_origin.emplace(die_offset(c.get()), params.size());
      params.push_back(make_variable(pa, cu));
      described.push_back(false);
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
        described[it->second] = true;
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
  return drop_undescribed(std::move(params), described);
}

void DebugInfo::Impl::collect_locals(Dwarf_Die parent, const std::vector<AddrRange>& scope,
                                     unsigned depth, const CuInfo& cu, std::vector<Variable>& out) {
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

const std::vector<Variable>& DebugInfo::Impl::locals(const Function& fn) {
  if (auto it = locals_by_function.find(fn.die_offset); it != locals_by_function.end()) {
    return it->second;
  }
  CuInfo cu;
  if (const CuInfo* known = cu_of_function(fn.die_offset)) {
    cu = *known;
  }
  std::vector<Variable> out;
  DiePtr die = offdie(fn.die_offset);
  collect_locals(die.get(), {}, 0, cu, out);
  return locals_by_function.emplace(fn.die_offset, std::move(out)).first->second;
}

const Variable* DebugInfo::Impl::global(std::string_view name) {
  auto it = global_by_name.find(name);
  if (it == global_by_name.end()) {
    return nullptr;
  }
  if (auto g = globals.find(it->second); g != globals.end()) {
    return g->second.get();
  }
  const DieAttrs a = attrs_at(it->second);
  if (!a.location.present) {
    return nullptr;
  }
  CuInfo cu;  // globals use DW_OP_addr, never location lists
  auto v = std::make_unique<Variable>(make_variable(a, cu));
  const Variable* out = v.get();
  globals.emplace(it->second, std::move(v));
  return out;
}

void DebugInfo::Impl::collect_inlined(Dwarf_Die parent, const Function& caller, unsigned depth,
                                      const CuInfo& cu, std::vector<InlinedCall>& out) {
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

void DebugInfo::Impl::index_inlined() {
  if (inlined_indexed) {
    return;
  }
  std::vector<InlinedCall> calls;
  for (const Function& fn : functions) {
    const CuInfo* cu = cu_of_function(fn.die_offset);
    if (cu == nullptr || !cu->optimized) {
      continue;  // -N -l code inlines nothing
    }
    DiePtr die = offdie(fn.die_offset);
    collect_inlined(die.get(), fn, 0, *cu, calls);
  }
  inlined = std::move(calls);
  for (const InlinedCall& call : inlined) {
    inlined_by_name[call.name].push_back(&call);
    inlined_by_caller[call.caller].push_back(&call);
  }
  inlined_indexed = true;
}

}  // namespace goscope::dwarf

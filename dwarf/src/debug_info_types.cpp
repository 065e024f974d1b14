// DebugInfo: types: parsing type DIEs (Go's extensions included) on first use, constants
// and the runtime._type lookup.
#include "debug_info_impl.hpp"

#include <algorithm>

namespace goscope::dwarf {

Type* DebugInfo::Impl::new_type(Dwarf_Off off, const DieAttrs& a) {
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

GoKind DebugInfo::Impl::base_kind(const DieAttrs& a) {
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

const Type* DebugInfo::Impl::type_at(Dwarf_Off off) {
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

void DebugInfo::Impl::run_pending_copies() {
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

const Type* DebugInfo::Impl::parse_type(Dwarf_Off off) {
  const DieAttrs a = attrs_at(off);
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
      for_each_child(off, [&](Dwarf_Off c, Dwarf_Half tag) {
        if (tag != DW_TAG_subrange_type)
          return true;
        const DieAttrs sub = attrs_at(c);
        if (sub.count) {
          t->count = *sub.count;
        } else if (sub.upper_bound) {
          t->count = *sub.upper_bound + 1;
        }
        return false;
      });
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
      std::vector<Dwarf_Off> members;
      for_each_child(off, [&](Dwarf_Off c, Dwarf_Half tag) {
        if (tag == DW_TAG_member)
          members.push_back(c);
        return true;
      });
      for (Dwarf_Off c : members) {
        const DieAttrs m = attrs_at(c);
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

void DebugInfo::Impl::index_constants() {
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

const Type* DebugInfo::Impl::type_by_runtime_type(std::uint64_t addr) {
  if (!type_by_runtime) {
    type_by_runtime.emplace();
    for (const auto& [name, off] : type_by_name) {
      const DieAttrs a = attrs_at(off);
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

}  // namespace goscope::dwarf

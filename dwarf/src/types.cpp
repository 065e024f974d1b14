#include "dwarf/types.hpp"

namespace goscope::dwarf {

const Type* Type::resolved() const {
  const Type* t = this;
  // Bounded so a malformed typedef cycle cannot hang the caller.
  for (int i = 0; i < 64 && t->is_typedef && t->elem != nullptr; ++i) {
    t = t->elem;
  }
  return t;
}

const Field* Type::field(const std::string& field_name) const {
  for (const Field& f : fields) {
    if (f.name == field_name) {
      return &f;
    }
  }
  return nullptr;
}

}  // namespace goscope::dwarf

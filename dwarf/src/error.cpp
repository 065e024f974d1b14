#include "dwarf/error.hpp"

namespace goscope::dwarf {

void Error::send(const std::string& what) {
  throw Error(what);
}

}  // namespace goscope::dwarf

#pragma once
#include <stdexcept>
#include <string>

namespace goscope::dwarf {

/// Every failure of the ELF/DWARF layer; the message names the file and what was wrong
/// ("not an ELF file", "no DWARF debug info (stripped?)", ...).
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
  [[noreturn]] static void send(const std::string& what);
};

}  // namespace goscope::dwarf

// singleline_string itself is pretty.cpp's (api::Variable is target::Variable: one type).
#include "session/value_text.hpp"

#include "pretty.hpp"

namespace goscope::session {

std::string go_quote_string(std::string_view s) {
  return go_quote(s);
}

}  // namespace goscope::session

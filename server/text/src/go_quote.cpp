#include "text/go_quote.hpp"

#include <cstddef>
#include <cstdio>

namespace goscope::text {
namespace {

/// Decodes one UTF-8 rune of `s` at `i`; returns its length, or 0 for an invalid encoding
/// (overlong forms, surrogates and code points past U+10FFFF included), as Go's
/// utf8.DecodeRuneInString tells RuneError of width 1 apart.
int decode_rune(std::string_view s, std::size_t i, char32_t& r) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  auto cont = [&](std::size_t k) { return k < s.size() && (b(k) & 0xC0) == 0x80; };
  if (c < 0x80) {
    r = c;
    return 1;
  }
  if (c >= 0xC2 && c <= 0xDF && cont(i + 1)) {
    r = ((c & 0x1Fu) << 6) | (b(i + 1) & 0x3Fu);
    return 2;
  }
  if (c >= 0xE0 && c <= 0xEF && cont(i + 1) && cont(i + 2)) {
    r = ((c & 0x0Fu) << 12) | ((b(i + 1) & 0x3Fu) << 6) | (b(i + 2) & 0x3Fu);
    return r < 0x800 || (r >= 0xD800 && r <= 0xDFFF) ? 0 : 3;
  }
  if (c >= 0xF0 && c <= 0xF4 && cont(i + 1) && cont(i + 2) && cont(i + 3)) {
    r = ((c & 0x07u) << 18) | ((b(i + 1) & 0x3Fu) << 12) | ((b(i + 2) & 0x3Fu) << 6) |
        (b(i + 3) & 0x3Fu);
    return r < 0x10000 || r > 0x10FFFF ? 0 : 4;
  }
  return 0;
}

// unicode.IsPrint, approximated outside ASCII by excluding the control, format and
// separator code points Go escapes in practice.
bool is_print(char32_t r) {
  if (r < 0x20 || r == 0x7F)
    return false;
  if (r < 0x7F)
    return true;
  if (r >= 0x80 && r < 0xA0)
    return false;
  if (r == 0xA0 || r == 0xAD)
    return false;
  if (r >= 0x2000 && r <= 0x200F)
    return false;
  if (r >= 0x2028 && r <= 0x202F)
    return false;
  if (r >= 0x205F && r <= 0x206F)
    return false;
  if (r == 0x3000 || r == 0xFEFF)
    return false;
  if (r >= 0xE000 && r <= 0xF8FF)
    return false;
  // Specials: unassigned, the interlinear annotation format characters and the
  // noncharacters are escaped; U+FFFC and U+FFFD (symbols) are printable.
  if (r >= 0xFFF0 && r <= 0xFFFF && r != 0xFFFC && r != 0xFFFD)
    return false;
  return true;
}

void append_hex_byte(std::string& out, unsigned b) {
  static const char* const kHex = "0123456789abcdef";
  out += "\\x";
  out += kHex[(b >> 4) & 15];
  out += kHex[b & 15];
}

/// The escape of an ASCII control character, or nullptr.
const char* named_escape(char32_t r, bool all) {
  switch (r) {
    case '\n':
      return "\\n";
    case '\r':
      return "\\r";
    case '\t':
      return "\\t";
    case '\a':
      return all ? "\\a" : nullptr;
    case '\b':
      return all ? "\\b" : nullptr;
    case '\f':
      return all ? "\\f" : nullptr;
    case '\v':
      return all ? "\\v" : nullptr;
    default:
      return nullptr;
  }
}

}  // namespace

std::string go_quote(std::string_view s, QuoteStyle style) {
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size();) {
    char32_t r = static_cast<unsigned char>(s[i]);
    int n = 1;
    if (r >= 0x80) {
      if (!style.escape_invalid_utf8) {
        out += s[i++];  // read as bytes: nothing from 0x80 is escaped
        continue;
      }
      n = decode_rune(s, i, r);
      if (n == 0) {
        append_hex_byte(out, static_cast<unsigned char>(s[i]));
        ++i;
        continue;
      }
    }
    if (r == '"' || r == '\\') {
      out += '\\';
      out += static_cast<char>(r);
    } else if (r < 0x80 ? is_print(r) : (!style.escape_unprintable || is_print(r))) {
      out.append(s.substr(i, static_cast<std::size_t>(n)));
    } else if (const char* e = named_escape(r, style.named_escapes)) {
      out += e;
    } else if (r < 0x80) {
      append_hex_byte(out, static_cast<unsigned>(r));
    } else {
      char buf[16];
      std::snprintf(buf, sizeof buf, r < 0x10000 ? "\\u%04x" : "\\U%08x", static_cast<unsigned>(r));
      out += buf;
    }
    i += static_cast<std::size_t>(n);
  }
  out += '"';
  return out;
}

}  // namespace goscope::text

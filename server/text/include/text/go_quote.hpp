#pragma once
// Go's %q (strconv.Quote) for the strings goscope prints the way Delve does: values in
// trace lines, names in messages, expression errors, log fields. The one quoter of the
// project (log, target and session all use it). Delve's output is reproduced byte for byte, and the
// places that print today differ in three details, so each is a field of QuoteStyle
// instead of a copy of the quoter.
#include <string>
#include <string_view>

namespace goscope::text {

struct QuoteStyle {
  /// Runes outside ASCII that unicode.IsPrint rejects (approximated: C1 controls, NBSP, soft
  /// hyphen, the General Punctuation spaces and format characters, private use, U+FFF0-FFFF)
  /// become \u0085 / \U000e0001. Off: every valid rune from U+0080 is copied as is.
  bool escape_unprintable = true;
  /// A byte that starts no valid UTF-8 sequence becomes \xff (Go's RuneError of width 1).
  /// Off: the string is read as bytes, every byte from 0x80 copied as is.
  bool escape_invalid_utf8 = true;
  /// \a \b \f \v by name, as Go does. Off: only \n \r \t by name, other ASCII controls \x07.
  bool named_escapes = true;

  /// Go's strconv.Quote (with the IsPrint approximation above).
  static constexpr QuoteStyle strconv() { return {}; }
  /// strconv.Quote, but printing non-ASCII runes unescaped.
  static constexpr QuoteStyle keep_unicode() { return {false, true, true}; }
  /// Escapes only quotes, backslashes and ASCII controls (\n \r \t by name); bytes from
  /// 0x80 are copied whether or not they are valid UTF-8.
  static constexpr QuoteStyle ascii_controls() { return {false, false, false}; }
};

/// `s` quoted in `style`, with its double quotes.
std::string go_quote(std::string_view s, QuoteStyle style = QuoteStyle::strconv());

}  // namespace goscope::text

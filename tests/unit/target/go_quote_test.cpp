// text::go_quote against Go's strconv.Quote (the expected strings are what Go 1.19
// prints), and the two narrower styles the server's messages use.
#include <catch2/catch.hpp>

#include <string>

#include "text/go_quote.hpp"

using goscope::text::go_quote;
using goscope::text::QuoteStyle;

TEST_CASE("go_quote: strconv.Quote of ASCII, quotes and backslashes") {
  CHECK(go_quote("") == R"("")");
  CHECK(go_quote("hello, world") == R"("hello, world")");
  CHECK(go_quote(R"(say "hi" \ bye)") == R"("say \"hi\" \\ bye")");
  CHECK(go_quote("main.(*T).m") == R"("main.(*T).m")");
}

TEST_CASE("go_quote: strconv.Quote names \\a\\b\\f\\n\\r\\t\\v and hex-escapes other controls") {
  CHECK(go_quote("\a\b\f\n\r\t\v") == R"("\a\b\f\n\r\t\v")");
  CHECK(go_quote(std::string("a\0b", 3)) == R"("a\x00b")");
  CHECK(go_quote("\x01\x1b\x7f") == R"("\x01\x1b\x7f")");
}

TEST_CASE("go_quote: strconv.Quote of invalid UTF-8 is \\x per byte") {
  CHECK(go_quote("\xff") == R"("\xff")");
  CHECK(go_quote("a\xc3") == R"("a\xc3")");                        // truncated sequence
  CHECK(go_quote("\xc0\xaf") == R"("\xc0\xaf")");                  // overlong '/'
  CHECK(go_quote("\xed\xa0\x80") == R"("\xed\xa0\x80")");          // a surrogate, U+D800
  CHECK(go_quote("\xf4\x90\x80\x80") == R"("\xf4\x90\x80\x80")");  // past U+10FFFF
  // Invalid bytes are RuneError of width 1: each is escaped, the valid rest kept.
  CHECK(go_quote("\xe4\xb8x\xe4\xb8\x96") == "\"\\xe4\\xb8x\xe4\xb8\x96\"");
}

TEST_CASE("go_quote: strconv.Quote keeps printable runes and escapes the others") {
  CHECK(go_quote("h\xc3\xa9llo \xe4\xb8\x96\xe7\x95\x8c") ==
        "\"h\xc3\xa9llo \xe4\xb8\x96\xe7\x95\x8c\"");
  CHECK(go_quote("\xf0\x9f\x98\x80") == "\"\xf0\x9f\x98\x80\"");  // U+1F600 is printable
  CHECK(go_quote("\xc2\x85") == R"("\u0085")");                   // NEL, a C1 control
  CHECK(go_quote("\xc2\xa0") == R"("\u00a0")");                   // no-break space
  CHECK(go_quote("\xc2\xad") == R"("\u00ad")");                   // soft hyphen
  CHECK(go_quote("\xe2\x80\x8b") == R"("\u200b")");               // zero width space
  CHECK(go_quote("\xe2\x80\xa8") == R"("\u2028")");               // line separator
  CHECK(go_quote("\xef\xbb\xbf") == R"("\ufeff")");               // byte order mark
  CHECK(go_quote("\xee\x80\x80") == R"("\ue000")");               // private use
  CHECK(go_quote("\xef\xbf\xbd") == "\"\xef\xbf\xbd\"");          // U+FFFD: a symbol, printable
  CHECK(go_quote("\xef\xbf\xbc") == "\"\xef\xbf\xbc\"");          // U+FFFC
  CHECK(go_quote("\xef\xbf\xb9") == R"("\ufff9")");               // annotation anchor (format)
  CHECK(go_quote("\xef\xbf\xbf") == R"("\uffff")");               // noncharacter
}

TEST_CASE("go_quote: keep_unicode copies every valid rune from U+0080") {
  const auto style = QuoteStyle::keep_unicode();
  CHECK(go_quote("\xc2\x85\xe2\x80\x8b", style) == "\"\xc2\x85\xe2\x80\x8b\"");
  CHECK(go_quote("\xef\xbf\xbd", style) == "\"\xef\xbf\xbd\"");  // a valid U+FFFD is a rune
  CHECK(go_quote("\xff\"\a\x01", style) == R"("\xff\"\a\x01")");
}

TEST_CASE("go_quote: ascii_controls escapes ASCII only, bytes from 0x80 as they are") {
  const auto style = QuoteStyle::ascii_controls();
  CHECK(go_quote("a\"b\\c\n\r\t", style) == R"("a\"b\\c\n\r\t")");
  CHECK(go_quote("\a\b\f\v\x7f", style) == R"("\x07\x08\x0c\x0b\x7f")");
  CHECK(go_quote("\xff\xc2\x85", style) == "\"\xff\xc2\x85\"");
}

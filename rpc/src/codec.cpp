#include "rpc/codec.hpp"

#include <cctype>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <unordered_set>
#include <utility>

#include "rpc/params.hpp"
#include "session/json_string.hpp"

namespace goscope::rpc {
namespace json = boost::json;

// ------------------------------------------------------------------ raw JSON and numbers

json::value raw_json(std::string_view text) {
  std::string marked(1, kRawJsonMark);
  marked += text;
  return json::string(marked);
}

bool is_raw_json(const json::value& v) {
  const auto* s = v.if_string();
  return s != nullptr && !s->empty() && (*s)[0] == kRawJsonMark;
}

std::optional<std::string_view> number_literal(const json::value& v) {
  const auto* s = v.if_string();
  if (s == nullptr || s->empty() || (*s)[0] != kNumberMark)
    return std::nullopt;
  return std::string_view(s->data() + 1, s->size() - 1);
}

std::string compact_json(std::string_view text) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  bool in_string = false, escape = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (!in_string && (c == ' ' || c == '\t' || c == '\r' || c == '\n'))
      continue;
    if (c == '<' || c == '>' || c == '&') {
      out += "\\u00";
      out += hex[(static_cast<unsigned char>(c) >> 4) & 0xf];
      out += hex[static_cast<unsigned char>(c) & 0xf];
    } else if (c == '\xe2' && i + 2 < text.size() && text[i + 1] == '\x80' &&
               (text[i + 2] == '\xa8' || text[i + 2] == '\xa9')) {
      out += "\\u202";
      out += hex[static_cast<unsigned char>(text[i + 2]) & 0xf];
      i += 2;
      continue;
    } else {
      out += c;
    }
    if (in_string) {
      if (escape)
        escape = false;
      else if (c == '\\')
        escape = true;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    }
  }
  return out;
}

// ------------------------------------------------------------------------- the parser

namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/// ASCII case-insensitive equality (the envelope's keys are plain ASCII).
bool fold_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size())
    return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

void append_utf8(std::string& out, std::uint32_t r) {
  if (r < 0x80) {
    out += static_cast<char>(r);
  } else if (r < 0x800) {
    out += static_cast<char>(0xc0 | (r >> 6));
    out += static_cast<char>(0x80 | (r & 0x3f));
  } else if (r < 0x10000) {
    out += static_cast<char>(0xe0 | (r >> 12));
    out += static_cast<char>(0x80 | ((r >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (r & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (r >> 18));
    out += static_cast<char>(0x80 | ((r >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((r >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (r & 0x3f));
  }
}

/// The length of the valid UTF-8 sequence at s[i] (Go's utf8.DecodeRune rules: no
/// overlong forms, no surrogates, nothing above U+10FFFF), or 0 if it is invalid.
std::size_t utf8_length(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned c = b(i);
  auto cont = [&](std::size_t k, unsigned lo = 0x80, unsigned hi = 0xbf) {
    return k < s.size() && b(k) >= lo && b(k) <= hi;
  };
  if (c >= 0xc2 && c <= 0xdf)
    return cont(i + 1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    const unsigned lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
    return cont(i + 1, lo, hi) && cont(i + 2) ? 3 : 0;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    const unsigned lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
    return cont(i + 1, lo, hi) && cont(i + 2) && cont(i + 3) ? 4 : 0;
  }
  return 0;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/// One complete JSON text, read without recursion (depth is bounded by kMaxJsonDepth, but
/// the parser's own stack stays flat whatever the depth).
class Parser {
 public:
  Parser(std::string_view s, bool raw_ids) : s_(s), raw_ids_(raw_ids) {}

  json::value parse() {
    json::value v = value();
    skip_space();
    if (i_ != s_.size())
      fail("invalid character after top-level value");
    return v;
  }

 private:
  struct Frame {
    bool object = false;
    json::array array;
    std::vector<std::pair<std::string, json::value>> members;
    std::string key;
    std::size_t value_start = 0;  ///< where the current member's value starts (raw ids)
  };

  [[noreturn]] void fail(const char* what) const {
    throw CodecError(std::string(what) + " at offset " + std::to_string(i_));
  }
  void skip_space() {
    while (i_ < s_.size() && is_space(s_[i_])) ++i_;
  }
  char peek() {
    skip_space();
    if (i_ >= s_.size())
      fail("unexpected end of JSON input");
    return s_[i_];
  }

  void open(bool object) {
    if (stack_.size() >= kMaxJsonDepth)
      fail("exceeded max depth");
    ++i_;
    stack_.emplace_back();
    stack_.back().object = object;
  }

  /// Reads `"key" :` of the innermost object and notes where its value starts.
  void member_key() {
    if (peek() != '"')
      fail("invalid character looking for beginning of object key string");
    auto& f = stack_.back();
    f.key = string();
    if (peek() != ':')
      fail("invalid character after object key");
    ++i_;
    skip_space();
    f.value_start = i_;
  }

  /// An object's members with Go's rule for a key given twice: the last one counts.
  static json::value finish_object(Frame& f) {
    json::object o;
    o.reserve(f.members.size());
    std::vector<bool> keep(f.members.size(), true);
    if (f.members.size() > 1) {
      std::unordered_set<std::string_view> seen;
      for (std::size_t k = f.members.size(); k-- > 0;)
        keep[k] = seen.insert(f.members[k].first).second;
    }
    for (std::size_t k = 0; k < f.members.size(); ++k) {
      if (keep[k])
        o.emplace(f.members[k].first, std::move(f.members[k].second));
    }
    return o;
  }

  json::value value() {
    json::value v;
    for (;;) {
      // Read a value: a scalar into `v`, or open a container and loop for its first member.
      const char c = peek();
      if (c == '{') {
        open(true);
        if (peek() == '}') {
          ++i_;
          v = json::object();
          stack_.pop_back();
        } else {
          member_key();
          continue;
        }
      } else if (c == '[') {
        open(false);
        if (peek() == ']') {
          ++i_;
          v = json::array();
          stack_.pop_back();
        } else {
          continue;
        }
      } else if (c == '"') {
        v = json::string(string());
      } else if (c == '-' || (c >= '0' && c <= '9')) {
        v = number();
      } else if (literal("true")) {
        v = true;
      } else if (literal("false")) {
        v = false;
      } else if (literal("null")) {
        v = nullptr;
      } else {
        fail("invalid character looking for beginning of value");
      }
      // Hand `v` to the enclosing containers, closing those that end here.
      for (;;) {
        if (stack_.empty())
          return v;
        auto& f = stack_.back();
        if (f.object) {
          if (raw_ids_ && stack_.size() == 1 && fold_equal(f.key, "id"))
            v = raw_json(compact_json(s_.substr(f.value_start, i_ - f.value_start)));
          f.members.emplace_back(std::move(f.key), std::move(v));
          const char d = peek();
          ++i_;
          if (d == ',') {
            member_key();
            break;
          }
          if (d != '}')
            fail("invalid character after object key:value pair");
          v = finish_object(f);
        } else {
          f.array.push_back(std::move(v));
          const char d = peek();
          ++i_;
          if (d == ',')
            break;
          if (d != ']')
            fail("invalid character after array element");
          v = std::move(f.array);
        }
        stack_.pop_back();
      }
    }
  }

  bool literal(std::string_view word) {
    if (s_.substr(i_, word.size()) != word)
      return false;
    i_ += word.size();
    return true;
  }

  /// A quoted string, unquoted as Go does: invalid UTF-8 bytes and unpaired surrogate
  /// escapes become U+FFFD.
  std::string string() {
    ++i_;  // the opening quote
    std::string out;
    for (;;) {
      if (i_ >= s_.size())
        fail("unexpected end of JSON input in string");
      const unsigned char c = static_cast<unsigned char>(s_[i_]);
      if (c == '"') {
        ++i_;
        return out;
      }
      if (c < 0x20)
        fail("invalid character in string literal");
      if (c == '\\') {
        if (i_ + 1 >= s_.size())
          fail("unexpected end of JSON input in string escape");
        const char e = s_[i_ + 1];
        i_ += 2;
        switch (e) {
          case '"':
          case '\\':
          case '/':
            out += e;
            break;
          case 'b':
            out += '\b';
            break;
          case 'f':
            out += '\f';
            break;
          case 'n':
            out += '\n';
            break;
          case 'r':
            out += '\r';
            break;
          case 't':
            out += '\t';
            break;
          case 'u': {
            std::uint32_t r = u4(i_);
            i_ += 4;
            if (r >= 0xd800 && r < 0xe000) {
              // A pair only if a low surrogate escape follows; otherwise U+FFFD and the next
              // escape is read on its own (Go's unquote).
              if (r < 0xdc00 && i_ + 6 <= s_.size() && s_[i_] == '\\' && s_[i_ + 1] == 'u') {
                const auto lo = u4_or_none(i_ + 2);
                if (lo && *lo >= 0xdc00 && *lo < 0xe000) {
                  r = 0x10000 + ((r - 0xd800) << 10) + (*lo - 0xdc00);
                  i_ += 6;
                  append_utf8(out, r);
                  break;
                }
              }
              r = 0xfffd;
            }
            append_utf8(out, r);
            break;
          }
          default:
            fail("invalid character in string escape code");
        }
        continue;
      }
      if (c < 0x80) {
        out += static_cast<char>(c);
        ++i_;
        continue;
      }
      const std::size_t n = utf8_length(s_, i_);
      if (n == 0) {
        out += "\xef\xbf\xbd";
        ++i_;
      } else {
        out.append(s_.substr(i_, n));
        i_ += n;
      }
    }
  }

  std::optional<std::uint32_t> u4_or_none(std::size_t at) const {
    if (at + 4 > s_.size())
      return std::nullopt;
    std::uint32_t r = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      const int h = hex_value(s_[at + k]);
      if (h < 0)
        return std::nullopt;
      r = r * 16 + static_cast<std::uint32_t>(h);
    }
    return r;
  }
  std::uint32_t u4(std::size_t at) const {
    const auto r = u4_or_none(at);
    if (!r)
      fail("invalid character in \\u hexadecimal character escape");
    return *r;
  }

  /// A number: an int64 or uint64 when it is an exact integer, else its marked literal.
  json::value number() {
    const std::size_t start = i_;
    auto digits = [&] {
      const std::size_t from = i_;
      while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
      return i_ - from;
    };
    if (s_[i_] == '-')
      ++i_;
    if (i_ < s_.size() && s_[i_] == '0') {
      ++i_;
    } else if (digits() == 0) {
      fail("invalid character in numeric literal");
    }
    bool integer = true;
    if (i_ < s_.size() && s_[i_] == '.') {
      ++i_;
      integer = false;
      if (digits() == 0)
        fail("invalid character after decimal point in numeric literal");
    }
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      ++i_;
      integer = false;
      if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-'))
        ++i_;
      if (digits() == 0)
        fail("invalid character in exponent of numeric literal");
    }
    const std::string_view lit = s_.substr(start, i_ - start);
    if (integer && lit != "-0") {
      std::int64_t i = 0;
      if (auto r = std::from_chars(lit.data(), lit.data() + lit.size(), i); r.ec == std::errc{})
        return i;
      std::uint64_t u = 0;
      if (auto r = std::from_chars(lit.data(), lit.data() + lit.size(), u); r.ec == std::errc{})
        return u;
    }
    std::string marked(1, kNumberMark);
    marked += lit;
    return json::string(marked);
  }

  std::string_view s_;
  bool raw_ids_;
  std::size_t i_ = 0;
  std::vector<Frame> stack_;
};

}  // namespace

json::value parse_go_json(std::string_view text, bool raw_ids) {
  return Parser(text, raw_ids).parse();
}

// -------------------------------------------------------------------- stream framing

StreamDecoder::StreamDecoder() = default;

std::vector<json::value> StreamDecoder::feed(std::string_view bytes) {
  if (error_)
    throw CodecError(*error_);
  std::vector<json::value> out;
  try {
    std::size_t i = 0;
    while (i < bytes.size()) {
      if (!in_value_) {
        // Whitespace between values is not part of any value.
        while (i < bytes.size() && is_space(bytes[i])) ++i;
        if (i == bytes.size())
          break;
        // Go's codec decodes each value into its request struct: only an object (or null,
        // which leaves every field empty) can be a request. Anything else ends the stream.
        if (bytes[i] != '{' && bytes[i] != 'n')
          throw CodecError("json: cannot unmarshal a non-object into the request");
        in_value_ = true;
      }
      if (buf_.empty() ? bytes[i] == 'n' : buf_[0] == 'n') {
        // A top-level null: complete once its four letters are in.
        while (i < bytes.size() && buf_.size() < 4) buf_ += bytes[i++];
        if (buf_.size() < 4)
          break;
        if (buf_ != "null")
          throw CodecError("invalid character in literal null");
        out.push_back(nullptr);
        buf_.clear();
        in_value_ = false;
        continue;
      }
      // Copy up to the end of the top-level object, tracking strings and nesting.
      const std::size_t from = i;
      bool complete = false;
      for (; i < bytes.size(); ++i) {
        const char c = bytes[i];
        if (in_string_) {
          if (escape_)
            escape_ = false;
          else if (c == '\\')
            escape_ = true;
          else if (c == '"')
            in_string_ = false;
        } else if (c == '"') {
          in_string_ = true;
        } else if (c == '{' || c == '[') {
          if (++depth_ > kMaxJsonDepth)
            throw CodecError("exceeded max depth");
        } else if (c == '}' || c == ']') {
          if (--depth_ == 0) {
            ++i;
            complete = true;
            break;
          }
        }
      }
      if (buf_.size() + (i - from) > kMaxRequestBytes)
        throw CodecError("request larger than " + std::to_string(kMaxRequestBytes) + " bytes");
      buf_.append(bytes.substr(from, i - from));
      if (complete) {
        out.push_back(parse_go_json(buf_, true));
        buf_.clear();
        in_value_ = false;
      }
    }
  } catch (const CodecError& e) {
    if (out.empty())
      throw;
    error_ = e.what();
  }
  return out;
}

// ------------------------------------------------------------------------ the envelope

Request parse_request(const json::value& v) {
  return parse_request(json::value(v));
}

Request parse_request(json::value&& v) {
  Request req;
  // A null request leaves every field empty, as in Go: the method "" is unknown.
  if (v.is_null())
    return req;
  auto* obj = v.if_object();
  if (obj == nullptr)
    throw CodecError("json: cannot unmarshal a non-object into the request");
  // Go matches the envelope's keys case-insensitively and keeps the last of a key given
  // twice: the members are read in order (a moved-from value is never read again).
  bool has_params = false;
  for (auto& kv : *obj) {
    const std::string_view key = kv.key();
    if (fold_equal(key, "method")) {
      if (kv.value().is_null())
        continue;
      if (!kv.value().is_string() || number_literal(kv.value()))
        throw CodecError("json: cannot unmarshal into Go struct field serverRequest.method");
      req.method = std::string(kv.value().get_string());
    } else if (fold_equal(key, "id")) {
      req.id = std::move(kv.value());
    } else if (fold_equal(key, "params")) {
      has_params = !kv.value().is_null();
      if (!has_params)
        continue;
      auto* arr = kv.value().if_array();
      if (arr == nullptr)
        throw CodecError("json: cannot unmarshal params into Go value of type [1]interface {}");
      // The argument struct is the first element (more are read and dropped); a missing or
      // null first element leaves it zero.
      req.params = arr->empty() ? json::value(json::object()) : std::move((*arr)[0]);
      if (req.params.is_null())
        req.params = json::object();
    }
  }
  // Delve reads the arguments only for a method it has (others get "unknown method").
  if (!is_known_method(req.method))
    return req;
  if (!has_params)
    throw CodecError("jsonrpc: request body missing params");
  check_params(req.method, req.params);
  return req;
}

// ------------------------------------------------------------------------- the encoder

namespace {

void write_value(std::string& out, const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      out += "null";
      break;
    case json::kind::bool_:
      out += v.get_bool() ? "true" : "false";
      break;
    case json::kind::int64:
      out += std::to_string(v.get_int64());
      break;
    case json::kind::uint64:
      out += std::to_string(v.get_uint64());
      break;
    case json::kind::double_: {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.17g", v.get_double());
      out += buf;
      break;
    }
    case json::kind::string:
      session::append_json_string(out, v.get_string());
      break;
    case json::kind::array: {
      out.push_back('[');
      bool first = true;
      for (const auto& e : v.get_array()) {
        if (!first)
          out.push_back(',');
        first = false;
        write_value(out, e);
      }
      out.push_back(']');
      break;
    }
    case json::kind::object: {
      out.push_back('{');
      bool first = true;
      for (const auto& kv : v.get_object()) {
        if (!first)
          out.push_back(',');
        first = false;
        session::append_json_string(out, kv.key());
        out.push_back(':');
        write_value(out, kv.value());
      }
      out.push_back('}');
      break;
    }
  }
}

/// The request id: its raw text when the decoder kept it, else Go's encoding of the value.
void write_id(std::string& out, const json::value& id) {
  if (is_raw_json(id))
    out.append(id.get_string().data() + 1, id.get_string().size() - 1);
  else
    write_value(out, id);
}

}  // namespace

std::string go_json(const json::value& v) {
  std::string out;
  write_value(out, v);
  return out;
}

std::string id_json(const json::value& id) {
  std::string out;
  write_id(out, id);
  return out;
}

std::string encode_response(const json::value& id, const json::value& result,
                            const std::optional<std::string>& error) {
  std::string out = "{\"id\":";
  write_id(out, id);
  out += ",\"result\":";
  write_value(out, error ? json::value(nullptr) : result);
  out += ",\"error\":";
  if (error) {
    session::append_json_string(out, *error);
  } else {
    out += "null";
  }
  out += "}\n";
  return out;
}

std::string encode_response_text(const json::value& id, std::string_view result_json) {
  std::string out;
  out.reserve(result_json.size() + 48);
  out += "{\"id\":";
  write_id(out, id);
  out += ",\"result\":";
  out += result_json;
  out += ",\"error\":null}\n";
  return out;
}

std::string json_value_kind(const json::value& v, bool with_number) {
  if (const auto lit = number_literal(v))
    return with_number ? "number " + std::string(*lit) : "number";
  switch (v.kind()) {
    case json::kind::int64:
      return with_number ? "number " + std::to_string(v.get_int64()) : "number";
    case json::kind::uint64:
      return with_number ? "number " + std::to_string(v.get_uint64()) : "number";
    case json::kind::double_:
      return "number";
    case json::kind::string:
      return "string";
    case json::kind::bool_:
      return "bool";
    case json::kind::array:
      return "array";
    case json::kind::object:
      return "object";
    case json::kind::null:
      break;
  }
  return "null";
}

}  // namespace goscope::rpc

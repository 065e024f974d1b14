#include "rpc/codec.hpp"

#include <cstdint>
#include <cstdio>

namespace goscope::rpc {
namespace json = boost::json;

StreamDecoder::StreamDecoder() = default;

std::vector<json::value> StreamDecoder::feed(std::string_view bytes) {
  std::vector<json::value> out;
  while (!bytes.empty()) {
    if (!in_value_) {
      // Whitespace between values is not part of any value.
      const auto first = bytes.find_first_not_of(" \t\r\n");
      if (first == std::string_view::npos)
        return out;
      bytes.remove_prefix(first);
      in_value_ = true;
    }
    boost::system::error_code ec;
    const auto n = parser_.write_some(bytes.data(), bytes.size(), ec);
    if (ec)
      throw CodecError("invalid character in JSON input: " + ec.message());
    bytes.remove_prefix(n);
    if (parser_.done()) {
      out.push_back(parser_.release());
      parser_.reset();
      in_value_ = false;
    }
  }
  return out;
}

Request parse_request(const json::value& v) {
  const auto* obj = v.if_object();
  if (obj == nullptr)
    throw CodecError("request is not a JSON object");
  Request req;
  // Go decodes the envelope case-insensitively too.
  for (const auto& kv : *obj) {
    std::string key(kv.key());
    for (auto& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (key == "method") {
      if (!kv.value().is_string())
        throw CodecError("method is not a string");
      req.method = std::string(kv.value().get_string());
    } else if (key == "id") {
      req.id = kv.value();
    } else if (key == "params") {
      const auto* arr = kv.value().if_array();
      if (arr == nullptr)
        throw CodecError("params is not an array");
      req.params = arr->empty() ? json::value(json::object()) : (*arr)[0];
      if (req.params.is_null())
        req.params = json::object();
    }
  }
  if (!obj->contains("params") && !obj->contains("Params")) {
    bool found = false;
    for (const auto& kv : *obj) {
      std::string key(kv.key());
      for (auto& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      found |= key == "params";
    }
    if (!found)
      throw CodecError("request has no params");
  }
  return req;
}

namespace {

void write_string(std::string& out, std::string_view s) {
  static const char* hexd = "0123456789abcdef";
  out.push_back('"');
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        case '<':
        case '>':
        case '&':
        default:
          if (c < 0x20 || c == '<' || c == '>' || c == '&') {
            out += "\\u00";
            out.push_back(hexd[c >> 4]);
            out.push_back(hexd[c & 0xf]);
          } else {
            out.push_back(static_cast<char>(c));
          }
      }
      ++i;
      continue;
    }
    // Validate one UTF-8 sequence; invalid bytes become U+FFFD as in Go.
    std::size_t len = 0;
    std::uint32_t cp = 0;
    if ((c & 0xe0) == 0xc0) {
      len = 2;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      len = 3;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      len = 4;
      cp = c & 0x07;
    }
    bool ok = len != 0 && i + len <= s.size();
    for (std::size_t k = 1; ok && k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      ok = (cc & 0xc0) == 0x80;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if (ok) {
      ok = !((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
             cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff));
    }
    if (!ok) {
      out += "\\ufffd";
      ++i;
      continue;
    }
    if (cp == 0x2028 || cp == 0x2029) {
      out += cp == 0x2028 ? "\\u2028" : "\\u2029";
    } else {
      out.append(s.substr(i, len));
    }
    i += len;
  }
  out.push_back('"');
}

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
      write_string(out, v.get_string());
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
        write_string(out, kv.key());
        out.push_back(':');
        write_value(out, kv.value());
      }
      out.push_back('}');
      break;
    }
  }
}

}  // namespace

std::string go_json(const json::value& v) {
  std::string out;
  write_value(out, v);
  return out;
}

std::string encode_response(const json::value& id, const json::value& result,
                            const std::optional<std::string>& error) {
  std::string out = "{\"id\":";
  write_value(out, id);
  out += ",\"result\":";
  write_value(out, error ? json::value(nullptr) : result);
  out += ",\"error\":";
  if (error) {
    write_string(out, *error);
  } else {
    out += "null";
  }
  out += "}\n";
  return out;
}

}  // namespace goscope::rpc

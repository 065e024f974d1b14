#include "rpc/codec.hpp"

#include "session/json_string.hpp"

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
  return parse_request(json::value(v));
}

Request parse_request(json::value&& v) {
  auto* obj = v.if_object();
  if (obj == nullptr)
    throw CodecError("request is not a JSON object");
  Request req;
  // Go decodes the envelope case-insensitively too.
  // The members are moved out (a key seen twice: Go keeps the last one, as here, and a
  // moved-from value is never read again).
  for (auto& kv : *obj) {
    std::string key(kv.key());
    for (auto& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (key == "method") {
      if (!kv.value().is_string())
        throw CodecError("method is not a string");
      req.method = std::string(kv.value().get_string());
    } else if (key == "id") {
      req.id = std::move(kv.value());
    } else if (key == "params") {
      auto* arr = kv.value().if_array();
      if (arr == nullptr)
        throw CodecError("params is not an array");
      req.params = arr->empty() ? json::value(json::object()) : std::move((*arr)[0]);
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
  write_value(out, id);
  out += ",\"result\":";
  out += result_json;
  out += ",\"error\":null}\n";
  return out;
}

}  // namespace goscope::rpc

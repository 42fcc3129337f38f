#include "http/json_mapping.h"

#include <memory>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/util/json_util.h>

#include <nlohmann/json.hpp>

#include "directory/import_rows.h"
#include "errors/errors.h"

namespace users {
namespace {

using google::protobuf::FieldDescriptor;

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decoding is a dozen lines; Boost 1.74 has no URL library (Boost.URL
// came in 1.81) and Beast leaves the target to the application.
absl::StatusOr<std::string> Decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '+') {
      out += ' ';
    } else if (c != '%') {
      out += c;
    } else {
      const int hi = i + 2 < text.size() ? HexValue(text[i + 1]) : -1;
      const int lo = hi >= 0 ? HexValue(text[i + 2]) : -1;
      if (lo < 0) {
        return absl::InvalidArgumentError(
            "malformed percent-escape in the query string");
      }
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    }
  }
  return out;
}

const FieldDescriptor* FindField(const google::protobuf::Descriptor* type,
                                 const std::string& name) {
  for (int i = 0; i < type->field_count(); ++i) {
    if (type->field(i)->json_name() == name) return type->field(i);
  }
  return type->FindFieldByName(name);
}

bool IsUtf8(const std::string& text) {
  try {
    (void)nlohmann::json(text).dump();
    return true;
  } catch (const nlohmann::json::exception&) {
    return false;
  }
}

absl::Status BadParameter(const std::string& given, std::string description) {
  // A status's text must be UTF-8 (it is a protobuf string on the wire):
  // a name that is not is not echoed (found by the http_request fuzzer).
  const std::string name = IsUtf8(given) ? given : "(not UTF-8)";
  const std::string message =
      "invalid query parameter " + name + ": " + description;
  return InvalidArgumentError(message, {{name, std::move(description)}});
}

}  // namespace

absl::StatusOr<QueryParams> ParseQuery(std::string_view query) {
  QueryParams params;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view()
                                          : query.substr(amp + 1);
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    auto name = Decode(pair.substr(0, eq));
    auto value = Decode(eq == std::string_view::npos ? std::string_view()
                                                     : pair.substr(eq + 1));
    if (!name.ok()) return name.status();
    if (!value.ok()) return value.status();
    params.emplace_back(*std::move(name), *std::move(value));
  }
  return params;
}

absl::Status MergeQuery(const QueryParams& params,
                        google::protobuf::Message* message) {
  if (params.empty()) return absl::OkStatus();
  // The parameters become a JSON object that protobuf's JSON parser then
  // reads, so that types, ranges and UTF-8 are checked exactly as in a body.
  const auto* type = message->GetDescriptor();
  nlohmann::json object = nlohmann::json::object();
  for (const auto& [name, value] : params) {
    const FieldDescriptor* field = FindField(type, name);
    const bool scalar_or_mask =
        field != nullptr &&
        (field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE ||
         field->message_type()->full_name() == "google.protobuf.FieldMask");
    if (!scalar_or_mask) {
      return BadParameter(name, "no such parameter");
    }
    nlohmann::json json_value = value;
    if (field->cpp_type() == FieldDescriptor::CPPTYPE_BOOL) {
      if (value != "true" && value != "false") {
        return BadParameter(name, "must be true or false");
      }
      json_value = value == "true";
    }
    auto& slot = object[field->json_name()];
    if (field->is_repeated()) {
      if (slot.is_null()) slot = nlohmann::json::array();
      slot.push_back(std::move(json_value));
    } else if (!slot.is_null()) {
      return BadParameter(name, "given more than once");
    } else {
      slot = std::move(json_value);
    }
  }
  std::string text;
  try {
    text = object.dump();
  } catch (const nlohmann::json::exception&) {
    return absl::InvalidArgumentError(
        "the query string is not UTF-8 once decoded");
  }
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  // Parsed apart and merged: the parser clears what it parses into.
  std::unique_ptr<google::protobuf::Message> fields(message->New());
  const auto parsed =
      google::protobuf::util::JsonStringToMessage(text, fields.get(), options);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError("invalid query parameter: " +
                                      std::string(parsed.message()));
  }
  message->MergeFrom(*fields);
  return absl::OkStatus();
}

absl::Status ParseJsonBody(std::string_view body,
                           google::protobuf::Message* message) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    return absl::InvalidArgumentError("a JSON body is required");
  }
  // nlohmann first: it rejects invalid UTF-8 and names the byte where the
  // JSON breaks, which protobuf's parser does not.
  try {
    const auto checked = nlohmann::json::parse(body);
    (void)checked;
  } catch (const nlohmann::json::parse_error& e) {
    return absl::InvalidArgumentError("malformed JSON body at byte " +
                                      std::to_string(e.byte) + ": " +
                                      JsonErrorReason(e.what()));
  } catch (const nlohmann::json::exception& e) {
    // out_of_range for a number past a double, 1e999 (found by
    // fuzz/http_request_fuzzer.cc): "[json.exception.out_of_range.406]
    // number overflow parsing '1e999'".
    std::string why = e.what();
    if (const size_t tag = why.find("] "); tag != std::string::npos) {
      why.erase(0, tag + 2);
    }
    return absl::InvalidArgumentError("malformed JSON body: " + why);
  }
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  std::unique_ptr<google::protobuf::Message> fields(message->New());
  const auto parsed = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(body.data(), body.size()), fields.get(),
      options);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError("invalid JSON body for " +
                                      message->GetDescriptor()->name() + ": " +
                                      std::string(parsed.message()));
  }
  message->MergeFrom(*fields);
  return absl::OkStatus();
}

bool JsonObjectHasKey(std::string_view body, std::string_view key) {
  const auto json = nlohmann::json::parse(body, nullptr,
                                          /*allow_exceptions=*/false);
  return json.is_object() && json.contains(key);
}

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  std::string json;
  // Fails only for an Any of an unknown type; the API's messages have none.
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  return json;
}

}  // namespace users

// Requests into messages and messages into JSON, with protobuf's own JSON
// mapping (lowerCamelCase names, int64 as strings, FieldMask as "a,b"): the
// API never writes a message's JSON by hand.
//
// Query parameters are mapped the way grpc-gateway maps them: a parameter
// names a field of the request by its JSON or proto name; a repeated field
// takes the parameter once per value; a FieldMask takes "a,b". Everything
// not in the path or the body comes from the query.
#ifndef USERS_HTTP_JSON_MAPPING_H_
#define USERS_HTTP_JSON_MAPPING_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <google/protobuf/message.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace users {

using QueryParams = std::vector<std::pair<std::string, std::string>>;

// Splits and percent-decodes a query string ("a=1&b=x%20y"; '+' is a space).
// INVALID_ARGUMENT for a malformed escape.
absl::StatusOr<QueryParams> ParseQuery(std::string_view query);

// Sets the fields `params` name in `message`. INVALID_ARGUMENT, with a field
// violation naming the parameter, for an unknown name, a value not of the
// field's type, or text that is not UTF-8.
absl::Status MergeQuery(const QueryParams& params,
                        google::protobuf::Message* message);

// Parses a JSON body into `message`: INVALID_ARGUMENT for an empty body,
// malformed JSON or invalid UTF-8 (with the byte offset), an unknown field,
// or a value of the wrong type (naming the field).
absl::Status ParseJsonBody(std::string_view body,
                           google::protobuf::Message* message);

// Whether `body` is a JSON object with the top-level key `key` (false for
// anything unparsable: ParseJsonBody then explains).
bool JsonObjectHasKey(std::string_view body, std::string_view key);

// The message in protobuf's JSON mapping, every field printed (a client sees
// "version": "0", not a missing key).
std::string ToJson(const google::protobuf::Message& message);

}  // namespace users

#endif  // USERS_HTTP_JSON_MAPPING_H_

// How a call's absl::Status reaches an HTTP caller: the status code Google
// APIs and grpc-gateway use for each gRPC code, and a google.rpc.Status in
// protobuf's JSON mapping as the body, with its details (a BadRequest's field
// violations), so an HTTP client sees what a gRPC client sees.
#ifndef USERS_HTTP_STATUS_MAPPING_H_
#define USERS_HTTP_STATUS_MAPPING_H_

#include <string>

#include "absl/status/status.h"

namespace users {

// 200 for OK; 400, 401, 403, 404, 409, 429, 499, 500, 501, 503 or 504.
int HttpStatusFromCode(absl::StatusCode code);

// {"code": 5, "message": "...", "details": [{"@type": ...}]}.
std::string StatusToJson(const absl::Status& status);

}  // namespace users

#endif  // USERS_HTTP_STATUS_MAPPING_H_

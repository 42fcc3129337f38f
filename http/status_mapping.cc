#include "http/status_mapping.h"

#include <google/protobuf/util/json_util.h>

#include "errors/errors.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace users {

int HttpStatusFromCode(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kCancelled:
      return 499;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kDeadlineExceeded:
      return 504;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kAborted:
      return 409;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kUnimplemented:
      return 501;
    case absl::StatusCode::kUnavailable:
      return 503;
    default:  // UNKNOWN, INTERNAL, DATA_LOSS
      return 500;
  }
}

std::string StatusToJson(const absl::Status& status) {
  google::rpc::Status rich;
  rich.set_code(static_cast<int>(status.code()));
  rich.set_message(std::string(status.message()));
  if (auto bad_request = status.GetPayload(kBadRequestTypeUrl)) {
    auto* any = rich.add_details();
    any->set_type_url(std::string(kBadRequestTypeUrl));
    any->set_value(std::string(*bad_request));
  }
  // Links BadRequest in, so the JSON printer can resolve the Any's type.
  (void)google::rpc::BadRequest::descriptor();
  std::string json;
  // Printing fails only for an Any whose type is unknown; BadRequest is
  // linked in (error_details.pb.h), so fall back to no details just in case.
  if (!google::protobuf::util::MessageToJsonString(rich, &json).ok()) {
    rich.clear_details();
    json.clear();
    (void)google::protobuf::util::MessageToJsonString(rich, &json);
  }
  return json;
}

}  // namespace users

#include "client/commands.h"

#include <google/protobuf/text_format.h>
#include <google/protobuf/util/json_util.h>

#include "absl/status/status.h"
#include "errors/errors.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace users::client {

std::unique_ptr<grpc::ClientContext> MakeContext(const CallOptions& options) {
  auto context = std::make_unique<grpc::ClientContext>();
  if (options.timeout.count() > 0) {
    context->set_deadline(std::chrono::system_clock::now() + options.timeout);
  }
  if (!options.token.empty()) {
    context->AddMetadata("authorization", "Bearer " + options.token);
  }
  if (!options.request_id.empty()) {
    context->AddMetadata("x-request-id", options.request_id);
  }
  return context;
}

void PrintMessage(const google::protobuf::Message& message, bool json,
                  std::ostream& out) {
  std::string text;
  if (json) {
    google::protobuf::util::JsonPrintOptions json_options;
    json_options.preserve_proto_field_names = false;
    (void)google::protobuf::util::MessageToJsonString(message, &text,
                                                      json_options);
    out << text << "\n";
  } else {
    google::protobuf::TextFormat::PrintToString(message, &text);
    out << text;
  }
}

void PrintError(const grpc::Status& status, std::ostream& err) {
  err << StatusCodeName(static_cast<absl::StatusCode>(status.error_code()))
      << ": " << status.error_message() << "\n";
  if (status.error_details().empty()) return;
  google::rpc::Status rich;
  if (!rich.ParseFromString(status.error_details())) return;
  for (const auto& detail : rich.details()) {
    google::rpc::BadRequest bad_request;
    if (detail.UnpackTo(&bad_request)) {
      for (const auto& v : bad_request.field_violations()) {
        err << "  " << v.field() << ": " << v.description() << "\n";
      }
    }
  }
}

int ListUser(user::Users::StubInterface& stub, int32_t id,
             const std::string& name, const CallOptions& options,
             std::ostream& out, std::ostream& err) {
  user::UserRequest request;
  request.set_id(id);
  request.set_name(name);
  user::UserResponse response;
  auto context = MakeContext(options);
  grpc::Status status = stub.ListUser(context.get(), request, &response);
  if (!status.ok()) {
    PrintError(status, err);
    return 1;
  }
  out << "client received: ";
  PrintMessage(response, options.json, out);
  return 0;
}

}  // namespace users::client

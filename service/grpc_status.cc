#include "service/grpc_status.h"

#include <string>

#include "errors/errors.h"
#include "google/rpc/status.pb.h"

namespace users {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  const auto code = static_cast<grpc::StatusCode>(status.code());
  std::string message(status.message());
  auto bad_request = status.GetPayload(kBadRequestTypeUrl);
  if (!bad_request) return grpc::Status(code, std::move(message));

  google::rpc::Status rich;
  rich.set_code(static_cast<int>(status.code()));
  rich.set_message(message);
  auto* any = rich.add_details();
  any->set_type_url(std::string(kBadRequestTypeUrl));
  any->set_value(std::string(*bad_request));
  return grpc::Status(code, std::move(message), rich.SerializeAsString());
}

}  // namespace users

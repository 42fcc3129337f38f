#include "service/admission.h"

#include <string>

#include "service/error_boundary.h"

namespace users {

grpc::Status Admission::Admit(const grpc::CallbackServerContext* context,
                              Access access) const {
  // The interceptor counted this call before the handler ran, hence ">".
  if (options_.max_inflight > 0 && options_.metrics != nullptr &&
      options_.metrics->inflight() > options_.max_inflight) {
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        "server is at its limit of " +
                            std::to_string(options_.max_inflight) +
                            " calls in flight; retry with backoff");
  }
  if (options_.auth == nullptr) return grpc::Status::OK;
  const auto& metadata = context->client_metadata();
  auto it = metadata.find("authorization");
  std::string_view header;
  if (it != metadata.end())
    header = std::string_view(it->second.data(), it->second.size());
  return ToGrpcStatus(options_.auth->Authorize(header, access));
}

}  // namespace users

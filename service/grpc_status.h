// absl::Status, the pipeline's status (middleware/error_boundary.h), as the
// grpc::Status a grpc++ call finishes with.
#ifndef USERS_SERVICE_GRPC_STATUS_H_
#define USERS_SERVICE_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace users {

// The same code and message; field violations become a google.rpc.Status
// with a BadRequest detail in grpc-status-details-bin.
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace users

#endif  // USERS_SERVICE_GRPC_STATUS_H_

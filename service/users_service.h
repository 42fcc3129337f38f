// gRPC glue for user.Users: callback-API handlers that translate between
// protobuf and the network-free logic in directory/, and finish each call with
// the status the ErrorBoundary chooses. Thread-safe: handlers run concurrently
// on gRPC's callback threads and share no mutable state here.
#ifndef USERS_SERVICE_USERS_SERVICE_H_
#define USERS_SERVICE_USERS_SERVICE_H_

#include "service/error_boundary.h"
#include "service_protos/user.grpc.pb.h"

namespace users {

struct ServiceOptions {
  // What an exception that is not a users::RpcError becomes (grpc-interceptor's
  // status_on_unknown_exception).
  absl::StatusCode status_on_unknown_exception = absl::StatusCode::kInternal;
};

class UsersService final : public user::Users::CallbackService {
 public:
  explicit UsersService(ServiceOptions options = {});

  grpc::ServerUnaryReactor* ListUser(grpc::CallbackServerContext* context,
                                     const user::UserRequest* request,
                                     user::UserResponse* response) override;

 private:
  ErrorBoundary boundary_;
};

}  // namespace users

#endif  // USERS_SERVICE_USERS_SERVICE_H_

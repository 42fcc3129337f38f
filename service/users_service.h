// gRPC glue for user.Users: callback-API handlers that translate between
// protobuf and the network-free logic in directory/, and finish each call with
// the status the ErrorBoundary chooses. Thread-safe: handlers run concurrently
// on gRPC's callback threads and share no mutable state here.
#ifndef USERS_SERVICE_USERS_SERVICE_H_
#define USERS_SERVICE_USERS_SERVICE_H_

#include <vector>
#include "directory/directory.h"

#include "middleware/admission.h"
#include "middleware/error_boundary.h"
#include "service/call_interceptor.h"
#include "service/grpc_status.h"
#include "service/recycling_allocator.h"
#include "service/tolerant_message.h"
#include "service_protos/user.grpc.pb.h"

namespace users {

struct ServiceOptions {
  // What an exception that is not a users::RpcError becomes (grpc-interceptor's
  // status_on_unknown_exception).
  absl::StatusCode status_on_unknown_exception = absl::StatusCode::kInternal;
  AdmissionOptions admission;
  // Told about every user.Users call (access log, metrics); must outlive the
  // service.
  std::vector<CallObserver*> observers;
  // The server's largest sent message (0: unchecked). A ListUsers page over
  // it is answered RESOURCE_EXHAUSTED here, with the cause, instead of
  // failing inside grpc++ after an OK the access log would record.
  size_t max_reply_bytes = 0;
};

// Every method but the two hot reads (the tutorial's ListUser, GetUser:
// typed, with recycled messages, and Tolerant requests) is served raw and
// parses its own requests, so that one protobuf refuses (a string that is not
// UTF-8; bytes that are no message) gets INVALID_ARGUMENT, naming the field
// where there is one, rather than grpc++'s bare UNIMPLEMENTED or, for a client
// stream, a silent end (see directory/salvage.h). Spelled out rather than
// layered over user::Users::CallbackService: a raw LookupUsers has the typed
// one's parameters, so it could not override it.
using UsersCallbackService = user::Users::WithCallbackMethod_ListUser<
    user::Users::WithRawCallbackMethod_CreateUser<
        user::Users::WithCallbackMethod_GetUser<
            user::Users::WithRawCallbackMethod_UpdateUser<
                user::Users::WithRawCallbackMethod_DeleteUser<
                    user::Users::WithRawCallbackMethod_ListUsers<
                        user::Users::WithRawCallbackMethod_WatchUsers<
                            user::Users::WithRawCallbackMethod_ImportUsers<
                                user::Users::WithRawCallbackMethod_LookupUsers<
                                    user::Users::Service>>>>>>>>>;

class UsersService final : public UsersCallbackService {
 public:
  // `directory` must outlive the service; without a change feed there,
  // WatchUsers answers UNIMPLEMENTED.
  explicit UsersService(Directory* directory, ServiceOptions options = {});

  // Takes a CreateUserRequest, answers a User.
  grpc::ServerUnaryReactor* CreateUser(grpc::CallbackServerContext* context,
                                       const grpc::ByteBuffer* request,
                                       grpc::ByteBuffer* response) override;
  // Takes an UpdateUserRequest, answers a User.
  grpc::ServerUnaryReactor* UpdateUser(grpc::CallbackServerContext* context,
                                       const grpc::ByteBuffer* request,
                                       grpc::ByteBuffer* response) override;
  // Takes a DeleteUserRequest, answers an Empty.
  grpc::ServerUnaryReactor* DeleteUser(grpc::CallbackServerContext* context,
                                       const grpc::ByteBuffer* request,
                                       grpc::ByteBuffer* response) override;
  // Takes a ListUsersRequest, answers a ListUsersResponse.
  grpc::ServerUnaryReactor* ListUsers(grpc::CallbackServerContext* context,
                                      const grpc::ByteBuffer* request,
                                      grpc::ByteBuffer* response) override;

  // Takes a WatchUsersRequest, answers UserEvents.
  grpc::ServerWriteReactor<grpc::ByteBuffer>* WatchUsers(
      grpc::CallbackServerContext* context,
      const grpc::ByteBuffer* request) override;
  // Takes ImportUsersRequest messages, answers an ImportUsersResponse.
  grpc::ServerReadReactor<grpc::ByteBuffer>* ImportUsers(
      grpc::CallbackServerContext* context,
      grpc::ByteBuffer* response) override;
  // Takes GetUserRequests, answers LookupUsersResponses.
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* LookupUsers(
      grpc::CallbackServerContext* context) override;

 private:
  // Admission (middleware/admission.h) of this call, from its metadata.
  grpc::Status Admit(const grpc::CallbackServerContext* context,
                     Access access) const;
  // The typed reads take Tolerant requests (see service/tolerant_message.h);
  // their handlers are registered in the constructor, over the generated
  // ones (and named apart from them: an overload would hide the generated
  // virtuals).
  grpc::ServerUnaryReactor* TolerantListUser(
      grpc::CallbackServerContext* context,
      const Tolerant<user::UserRequest>* request, user::UserResponse* response);
  grpc::ServerUnaryReactor* TolerantGetUser(
      grpc::CallbackServerContext* context,
      const Tolerant<user::GetUserRequest>* request, user::User* response);

  // Registers `handler`, taking Tolerant requests from `allocator`, for the
  // method `name` in place of the generated typed handler.
  template <typename Request, typename Response>
  void MarkTolerantMethod(
      std::string_view name,
      grpc::ServerUnaryReactor* (UsersService::*handler)(
          grpc::CallbackServerContext*, const Tolerant<Request>*, Response*),
      grpc::MessageAllocator<Tolerant<Request>, Response>* allocator);

  // Runs a unary read to completion on this thread: `body` returns void or a
  // status, or throws.
  template <typename Body>
  grpc::ServerUnaryReactor* ServeRead(grpc::CallbackServerContext* context,
                                      std::string_view method, Body&& body);
  // Runs a write whose result arrives later, on the writer thread.
  template <typename Start>
  grpc::ServerUnaryReactor* StartWrite(grpc::CallbackServerContext* context,
                                       std::string_view method, Start&& start);
  // A StartWrite whose raw `request` is a Request with a user in field 1
  // (CreateUser, UpdateUser): parses it, answering one protobuf refuses with
  // the violations salvaged from it, then calls `write(parsed, done)`, where
  // `done` serializes the resulting user into `response`.
  template <typename Request, typename Write>
  grpc::ServerUnaryReactor* StartUserWrite(grpc::CallbackServerContext* context,
                                           std::string_view method,
                                           const grpc::ByteBuffer& request,
                                           grpc::ByteBuffer* response,
                                           bool new_user, Write&& write);

  // The two hottest unary methods reuse their messages (see the header).
  RecyclingAllocator<Tolerant<user::UserRequest>, user::UserResponse>
      list_user_allocator_;
  RecyclingAllocator<Tolerant<user::GetUserRequest>, user::User>
      get_user_allocator_;
  Directory* const directory_;
  ErrorBoundary boundary_;
  Admission admission_;
  const std::vector<CallObserver*> observers_;
  const size_t max_reply_bytes_;
};

}  // namespace users

#endif  // USERS_SERVICE_USERS_SERVICE_H_

#include "service/users_service.h"

#include <string>

#include "directory/salvage.h"
#include "directory/tutorial.h"
#include "service/raw_messages.h"
#include "service/stream_reactors.h"
#include "storage/call_deadline.h"

namespace users {
namespace {

// The completion of a write that answers with the user: serializes it into
// the (raw) response and finishes the call (on the writer thread, or inline
// on a rejection).
Directory::UserDone FinishWithUser(grpc::ServerUnaryReactor* reactor,
                                   grpc::ByteBuffer* response,
                                   std::shared_ptr<CallInterceptor> call) {
  return [reactor, response,
          call = std::move(call)](absl::StatusOr<user::User> user) {
    grpc::Status status = ToGrpcStatus(user.status());
    if (user.ok()) status = SerializeToByteBuffer(*user, response);
    reactor->Finish(call->End(status));
  };
}

}  // namespace

grpc::Status UsersService::Admit(const grpc::CallbackServerContext* context,
                                 Access access) const {
  std::string_view header;
  if (admission_.reads_authorization()) {
    const auto& metadata = context->client_metadata();
    if (auto it = metadata.find("authorization"); it != metadata.end()) {
      header = std::string_view(it->second.data(), it->second.size());
    }
  }
  return ToGrpcStatus(admission_.Admit(header, access));
}

UsersService::UsersService(Directory* directory, ServiceOptions options)
    : directory_(directory),
      boundary_(options.status_on_unknown_exception),
      admission_(options.admission),
      observers_(options.observers),
      max_reply_bytes_(options.max_reply_bytes) {
  MarkTolerantMethod("ListUser", &UsersService::TolerantListUser,
                     &list_user_allocator_);
  MarkTolerantMethod("GetUser", &UsersService::TolerantGetUser,
                     &get_user_allocator_);
}

template <typename Request, typename Response>
void UsersService::MarkTolerantMethod(
    std::string_view name,
    grpc::ServerUnaryReactor* (UsersService::*handler)(
        grpc::CallbackServerContext*, const Tolerant<Request>*, Response*),
    grpc::MessageAllocator<Tolerant<Request>, Response>* allocator) {
  auto* typed =
      new grpc::internal::CallbackUnaryHandler<Tolerant<Request>, Response>(
          [this, handler](grpc::CallbackServerContext* context,
                          const Tolerant<Request>* request,
                          Response* response) {
            return (this->*handler)(context, request, response);
          });
  typed->SetMessageAllocator(allocator);
  // Replaces the generated typed handler, which never calls a handler whose
  // request fails to parse.
  const auto* methods = user::UserRequest::descriptor()->file()->service(0);
  MarkMethodCallback(methods->FindMethodByName(std::string(name))->index(),
                     typed);
}

template <typename Body>
grpc::ServerUnaryReactor* UsersService::ServeRead(
    grpc::CallbackServerContext* context, std::string_view method,
    Body&& body) {
  // DefaultReactor finishes inline on this thread; a custom reactor would hop
  // threads in OnDone and cost ~30% of throughput (docs/performance.md,
  // "Measured before the code").
  auto* reactor = context->DefaultReactor();
  CallInterceptor call(observers_, context, method);
  if (auto denied = Admit(context, Access::kRead); !denied.ok()) {
    reactor->Finish(call.End(denied));
    return reactor;
  }
  // A store that talks to a database stops a statement at the deadline.
  CallDeadline deadline(context->deadline());
  reactor->Finish(
      call.End(ToGrpcStatus(boundary_.Run(method, std::forward<Body>(body)))));
  return reactor;
}

grpc::ServerUnaryReactor* UsersService::TolerantListUser(
    grpc::CallbackServerContext* context,
    const Tolerant<user::UserRequest>* request, user::UserResponse* response) {
  return ServeRead(context, "/user.Users/ListUser", [&]() -> absl::Status {
    if (!request->parsed) {
      return absl::InvalidArgumentError(UnparsableMessage("UserRequest"));
    }
    users::ListUser(request->message, response);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* UsersService::TolerantGetUser(
    grpc::CallbackServerContext* context,
    const Tolerant<user::GetUserRequest>* request, user::User* response) {
  return ServeRead(context, "/user.Users/GetUser", [&]() -> absl::Status {
    if (!request->parsed) {
      return absl::InvalidArgumentError(UnparsableMessage("GetUserRequest"));
    }
    return directory_->GetUser(request->message, response);
  });
}

grpc::ServerUnaryReactor* UsersService::ListUsers(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeRead(context, "/user.Users/ListUsers", [&]() -> absl::Status {
    user::ListUsersRequest parsed;
    if (!ParseByteBuffer(*request, &parsed)) {
      return UnparsableListUsersRequest(FlattenByteBuffer(*request));
    }
    user::ListUsersResponse page;
    absl::Status status = directory_->ListUsers(parsed, &page);
    if (!status.ok()) return status;
    if (const size_t bytes = page.ByteSizeLong();
        max_reply_bytes_ != 0 && bytes > max_reply_bytes_) {
      return absl::ResourceExhaustedError(
          "a page of " + std::to_string(page.users_size()) + " users is " +
          std::to_string(bytes) + " bytes, over the server's limit of " +
          std::to_string(max_reply_bytes_) +
          " (--max-message-bytes); ask for a smaller page_size");
    }
    if (!SerializeToByteBuffer(page, response).ok()) {
      return absl::InternalError("the page could not be serialized");
    }
    return absl::OkStatus();
  });
}

template <typename Start>
grpc::ServerUnaryReactor* UsersService::StartWrite(
    grpc::CallbackServerContext* context, std::string_view method,
    Start&& start) {
  auto* reactor = context->DefaultReactor();
  // Shared with the completion, which runs on the writer thread.
  auto call = std::make_shared<CallInterceptor>(observers_, context, method);
  if (auto denied = Admit(context, Access::kWrite); !denied.ok()) {
    reactor->Finish(call->End(denied));
    return reactor;
  }
  // `start` hands the directory a completion that finishes the reactor; it
  // runs on the writer thread after the commit, or inline on rejection. If
  // `start` throws, the write was never queued, so finishing here is the
  // only Finish.
  grpc::Status rejected =
      ToGrpcStatus(boundary_.Run(method, [&] { start(reactor, call); }));
  if (!rejected.ok()) reactor->Finish(call->End(rejected));
  return reactor;
}

template <typename Request, typename Write>
grpc::ServerUnaryReactor* UsersService::StartUserWrite(
    grpc::CallbackServerContext* context, std::string_view method,
    const grpc::ByteBuffer& request, grpc::ByteBuffer* response, bool new_user,
    Write&& write) {
  return StartWrite(
      context, method, [&](grpc::ServerUnaryReactor* reactor, auto call) {
        auto done = FinishWithUser(reactor, response, std::move(call));
        Request parsed;
        if (!ParseByteBuffer(request, &parsed)) {
          return done(UnparsableUserRequest(FlattenByteBuffer(request),
                                            Request::descriptor()->name(),
                                            new_user));
        }
        write(parsed, std::move(done));
      });
}

grpc::ServerUnaryReactor* UsersService::CreateUser(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return StartUserWrite<user::CreateUserRequest>(
      context, "/user.Users/CreateUser", *request, response,
      /*new_user=*/true, [&](const auto& parsed, auto done) {
        directory_->CreateUser(parsed, context->deadline(), std::move(done));
      });
}

grpc::ServerUnaryReactor* UsersService::UpdateUser(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return StartUserWrite<user::UpdateUserRequest>(
      context, "/user.Users/UpdateUser", *request, response,
      /*new_user=*/false, [&](const auto& parsed, auto done) {
        directory_->UpdateUser(parsed, context->deadline(), std::move(done));
      });
}

grpc::ServerUnaryReactor* UsersService::DeleteUser(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return StartWrite(
      context, "/user.Users/DeleteUser",
      [&](grpc::ServerUnaryReactor* reactor, auto call) {
        auto done = [reactor, response, call](absl::Status deleted) {
          grpc::Status status = ToGrpcStatus(deleted);
          if (status.ok()) {
            status = SerializeToByteBuffer(google::protobuf::Empty(), response);
          }
          reactor->Finish(call->End(status));
        };
        user::DeleteUserRequest parsed;
        if (!ParseByteBuffer(*request, &parsed)) {
          return done(absl::InvalidArgumentError(
              UnparsableMessage("DeleteUserRequest")));
        }
        directory_->DeleteUser(parsed, context->deadline(), std::move(done));
      });
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* UsersService::WatchUsers(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request) {
  using Reactor = grpc::ServerWriteReactor<grpc::ByteBuffer>;
  CallInterceptor call(observers_, context, "/user.Users/WatchUsers");
  if (!directory_->has_change_feed()) {
    return NewRejected<Reactor>(std::move(call),
                                grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                                             "this server has no change feed"));
  }
  if (auto denied = Admit(context, Access::kRead); !denied.ok()) {
    return NewRejected<Reactor>(std::move(call), denied);
  }
  user::WatchUsersRequest parsed;
  const bool parsed_ok = ParseByteBuffer(*request, &parsed);
  // grpc++ keeps a raw request for the whole call, and its slices can pin a
  // transport read buffer: ~300 bytes a watcher (10,000 idle watchers: 3 MB).
  // Parsed, it is needed no more; the object itself is not const.
  const_cast<grpc::ByteBuffer*>(request)->Clear();
  if (!parsed_ok) {
    return NewRejected<Reactor>(std::move(call),
                                ToGrpcStatus(absl::InvalidArgumentError(
                                    UnparsableMessage("WatchUsersRequest"))));
  }
  return NewWatchReactor(directory_, parsed, context, std::move(call),
                         &boundary_);
}

grpc::ServerReadReactor<grpc::ByteBuffer>* UsersService::ImportUsers(
    grpc::CallbackServerContext* context, grpc::ByteBuffer* response) {
  CallInterceptor call(observers_, context, "/user.Users/ImportUsers");
  if (auto denied = Admit(context, Access::kWrite); !denied.ok()) {
    return NewRejected<grpc::ServerReadReactor<grpc::ByteBuffer>>(
        std::move(call), denied);
  }
  return NewImportReactor(directory_, response, context->deadline(),
                          std::move(call), &boundary_);
}

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>*
UsersService::LookupUsers(grpc::CallbackServerContext* context) {
  CallInterceptor call(observers_, context, "/user.Users/LookupUsers");
  if (auto denied = Admit(context, Access::kRead); !denied.ok()) {
    return NewRejected<
        grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>>(
        std::move(call), denied);
  }
  return NewLookupReactor(directory_, context->deadline(), std::move(call),
                          &boundary_);
}

}  // namespace users

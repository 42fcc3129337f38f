#include "service/users_service.h"

#include "directory/tutorial.h"
#include "service/stream_reactors.h"

namespace users {

UsersService::UsersService(Directory* directory, WatchHub* hub,
                           ServiceOptions options)
    : directory_(directory),
      hub_(hub),
      boundary_(options.status_on_unknown_exception),
      admission_(options.admission) {
  SetMessageAllocatorFor_ListUser(&list_user_allocator_);
  SetMessageAllocatorFor_GetUser(&get_user_allocator_);
}

grpc::ServerUnaryReactor* UsersService::ListUser(
    grpc::CallbackServerContext* context, const user::UserRequest* request,
    user::UserResponse* response) {
  // DefaultReactor finishes inline on this thread; a custom reactor would hop
  // threads in OnDone and cost ~30% of throughput (MEASUREMENTS.md).
  auto* reactor = context->DefaultReactor();
  if (auto denied = admission_.Admit(context, Access::kRead); !denied.ok()) {
    reactor->Finish(denied);
    return reactor;
  }
  reactor->Finish(boundary_.Run("ListUser", [&] {
    users::ListUser(*request, response);
  }));
  return reactor;
}

grpc::ServerUnaryReactor* UsersService::GetUser(
    grpc::CallbackServerContext* context, const user::GetUserRequest* request,
    user::User* response) {
  auto* reactor = context->DefaultReactor();
  if (auto denied = admission_.Admit(context, Access::kRead); !denied.ok()) {
    reactor->Finish(denied);
    return reactor;
  }
  reactor->Finish(boundary_.Run(
      "GetUser", [&] { return directory_->GetUser(*request, response); }));
  return reactor;
}

grpc::ServerUnaryReactor* UsersService::ListUsers(
    grpc::CallbackServerContext* context, const user::ListUsersRequest* request,
    user::ListUsersResponse* response) {
  auto* reactor = context->DefaultReactor();
  if (auto denied = admission_.Admit(context, Access::kRead); !denied.ok()) {
    reactor->Finish(denied);
    return reactor;
  }
  reactor->Finish(boundary_.Run(
      "ListUsers", [&] { return directory_->ListUsers(*request, response); }));
  return reactor;
}

template <typename Start>
grpc::ServerUnaryReactor* UsersService::StartWrite(
    grpc::CallbackServerContext* context, std::string_view method,
    Start&& start) {
  auto* reactor = context->DefaultReactor();
  if (auto denied = admission_.Admit(context, Access::kWrite); !denied.ok()) {
    reactor->Finish(denied);
    return reactor;
  }
  // `start` hands the directory a completion that finishes the reactor; it
  // runs on the writer thread after the commit, or inline on rejection. If
  // `start` throws, the write was never queued, so finishing here is the
  // only Finish.
  grpc::Status rejected = boundary_.Run(method, [&] { start(reactor); });
  if (!rejected.ok()) reactor->Finish(rejected);
  return reactor;
}

grpc::ServerUnaryReactor* UsersService::CreateUser(
    grpc::CallbackServerContext* context, const user::CreateUserRequest* request,
    user::User* response) {
  return StartWrite(context, "CreateUser", [&](grpc::ServerUnaryReactor* reactor) {
    directory_->CreateUser(*request, context->deadline(),
                           [reactor, response](absl::StatusOr<user::User> user) {
                             if (user.ok()) response->Swap(&*user);
                             reactor->Finish(ToGrpcStatus(user.status()));
                           });
  });
}

grpc::ServerUnaryReactor* UsersService::UpdateUser(
    grpc::CallbackServerContext* context, const user::UpdateUserRequest* request,
    user::User* response) {
  return StartWrite(context, "UpdateUser", [&](grpc::ServerUnaryReactor* reactor) {
    directory_->UpdateUser(*request, context->deadline(),
                           [reactor, response](absl::StatusOr<user::User> user) {
                             if (user.ok()) response->Swap(&*user);
                             reactor->Finish(ToGrpcStatus(user.status()));
                           });
  });
}

grpc::ServerUnaryReactor* UsersService::DeleteUser(
    grpc::CallbackServerContext* context, const user::DeleteUserRequest* request,
    google::protobuf::Empty* /*response*/) {
  return StartWrite(context, "DeleteUser", [&](grpc::ServerUnaryReactor* reactor) {
    directory_->DeleteUser(*request, context->deadline(),
                           [reactor](absl::Status status) {
                             reactor->Finish(ToGrpcStatus(status));
                           });
  });
}

grpc::ServerWriteReactor<user::UserEvent>* UsersService::WatchUsers(
    grpc::CallbackServerContext* context, const user::WatchUsersRequest* request) {
  if (hub_ == nullptr) {
    return user::Users::CallbackService::WatchUsers(context, request);
  }
  if (auto denied = admission_.Admit(context, Access::kRead); !denied.ok()) {
    return NewRejectedWriter<user::UserEvent>(denied);
  }
  return NewWatchReactor(directory_, hub_, *request);
}

grpc::ServerReadReactor<user::ImportUsersRequest>* UsersService::ImportUsers(
    grpc::CallbackServerContext* context, user::ImportUsersResponse* response) {
  if (auto denied = admission_.Admit(context, Access::kWrite); !denied.ok()) {
    return NewRejectedReader<user::ImportUsersRequest>(denied);
  }
  return NewImportReactor(directory_, response, context->deadline());
}

grpc::ServerBidiReactor<user::GetUserRequest, user::LookupUsersResponse>*
UsersService::LookupUsers(grpc::CallbackServerContext* context) {
  if (auto denied = admission_.Admit(context, Access::kRead); !denied.ok()) {
    return NewRejectedBidi<user::GetUserRequest, user::LookupUsersResponse>(denied);
  }
  return NewLookupReactor(directory_);
}

}  // namespace users

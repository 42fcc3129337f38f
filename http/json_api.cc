#include "http/json_api.h"

#include <atomic>
#include <charconv>
#include <string>

#include "directory/tutorial.h"
#include "http/json_mapping.h"
#include "http/status_mapping.h"
#include "service_protos/http_api.pb.h"
#include "storage/call_deadline.h"

namespace users {
namespace {

using std::chrono::duration_cast;

Access AccessFor(RouteKind kind) {
  switch (kind) {
    case RouteKind::kCreateUser:
    case RouteKind::kUpdateUser:
    case RouteKind::kDeleteUser:
    case RouteKind::kImportUsers:
      return Access::kWrite;
    default:
      return Access::kRead;
  }
}

// At most this many ids in one batchGet: a page's worth, as in ListUsers.
constexpr int kMaxBatchIds = kMaxPageSize;

}  // namespace

absl::StatusOr<std::chrono::nanoseconds> ParseTimeout(std::string_view text) {
  double value = 0;
  const auto [end, error] =
      std::from_chars(text.data(), text.data() + text.size(), value);
  const std::string_view unit(end, text.data() + text.size() - end);
  double seconds = -1;
  if (error == std::errc()) {
    if (unit.empty() || unit == "s") seconds = value;
    if (unit == "ms") seconds = value / 1000;
    if (unit == "m") seconds = value * 60;
    if (unit == "h") seconds = value * 3600;
  }
  // Past ~290 years a nanosecond count overflows; a day is plenty.
  if (!(seconds > 0 && seconds <= 86400)) {
    return absl::InvalidArgumentError(
        "x-timeout must be a positive duration of at most a day, such as "
        "250ms, 2s, 1.5m or 1h, not \"" +
        std::string(text) + "\"");
  }
  return duration_cast<std::chrono::nanoseconds>(
      std::chrono::duration<double>(seconds));
}

HttpResponse ErrorResponse(const absl::Status& status) {
  HttpResponse response;
  response.status = HttpStatusFromCode(status.code());
  response.body = StatusToJson(status);
  return response;
}

JsonApi::JsonApi(Options options)
    : options_(std::move(options)),
      boundary_(options_.status_on_unknown_exception),
      admission_(options_.admission) {}

JsonApi::Admitted JsonApi::Admit(const HttpRequest& request,
                                 const Route& route) const {
  Admitted admitted;
  admitted.scope = std::make_unique<CallScope>(
      options_.observers, route.info->rpc, request.peer, request.request_id);
  admitted.status =
      admission_.Admit(request.authorization, AccessFor(route.info->kind));
  if (admitted.status.ok() && !request.timeout.empty()) {
    auto timeout = ParseTimeout(request.timeout);
    if (!timeout.ok()) {
      admitted.status = timeout.status();
    } else {
      admitted.deadline =
          std::chrono::system_clock::now() +
          duration_cast<std::chrono::system_clock::duration>(*timeout);
    }
  }
  return admitted;
}

void JsonApi::Serve(const HttpRequest& request, const Route& route,
                    Done done) const {
  Admitted admitted = Admit(request, route);
  // Shared: a write finishes on the writer thread. `once` guards against a
  // second finish should a route throw after queuing its write.
  auto scope = std::shared_ptr<CallScope>(std::move(admitted.scope));
  auto once = std::make_shared<std::atomic<bool>>(false);
  const Finish finish =
      [scope, once, done = std::move(done)](absl::StatusOr<std::string> body) {
        if (once->exchange(true)) return;
        HttpResponse response;
        if (body.ok()) {
          response.body = *std::move(body);
        } else {
          response = ErrorResponse(body.status());
        }
        response.headers.emplace_back("x-request-id", scope->request_id());
        scope->End(body.status().code());
        done(std::move(response));
      };
  if (!admitted.status.ok()) return finish(admitted.status);
  const std::string_view method = route.info->rpc;
  absl::Status failed = boundary_.Run(
      method, [&] { Dispatch(request, route, admitted.deadline, finish); });
  if (!failed.ok()) finish(failed);
}

void JsonApi::Dispatch(const HttpRequest& request, const Route& route,
                       Deadline deadline, const Finish& finish) const {
  auto query = ParseQuery(request.query);
  if (!query.ok()) return finish(query.status());
  if (deadline <= std::chrono::system_clock::now()) {
    return finish(absl::DeadlineExceededError("x-timeout passed"));
  }
  // A store that talks to a database stops a read at the deadline.
  CallDeadline call_deadline(deadline);
  Directory* const directory = options_.directory;
  auto user_done = [finish](absl::StatusOr<user::User> user) {
    if (!user.ok()) return finish(user.status());
    finish(ToJson(*user));
  };
  switch (route.info->kind) {
    case RouteKind::kGetUser: {
      user::GetUserRequest parsed;
      if (auto s = MergeQuery(*query, &parsed); !s.ok()) return finish(s);
      parsed.set_id(route.id);
      user::User user;
      if (auto s = directory->GetUser(parsed, &user); !s.ok()) {
        return finish(s);
      }
      return finish(ToJson(user));
    }
    case RouteKind::kTutorialListUser: {
      user::UserRequest parsed;
      if (auto s = MergeQuery(*query, &parsed); !s.ok()) return finish(s);
      if (route.id < INT32_MIN || route.id > INT32_MAX) {
        return finish(InvalidArgumentError("the tutorial's id is an int32",
                                           {{"id", "must fit in 32 bits"}}));
      }
      parsed.set_id(static_cast<int32_t>(route.id));
      user::UserResponse response;
      ListUser(parsed, &response);
      return finish(ToJson(response));
    }
    case RouteKind::kListUsers: {
      user::ListUsersRequest parsed;
      if (auto s = MergeQuery(*query, &parsed); !s.ok()) return finish(s);
      user::ListUsersResponse page;
      if (auto s = directory->ListUsers(parsed, &page); !s.ok()) {
        return finish(s);
      }
      return finish(ToJson(page));
    }
    case RouteKind::kBatchGetUsers: {
      // Only `ids`: LookupUsers takes a stream of GetUserRequests.
      user::http::BatchGetUsersResponse answers;
      for (const auto& [name, value] : *query) {
        if (name != "ids") {
          return finish(InvalidArgumentError(
              "invalid query parameter " + name + ": no such parameter",
              {{name, "no such parameter; batchGet takes ids"}}));
        }
        user::GetUserRequest id;
        if (!MergeQuery({{"id", value}}, &id).ok()) {
          return finish(InvalidArgumentError("invalid query parameter ids: \"" +
                                                 value + "\" is not an integer",
                                             {{"ids", "must be integers"}}));
        }
        if (answers.responses_size() == kMaxBatchIds) {
          return finish(InvalidArgumentError(
              "at most " + std::to_string(kMaxBatchIds) + " ids at once",
              {{"ids", "at most " + std::to_string(kMaxBatchIds)}}));
        }
        directory->Lookup(id.id(), answers.add_responses());
      }
      if (answers.responses().empty()) {
        return finish(InvalidArgumentError("batchGet needs at least one id",
                                           {{"ids", "required"}}));
      }
      return finish(ToJson(answers));
    }
    case RouteKind::kCreateUser: {
      user::CreateUserRequest parsed;
      if (auto s = ParseJsonBody(request.body, parsed.mutable_user());
          !s.ok()) {
        return finish(s);
      }
      if (auto s = MergeQuery(*query, &parsed); !s.ok()) return finish(s);
      return directory->CreateUser(parsed, deadline, user_done);
    }
    case RouteKind::kUpdateUser: {
      // The body is the user, or the whole UpdateUserRequest when it has a
      // "user" key ({"user": {...}, "updateMask": "email"}).
      user::UpdateUserRequest parsed;
      const bool whole = JsonObjectHasKey(request.body, "user");
      if (auto s = whole ? ParseJsonBody(request.body, &parsed)
                         : ParseJsonBody(request.body, parsed.mutable_user());
          !s.ok()) {
        return finish(s);
      }
      if (auto s = MergeQuery(*query, &parsed); !s.ok()) return finish(s);
      if (parsed.user().id() != 0 && parsed.user().id() != route.id) {
        return finish(InvalidArgumentError(
            "the body's user.id differs from the path's",
            {{"user.id", "must be the path's id, or left out"}}));
      }
      parsed.mutable_user()->set_id(route.id);
      return directory->UpdateUser(parsed, deadline, user_done);
    }
    case RouteKind::kDeleteUser: {
      user::DeleteUserRequest parsed;
      if (auto s = MergeQuery(*query, &parsed); !s.ok()) return finish(s);
      parsed.set_id(route.id);
      return directory->DeleteUser(parsed, deadline,
                                   [finish](absl::Status deleted) {
                                     if (!deleted.ok()) return finish(deleted);
                                     finish(std::string("{}"));
                                   });
    }
    default:
      return finish(absl::InternalError("not a unary route"));
  }
}

}  // namespace users

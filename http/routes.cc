#include "http/routes.h"

#include <charconv>
#include <string>

namespace users {
namespace {

constexpr RouteInfo kRoutes[] = {
    {RouteKind::kGetUser, "GET", "/v1/users/{id}", "/user.Users/GetUser",
     "Get one user", "user.GetUserRequest", "", "user.User"},
    {RouteKind::kUpdateUser, "PATCH", "/v1/users/{id}",
     "/user.Users/UpdateUser", "Update the fields an update mask names",
     "user.UpdateUserRequest", "user", "user.User"},
    {RouteKind::kDeleteUser, "DELETE", "/v1/users/{id}",
     "/user.Users/DeleteUser", "Delete a user, at a version",
     "user.DeleteUserRequest", "", "google.protobuf.Empty"},
    {RouteKind::kListUsers, "GET", "/v1/users", "/user.Users/ListUsers",
     "List users in pages, by name prefix", "user.ListUsersRequest", "",
     "user.ListUsersResponse"},
    {RouteKind::kCreateUser, "POST", "/v1/users", "/user.Users/CreateUser",
     "Create a user", "user.CreateUserRequest", "user", "user.User"},
    {RouteKind::kBatchGetUsers, "GET", "/v1/users:batchGet",
     "/user.Users/LookupUsers", "Get several users, an answer per id", "", "",
     "user.http.BatchGetUsersResponse"},
    {RouteKind::kImportUsers, "POST", "/v1/users:import",
     "/user.Users/ImportUsers", "Import users from CSV or JSON Lines", "", "",
     "user.ImportUsersResponse"},
    {RouteKind::kWatchUsers, "GET", "/v1/users:watch", "/user.Users/WatchUsers",
     "The change feed, as Server-Sent Events", "user.WatchUsersRequest", "",
     "user.UserEvent"},
    {RouteKind::kTutorialListUser, "GET", "/v1/tutorial/users/{id}",
     "/user.Users/ListUser", "The tutorial's ListUser", "user.UserRequest", "",
     "user.UserResponse"},
    {RouteKind::kOpenApi, "GET", "/v1/openapi.json", "",
     "This API's OpenAPI 3 document", "", "", ""},
    {RouteKind::kStatus, "GET", "/v1/status", "",
     "The server's health, version and revision", "", "",
     "user.http.ServerStatus"},
    {RouteKind::kAdminPage, "GET", "/", "", "The admin page", "", "", ""},
};

constexpr std::string_view kIdParam = "{id}";
constexpr std::string_view kApiPrefix = "/v1/";

enum class Match { kNo, kYes, kBadId };

Match MatchTemplate(std::string_view tmpl, std::string_view path, int64_t* id) {
  const size_t param = tmpl.find(kIdParam);
  if (param == std::string_view::npos) {
    return tmpl == path ? Match::kYes : Match::kNo;
  }
  const std::string_view prefix = tmpl.substr(0, param);
  if (!path.starts_with(prefix)) return Match::kNo;
  const std::string_view rest = path.substr(prefix.size());
  if (rest.empty() || rest.find_first_of("/:") != std::string_view::npos) {
    return Match::kNo;
  }
  const auto [end, error] =
      std::from_chars(rest.data(), rest.data() + rest.size(), *id);
  if (error != std::errc() || end != rest.data() + rest.size()) {
    return Match::kBadId;
  }
  return Match::kYes;
}

}  // namespace

std::span<const RouteInfo> AllRoutes() { return kRoutes; }

absl::StatusOr<Route> MatchRoute(std::string_view method,
                                 std::string_view path) {
  // Everything outside the API is the admin page's: "/" and its assets.
  if (!path.starts_with(kApiPrefix)) {
    if (method != "GET") {
      return absl::UnimplementedError(std::string(method) + " " +
                                      std::string(path) +
                                      " is not served; the page takes GET");
    }
    return Route{&kRoutes[std::size(kRoutes) - 1], 0, path};
  }
  bool other_method = false;
  for (const RouteInfo& info : kRoutes) {
    if (info.kind == RouteKind::kAdminPage) continue;
    int64_t id = 0;
    switch (MatchTemplate(info.template_, path, &id)) {
      case Match::kNo:
        break;
      case Match::kBadId:
        return absl::InvalidArgumentError("the id in " + std::string(path) +
                                          " must be an integer");
      case Match::kYes:
        if (info.method != method) {
          other_method = true;
          break;
        }
        return Route{&info, id, {}};
    }
  }
  if (other_method) {
    return absl::UnimplementedError(std::string(path) + " takes " +
                                    AllowedMethods(path) + ", not " +
                                    std::string(method));
  }
  return absl::NotFoundError("no route for " + std::string(path) +
                             " (GET /v1/openapi.json lists them)");
}

std::string AllowedMethods(std::string_view path) {
  std::string allowed;
  for (const RouteInfo& info : kRoutes) {
    int64_t id = 0;
    if (info.kind == RouteKind::kAdminPage) {
      if (path.starts_with(kApiPrefix)) continue;
    } else if (MatchTemplate(info.template_, path, &id) == Match::kNo) {
      continue;
    }
    if (!allowed.empty()) allowed += ", ";
    allowed += info.method;
  }
  return allowed;
}

}  // namespace users

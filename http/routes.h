// The HTTP/JSON API's routes, in the style of Google's API design guide
// (google.api.http): which RPC a method and path name, with the `{id}` the
// path carries. Plain C++, so that the table is testable without a socket and
// checked against the service's descriptor (tests/unit/http_test.cc).
#ifndef USERS_HTTP_ROUTES_H_
#define USERS_HTTP_ROUTES_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace users {

enum class RouteKind {
  kGetUser,
  kCreateUser,
  kUpdateUser,
  kDeleteUser,
  kListUsers,
  kBatchGetUsers,  // LookupUsers
  kImportUsers,
  kWatchUsers,  // Server-Sent Events
  kTutorialListUser,
  kOpenApi,    // the OpenAPI document
  kStatus,     // health, version, revision (for the admin page)
  kAdminPage,  // the admin page's built-in assets
};

struct RouteInfo {
  RouteKind kind;
  std::string_view method;     // "GET"
  std::string_view template_;  // "/v1/users/{id}"
  std::string_view rpc;        // "/user.Users/GetUser"; empty for no RPC
  std::string_view summary;    // one line, for the OpenAPI document
  // Protobuf full names, for the OpenAPI document: the request message whose
  // fields the query (and path) fill, the field the JSON body fills ("" for
  // none), and the answer. Empty where the route has none.
  std::string_view request;
  std::string_view body;
  std::string_view response;
};

// Every route, in the order they are documented.
std::span<const RouteInfo> AllRoutes();

struct Route {
  const RouteInfo* info = nullptr;
  int64_t id = 0;          // the path's {id}, where it has one
  std::string_view asset;  // kAdminPage: the path under "/"
};

// The route for `method` and `path` (no query). NOT_FOUND for a path no route
// has; UNIMPLEMENTED (which the front end answers 405 with an Allow header)
// for a path served under other methods, named in the message; INVALID_ARGUMENT
// for an {id} that is no integer.
absl::StatusOr<Route> MatchRoute(std::string_view method,
                                 std::string_view path);

// The methods some route serves `path` with ("GET, PATCH"); empty if none.
std::string AllowedMethods(std::string_view path);

}  // namespace users

#endif  // USERS_HTTP_ROUTES_H_

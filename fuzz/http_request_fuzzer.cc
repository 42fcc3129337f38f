// What the HTTP API makes of a request's parts before any store is touched
// (http/): the route of a path, the query mapped into every request message,
// a JSON body into the messages that take one, and the x-timeout header.
// The first byte picks the method; the rest is split at the first NUL into
// the target and the body.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "http/json_api.h"
#include "http/json_mapping.h"
#include "http/routes.h"
#include "service_protos/user.pb.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static constexpr std::string_view kMethods[] = {"GET", "POST", "PATCH",
                                                  "DELETE", "PUT"};
  const std::string_view method = kMethods[data[0] % std::size(kMethods)];
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  const size_t nul = rest.find('\0');
  const std::string_view target = rest.substr(0, nul);
  const std::string_view body =
      nul == std::string_view::npos ? std::string_view() : rest.substr(nul + 1);
  const size_t q = target.find('?');
  const std::string_view path = target.substr(0, q);
  (void)users::MatchRoute(method, path);
  (void)users::AllowedMethods(path);
  (void)users::ParseTimeout(body);
  if (q != std::string_view::npos) {
    auto params = users::ParseQuery(target.substr(q + 1));
    if (params.ok()) {
      user::ListUsersRequest list;
      user::UpdateUserRequest update;
      user::DeleteUserRequest del;
      user::WatchUsersRequest watch;
      user::UserRequest tutorial;
      (void)users::MergeQuery(*params, &list);
      (void)users::MergeQuery(*params, &update);
      (void)users::MergeQuery(*params, &del);
      (void)users::MergeQuery(*params, &watch);
      (void)users::MergeQuery(*params, &tutorial);
    }
  }
  user::User user;
  user::UpdateUserRequest update;
  if (users::ParseJsonBody(body, &user).ok()) (void)users::ToJson(user);
  (void)users::JsonObjectHasKey(body, "user");
  (void)users::ParseJsonBody(body, &update);
  return 0;
}

// Cross-origin access to the HTTP API: off unless --http-cors-origins names
// the origins a browser may call it from (the admin page itself, served from
// the API's own origin, needs none).
#ifndef USERS_HTTP_CORS_H_
#define USERS_HTTP_CORS_H_

#include <string>
#include <string_view>
#include <vector>

#include "http/http_message.h"

namespace users {

class CorsPolicy {
 public:
  // Exact origins ("https://admin.example.com"), or "*" for any.
  explicit CorsPolicy(std::vector<std::string> origins)
      : origins_(std::move(origins)) {}

  bool Allows(std::string_view origin) const;

  // The headers an answer to a request from `origin` carries (none if it is
  // not allowed).
  void AddHeaders(std::string_view origin,
                  std::vector<std::pair<std::string, std::string>>* out) const;

  // The answer to a preflight (OPTIONS with Access-Control-Request-Method):
  // 204 with what may be sent, or 403 for an origin not allowed.
  HttpResponse Preflight(std::string_view origin) const;

 private:
  const std::vector<std::string> origins_;
};

}  // namespace users

#endif  // USERS_HTTP_CORS_H_

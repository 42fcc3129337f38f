#include "http/cors.h"

#include <algorithm>

#include "http/json_api.h"

namespace users {

bool CorsPolicy::Allows(std::string_view origin) const {
  if (origin.empty()) return false;
  return std::any_of(
      origins_.begin(), origins_.end(),
      [&](const std::string& o) { return o == "*" || o == origin; });
}

void CorsPolicy::AddHeaders(
    std::string_view origin,
    std::vector<std::pair<std::string, std::string>>* out) const {
  if (!Allows(origin)) return;
  out->emplace_back("access-control-allow-origin", std::string(origin));
  out->emplace_back("vary", "Origin");
  out->emplace_back("access-control-expose-headers",
                    "x-request-id, x-watch-start-revision");
}

HttpResponse CorsPolicy::Preflight(std::string_view origin) const {
  if (!Allows(origin)) {
    return ErrorResponse(absl::PermissionDeniedError(
        "origin " + std::string(origin) +
        " may not call this API (--http-cors-origins)"));
  }
  HttpResponse response;
  response.status = 204;
  response.content_type.clear();
  AddHeaders(origin, &response.headers);
  response.headers.emplace_back("access-control-allow-methods",
                                "GET, POST, PATCH, DELETE");
  response.headers.emplace_back(
      "access-control-allow-headers",
      "authorization, content-type, x-request-id, x-timeout, last-event-id");
  response.headers.emplace_back("access-control-max-age", "600");
  return response;
}

}  // namespace users

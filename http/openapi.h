// The OpenAPI 3 document of the HTTP/JSON API (GET /v1/openapi.json), made
// from the route table (http/routes.h) and the messages' descriptors, so it
// cannot drift from what the server serves; tests/unit/http_test.cc checks
// every route and parameter against it.
#ifndef USERS_HTTP_OPENAPI_H_
#define USERS_HTTP_OPENAPI_H_

#include <string>
#include <string_view>

namespace users {

// The document, as JSON; `version` is the server's ("0.1.0").
std::string OpenApiDocument(std::string_view version);

}  // namespace users

#endif  // USERS_HTTP_OPENAPI_H_

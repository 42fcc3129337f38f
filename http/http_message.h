// An HTTP request and answer as the API sees them: plain values, no socket,
// so that the API is tested without a network. The front end
// (server/http_front_end.h) fills them from, and writes them to, Beast.
#ifndef USERS_HTTP_HTTP_MESSAGE_H_
#define USERS_HTTP_HTTP_MESSAGE_H_

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace users {

struct HttpRequest {
  std::string_view method;  // "GET"
  std::string_view path;    // "/v1/users/5", not decoded
  std::string_view query;   // "pageSize=5", without the '?'
  std::string_view body;
  std::string_view authorization;  // the header's value, or empty
  std::string_view request_id;     // x-request-id, or empty
  std::string_view timeout;        // x-timeout, or empty
  std::string_view peer;           // "ipv4:127.0.0.1:5555"
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

}  // namespace users

#endif  // USERS_HTTP_HTTP_MESSAGE_H_

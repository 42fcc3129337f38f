// users-server's HTTP/JSON front end over a ServerCore: the API of
// http/json_api.h (unary routes), the change feed as Server-Sent Events, the
// streaming import, the OpenAPI document and the admin page, on
// --http-port, plain or TLS with the gRPC port's certificate.
//
// Boost.Beast over Asio: a Debian package made for exactly this (HTTP/1.1
// parsing and serialization, no parser of our own), and every connection is
// a chain of asynchronous operations on a few threads, so 1,000 open SSE
// watchers cost 1,000 small objects, not 1,000 threads.
#ifndef USERS_SERVER_HTTP_FRONT_END_H_
#define USERS_SERVER_HTTP_FRONT_END_H_

#include <chrono>
#include <functional>
#include <memory>

#include "absl/status/status.h"
#include "server/config.h"
#include "server/server_core.h"

namespace users {

class HttpFrontEnd {
 public:
  // `config` and `core` must outlive this object; `serving` says whether
  // the server is SERVING (for GET /v1/status).
  HttpFrontEnd(const ServerConfig& config, ServerCore* core,
               std::function<bool()> serving);
  ~HttpFrontEnd();

  HttpFrontEnd(const HttpFrontEnd&) = delete;
  HttpFrontEnd& operator=(const HttpFrontEnd&) = delete;

  // Binds --http-host:--http-port and serves; then port() is the bound port.
  absl::Status Start();
  int port() const;

  // No new connections.
  void StopAccepting();
  // Idle connections close now, busy ones after their answer; what is still
  // open after `grace` is closed.
  void Shutdown(std::chrono::milliseconds grace);
  // Blocks until every connection has closed and the threads have ended.
  void Wait();

  class Impl;  // in the .cc: keeps Beast out of this header

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace users

#endif  // USERS_SERVER_HTTP_FRONT_END_H_

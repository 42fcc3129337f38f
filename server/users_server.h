// The whole service as one object, wired from a ServerConfig: a ServerCore
// (storage, logic, what every call pipeline shares) and its front ends (gRPC,
// server/grpc_front_end.h; HTTP/JSON with --http-port,
// server/http_front_end.h), plus health, the metrics endpoint and
// the drain. main() owns one; tests start one in-process on a free port.
//
// Start-up: open the store, then serve with health NOT_SERVING until the
// store answers. Shutdown (from a non-gRPC thread): health NOT_SERVING, watch
// streams end with UNAVAILABLE, no new calls, in-flight calls get the grace
// period, then the writer commits what is queued and the store closes.
#ifndef USERS_SERVER_USERS_SERVER_H_
#define USERS_SERVER_USERS_SERVER_H_

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "server/config.h"
#include "server/grpc_front_end.h"
#include "server/http_front_end.h"
#include "server/server_core.h"

namespace httplib {
class Server;
}

namespace users {

class UsersServer {
 public:
  // Access lines go to `access_log_fd` (not owned; -1: none).
  explicit UsersServer(ServerConfig config, int access_log_fd = 2);
  ~UsersServer();

  UsersServer(const UsersServer&) = delete;
  UsersServer& operator=(const UsersServer&) = delete;

  // Opens the store, binds and starts serving. On success port() is the
  // bound port (and metrics_port() the metrics one, if enabled).
  absl::Status Start();
  int port() const { return grpc_->port(); }
  int metrics_port() const { return metrics_port_; }
  // The HTTP API's port; 0 when it is off.
  int http_port() const { return http_ != nullptr ? http_->port() : 0; }

  // Reports NOT_SERVING (grpc.health.v1 and /readyz) while still serving
  // every call, so that balancers move traffic away before Shutdown.
  void BeginDrain();
  // Begins a graceful shutdown; in-flight calls get `grace`, then are
  // cancelled. Call from a non-gRPC thread. Idempotent.
  void Shutdown(std::chrono::milliseconds grace);
  // Blocks until the server has shut down and the store is closed.
  void Wait();

 private:
  absl::Status StartMetricsEndpoint();
  void MonitorHealth();
  // Health is SERVING while the store answers and connections are accepted.
  void UpdateHealth();
  bool Serving() const;

  ServerConfig config_;
  // Destroyed in reverse order: the front end stops before the core.
  std::unique_ptr<ServerCore> core_;
  std::unique_ptr<GrpcFrontEnd> grpc_;
  std::unique_ptr<HttpFrontEnd> http_;  // null: --http-port 0

  std::unique_ptr<httplib::Server> metrics_http_;
  std::thread metrics_thread_;
  absl::Notification metrics_stopped_;  // its listen loop has returned
  int metrics_port_ = -1;

  absl::Mutex health_mu_;  // orders health updates from two threads
  std::atomic<bool> store_ok_{false};
  std::atomic<bool> accepting_{true};
  std::atomic<bool> draining_{false};
  absl::Notification stopping_;
  std::thread health_thread_;
  bool waited_ = false;
};

}  // namespace users

#endif  // USERS_SERVER_USERS_SERVER_H_

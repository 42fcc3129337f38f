// The whole service as one object: storage, logic, middleware and the gRPC
// server, wired from a ServerConfig. main() owns one; tests start one
// in-process on a free port.
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

#include <grpcpp/server.h>
#include <spdlog/logger.h>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "directory/change_feed.h"
#include "directory/compactor.h"
#include "directory/directory.h"
#include "directory/group_commit.h"
#include "directory/watch_hub.h"
#include "middleware/access_log.h"
#include "middleware/auth.h"
#include "middleware/metrics.h"
#include "server/config.h"
#include "server/listener.h"
#include "service/reflection_service.h"
#include "service/users_service.h"
#include "storage/caching_user_store.h"
#include "storage/counting_user_store.h"
#include "storage/postgres_user_store.h"
#include "storage/user_store.h"

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
  int port() const { return port_; }
  int metrics_port() const { return metrics_port_; }

  // Reports NOT_SERVING (grpc.health.v1 and /readyz) while still serving
  // every call, so that balancers move traffic away before Shutdown.
  void BeginDrain();
  // Begins a graceful shutdown; in-flight calls get `grace`, then are
  // cancelled. Call from a non-gRPC thread. Idempotent.
  void Shutdown(std::chrono::milliseconds grace);
  // Blocks until the server has shut down and the store is closed.
  void Wait();

 private:
  absl::Status OpenStore();
  absl::Status StartMetricsEndpoint();
  void MonitorHealth();
  // Health is SERVING while the store answers and connections are accepted.
  void UpdateHealth();

  ServerConfig config_;
  int access_log_fd_;

  // Destroyed in reverse order: the server stops before the writer, the
  // writer before the store.
  std::unique_ptr<UserStore> base_store_;
  std::unique_ptr<CachingUserStore> cache_;  // between base_store_ and store_
  std::unique_ptr<CountingUserStore> store_;
  std::unique_ptr<WatchHub> hub_;
  std::unique_ptr<Compactor> compactor_;
  std::unique_ptr<ChangeFeed> feed_;
  std::atomic<ChangeFeed*> feed_ptr_{nullptr};  // for the store's listener
  PostgresUserStore* postgres_ = nullptr;       // base_store_, if PostgreSQL
  std::unique_ptr<GroupCommitter> writer_;
  std::unique_ptr<Directory> directory_;
  std::unique_ptr<TokenAuthenticator> auth_;
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<AccessLog> access_log_;
  std::unique_ptr<UsersService> service_;
  std::unique_ptr<ReflectionV1Service>
      reflection_v1_;  // null with --no-reflection
  std::unique_ptr<ReflectionV1AlphaService> reflection_v1alpha_;
  std::unique_ptr<Listener> listener_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;

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

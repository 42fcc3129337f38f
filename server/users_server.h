// The whole service as one object: storage, logic, middleware and the gRPC
// server, wired from a ServerConfig. main() owns one; tests start one
// in-process on a free port.
#ifndef USERS_SERVER_USERS_SERVER_H_
#define USERS_SERVER_USERS_SERVER_H_

#include <chrono>
#include <memory>
#include <vector>

#include <grpcpp/server.h>
#include <spdlog/logger.h>

#include "absl/status/status.h"
#include "directory/directory.h"
#include "directory/group_commit.h"
#include "directory/watch_hub.h"
#include "storage/user_store.h"
#include "middleware/access_log.h"
#include "server/config.h"
#include "service/users_service.h"

namespace users {

class UsersServer {
 public:
  UsersServer(ServerConfig config, std::shared_ptr<spdlog::logger> access_logger);
  ~UsersServer();

  UsersServer(const UsersServer&) = delete;
  UsersServer& operator=(const UsersServer&) = delete;

  // Binds and starts serving. On success port() is the bound port.
  absl::Status Start();
  int port() const { return port_; }

  // Stops accepting calls and waits up to `grace` for in-flight ones; calls
  // still running after that are cancelled. Call from a non-gRPC thread.
  void Shutdown(std::chrono::milliseconds grace);
  // Blocks until the server has shut down.
  void Wait();

 private:
  ServerConfig config_;
  std::shared_ptr<spdlog::logger> access_logger_;
  std::unique_ptr<AccessLog> access_log_;
  // Destroyed in reverse order: the server stops before the writer, the
  // writer before the store.
  std::unique_ptr<UserStore> store_;
  std::unique_ptr<WatchHub> hub_;
  std::unique_ptr<GroupCommitter> writer_;
  std::unique_ptr<Directory> directory_;
  std::unique_ptr<UsersService> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace users

#endif  // USERS_SERVER_USERS_SERVER_H_

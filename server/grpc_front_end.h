// users-server's gRPC front end over a ServerCore: the Users service
// (service/), grpc.health.v1 and reflection, on our own listener
// (server/listener.h), with the channel settings measured for it. Another
// transport is another front end over the same core.
#ifndef USERS_SERVER_GRPC_FRONT_END_H_
#define USERS_SERVER_GRPC_FRONT_END_H_

#include <chrono>
#include <functional>
#include <memory>

#include <grpcpp/server.h>

#include "absl/status/status.h"
#include "server/config.h"
#include "server/listener.h"
#include "server/server_core.h"
#include "service/reflection_service.h"
#include "service/users_service.h"

namespace users {

class GrpcFrontEnd {
 public:
  // `config` and `core` must outlive this object.
  GrpcFrontEnd(const ServerConfig& config, ServerCore* core);
  ~GrpcFrontEnd();

  GrpcFrontEnd(const GrpcFrontEnd&) = delete;
  GrpcFrontEnd& operator=(const GrpcFrontEnd&) = delete;

  // Binds and serves, with health NOT_SERVING until SetServing(true).
  // `on_accepting_changed` hears when the listener stops or resumes taking
  // connections (out of descriptors). On success port() is the bound port.
  absl::Status Start(std::function<void(bool)> on_accepting_changed);
  int port() const { return port_; }

  // grpc.health.v1 for the whole server and for user.Users. After
  // StopAccepting, NOT_SERVING whatever is set.
  void SetServing(bool serving);

  // Health NOT_SERVING for good, and no new connections.
  void StopAccepting();
  // No new calls; calls in flight get `grace`, then are cancelled.
  void Shutdown(std::chrono::milliseconds grace);
  // Blocks until every call has ended.
  void Wait();

 private:
  const ServerConfig& config_;
  ServerCore* const core_;
  std::unique_ptr<UsersService> service_;
  std::unique_ptr<ReflectionV1Service>
      reflection_v1_;  // null with --no-reflection
  std::unique_ptr<ReflectionV1AlphaService> reflection_v1alpha_;
  std::unique_ptr<Listener> listener_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace users

#endif  // USERS_SERVER_GRPC_FRONT_END_H_

#include "server/users_server.h"

#include <string>
#include <utility>

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include "middleware/server_interceptor.h"
#include "storage/memory_user_store.h"
#include "storage/sqlite_user_store.h"

namespace users {

UsersServer::UsersServer(ServerConfig config,
                         std::shared_ptr<spdlog::logger> access_logger)
    : config_(std::move(config)), access_logger_(std::move(access_logger)) {}

UsersServer::~UsersServer() {
  if (server_) {
    server_->Shutdown(std::chrono::system_clock::now());
    server_->Wait();
  }
  if (writer_) writer_->Stop();
}

absl::Status UsersServer::Start() {
  if (config_.db == ":memory:") {
    store_ = std::make_unique<MemoryUserStore>(config_.event_retention);
  } else {
    SqliteOptions options;
    options.event_retention = config_.event_retention;
    auto sqlite = SqliteUserStore::Open(config_.db, options);
    if (!sqlite.ok()) return sqlite.status();
    store_ = std::move(*sqlite);
  }
  auto revisions = store_->Revisions();
  if (!revisions.ok()) return revisions.status();
  hub_ = std::make_unique<WatchHub>(revisions->latest, config_.watch_queue_limit);
  writer_ = std::make_unique<GroupCommitter>(store_.get(), hub_.get(),
                                             GroupCommitter::Options{});
  Directory::Options directory_options;
  directory_options.page_token_key = config_.page_token_key;
  directory_ = std::make_unique<Directory>(store_.get(), writer_.get(),
                                           directory_options);
  service_ = std::make_unique<UsersService>(directory_.get(), hub_.get(),
                                            ServiceOptions{});
  access_log_ = std::make_unique<AccessLog>(access_logger_, config_.log_format);

  grpc::ServerBuilder builder;
  const std::string address = config_.host + ":" + std::to_string(config_.port);
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &port_);
  builder.RegisterService(service_.get());
  builder.experimental().SetInterceptorCreators(
      MakeInterceptorCreators({access_log_.get()}));
  server_ = builder.BuildAndStart();
  if (!server_ || port_ == 0) {
    server_.reset();
    return absl::UnavailableError("cannot listen on " + address);
  }
  return absl::OkStatus();
}

void UsersServer::Shutdown(std::chrono::milliseconds grace) {
  // Open watch streams end now with UNAVAILABLE, so their clients reconnect
  // elsewhere instead of holding the drain for the whole grace period.
  if (hub_) hub_->CloseAll();
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + grace);
}

void UsersServer::Wait() {
  if (server_) server_->Wait();
  // No call is left to submit writes: commit what is queued and stop.
  if (writer_) writer_->Stop();
}

}  // namespace users

#include "server/users_server.h"

#include <string>
#include <utility>

#include <httplib.h>
#include <spdlog/spdlog.h>

namespace users {
namespace {

constexpr auto kHealthInterval = std::chrono::seconds(1);

}  // namespace

UsersServer::UsersServer(ServerConfig config, int access_log_fd)
    : config_(std::move(config)),
      core_(std::make_unique<ServerCore>(config_, access_log_fd)),
      grpc_(std::make_unique<GrpcFrontEnd>(config_, core_.get())) {
  if (config_.http_port != 0) {
    http_ = std::make_unique<HttpFrontEnd>(config_, core_.get(),
                                           [this] { return Serving(); });
  }
}

UsersServer::~UsersServer() {
  Shutdown(std::chrono::milliseconds(0));
  Wait();
}

absl::Status UsersServer::Start() {
  if (auto s = core_->Open(); !s.ok()) return s;
  if (auto s = grpc_->Start([this](bool accepting) {
        accepting_ = accepting;
        UpdateHealth();
      });
      !s.ok()) {
    return s;
  }
  if (http_ != nullptr) {
    if (auto s = http_->Start(); !s.ok()) return s;
  }
  // The first check here, not on the health thread: a readiness probe
  // right after start-up must not see NOT_SERVING for a store that answers.
  store_ok_ = core_->CheckStore().ok();
  UpdateHealth();
  if (auto s = StartMetricsEndpoint(); !s.ok()) return s;
  health_thread_ = std::thread([this] { MonitorHealth(); });
  return absl::OkStatus();
}

void UsersServer::MonitorHealth() {
  do {
    const absl::Status status = core_->CheckStore();
    if (status.ok() != store_ok_.exchange(status.ok())) {
      if (!status.ok()) {
        spdlog::error("store unusable: {}", std::string(status.message()));
      }
      UpdateHealth();
    }
  } while (!stopping_.WaitForNotificationWithTimeout(
      absl::FromChrono(kHealthInterval)));
}

void UsersServer::UpdateHealth() {
  absl::MutexLock lock(&health_mu_);
  // After Shutdown, grpc's health service keeps NOT_SERVING whatever is set.
  grpc_->SetServing(store_ok_ && accepting_ && !draining_);
}

bool UsersServer::Serving() const {
  return store_ok_ && accepting_ && !draining_ && !stopping_.HasBeenNotified();
}

absl::Status UsersServer::StartMetricsEndpoint() {
  if (config_.metrics_port < 0) return absl::OkStatus();
  metrics_http_ = std::make_unique<httplib::Server>();
  metrics_http_->Get("/metrics", [this](const httplib::Request&,
                                        httplib::Response& res) {
    res.set_content(core_->metrics()->Render(), "text/plain; version=0.0.4");
  });
  // grpc.health.v1's answer for the whole server over plain HTTP, for load
  // balancers that cannot speak gRPC health checks (haproxy 2.6): 503 as
  // soon as a drain starts, so they stop sending new calls here.
  metrics_http_->Get(
      "/readyz", [this](const httplib::Request&, httplib::Response& res) {
        const bool serving = Serving();
        res.status = serving ? 200 : 503;
        res.set_content(serving ? "SERVING\n" : "NOT_SERVING\n", "text/plain");
      });
  if (config_.metrics_port == 0) {
    metrics_port_ = metrics_http_->bind_to_any_port(config_.metrics_host);
  } else if (metrics_http_->bind_to_port(config_.metrics_host,
                                         config_.metrics_port)) {
    metrics_port_ = config_.metrics_port;
  }
  if (metrics_port_ <= 0) {
    return absl::UnavailableError("cannot listen for metrics on " +
                                  config_.metrics_host + ":" +
                                  std::to_string(config_.metrics_port));
  }
  metrics_thread_ = std::thread([this] {
    metrics_http_->listen_after_bind();
    metrics_stopped_.Notify();
  });
  return absl::OkStatus();
}

void UsersServer::BeginDrain() {
  draining_ = true;
  UpdateHealth();
}

void UsersServer::Shutdown(std::chrono::milliseconds grace) {
  if (stopping_.HasBeenNotified()) return;
  stopping_.Notify();
  grpc_->StopAccepting();
  if (http_ != nullptr) http_->StopAccepting();
  // Open watch streams end now with UNAVAILABLE, so their clients reconnect
  // elsewhere instead of holding the drain for the whole grace period.
  core_->CloseWatches();
  if (http_ != nullptr) http_->Shutdown(grace);
  grpc_->Shutdown(grace);
}

void UsersServer::Wait() {
  if (waited_) return;
  waited_ = true;
  grpc_->Wait();
  if (http_ != nullptr) http_->Wait();
  // Every call's access line is out before the caller logs "stopped".
  core_->FlushAccessLog();
  if (health_thread_.joinable()) health_thread_.join();
  core_->Stop();
  if (metrics_thread_.joinable()) {
    // httplib's stop() does nothing until the listen loop has started, and
    // has no way to wait for that: a stop right after Start would be lost
    // and the join would hang. So stop until the loop is seen to return.
    do {
      metrics_http_->stop();
    } while (!metrics_stopped_.WaitForNotificationWithTimeout(
        absl::Milliseconds(20)));
    metrics_thread_.join();
  }
}

}  // namespace users

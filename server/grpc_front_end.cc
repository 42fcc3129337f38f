#include "server/grpc_front_end.h"

#include <string>
#include <utility>
#include <vector>

#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/resource_quota.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>
#include <spdlog/spdlog.h>

#include "grpc/health/v1/health.pb.h"
#include "server/descriptor_limit.h"
#include "server/secret_file.h"
#include "server/tls_files.h"

namespace users {
namespace {

constexpr const char* kServiceName = "user.Users";
// Ping a connection idle this long, and drop it if the ping is not answered
// in kKeepaliveTimeoutMs: dead peers and their watch streams are noticed.
constexpr int kKeepaliveTimeMs = 60000;
constexpr int kKeepaliveTimeoutMs = 20000;
// Pings beyond --keepalive-min-ping-interval-ms tolerated before a client is
// disconnected (grpc sends it a GOAWAY "too_many_pings").
constexpr int kMaxPingStrikes = 2;

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> Credentials(
    const ServerConfig& config) {
  if (config.tls_cert.empty()) return grpc::InsecureServerCredentials();
  auto files =
      LoadTlsFiles(config.tls_cert, config.tls_key, config.tls_client_ca,
                   config.allow_readable_secrets);
  if (!files.ok()) return files.status();
  grpc::SslServerCredentialsOptions options;
  options.pem_key_cert_pairs.push_back({files->private_key, files->cert_chain});
  if (!files->client_ca.empty()) {
    options.pem_root_certs = files->client_ca;
    options.client_certificate_request =
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(options);
}

}  // namespace

GrpcFrontEnd::GrpcFrontEnd(const ServerConfig& config, ServerCore* core)
    : config_(config), core_(core) {}

GrpcFrontEnd::~GrpcFrontEnd() = default;

absl::Status GrpcFrontEnd::Start(
    std::function<void(bool)> on_accepting_changed) {
  ServiceOptions service_options;
  service_options.admission = core_->admission();
  service_options.status_on_unknown_exception =
      config_.status_on_unknown_exception;
  service_options.max_reply_bytes =
      static_cast<size_t>(config_.max_message_bytes);
  service_options.observers = core_->observers();
  service_ =
      std::make_unique<UsersService>(core_->directory(), service_options);

  auto credentials = Credentials(config_);
  if (!credentials.ok()) return credentials.status();

  // Health's schema linked in, so reflection can describe grpc.health.v1.
  (void)grpc::health::v1::HealthCheckRequest::descriptor();
  grpc::EnableDefaultHealthCheckService(true);

  // Our own listener, not builder.AddListeningPort: see server/listener.h.
  const size_t descriptor_limit = RaiseDescriptorLimit();
  ListenerOptions listener_options;
  listener_options.max_connections =
      config_.max_connections != 0 ? config_.max_connections
                                   : DefaultMaxConnections(descriptor_limit);
  listener_options.plaintext = config_.tls_cert.empty();
  listener_options.on_accepting_changed = std::move(on_accepting_changed);
  auto listener = Listener::Bind(config_.host, config_.port, listener_options);
  if (!listener.ok()) return listener.status();
  listener_ = std::move(*listener);
  port_ = listener_->port();
  spdlog::info("descriptor limit {}, at most {} connections", descriptor_limit,
               listener_options.max_connections);

  grpc::ServerBuilder builder;
  std::shared_ptr<grpc::experimental::ExternalConnectionAcceptor> acceptor =
      builder.experimental().AddExternalConnectionAcceptor(
          grpc::ServerBuilder::experimental_type::ExternalConnectionType::
              FROM_FD,
          *credentials);
  builder.RegisterService(service_.get());
  if (config_.reflection) {
    const std::vector<std::string> services = {
        user::Users::service_full_name(), "grpc.health.v1.Health",
        grpc::reflection::v1::ServerReflection::service_full_name(),
        grpc::reflection::v1alpha::ServerReflection::service_full_name()};
    reflection_v1_ = std::make_unique<ReflectionV1Service>(services);
    reflection_v1alpha_ = std::make_unique<ReflectionV1AlphaService>(services);
    builder.RegisterService(reflection_v1_.get());
    builder.RegisterService(reflection_v1alpha_.get());
  }
  // A bound on what grpc holds (read buffers, call arenas, and the body of a
  // message it is still receiving), enforced by reclaiming: past it, grpc
  // cancels streams with RESOURCE_EXHAUSTED until it is back under. Without
  // it a message that declares a huge length is read whole before
  // --max-message-bytes applies (grpc 1.51 checks the size only then).
  grpc::ResourceQuota quota("users-server");
  quota.Resize(config_.memory_quota_bytes);
  builder.SetResourceQuota(quota);
  builder.SetMaxReceiveMessageSize(config_.max_message_bytes);
  builder.SetMaxSendMessageSize(config_.max_message_bytes);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                             config_.max_concurrent_streams);
  builder.AddChannelArgument(
      GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS,
      static_cast<int>(config_.handshake_timeout_s * 1000));
  // Keepalive: ping idle connections so dead peers (and their watch streams)
  // are noticed, and disconnect clients that ping too eagerly.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, kKeepaliveTimeMs);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
                             kKeepaliveTimeoutMs);
  builder.AddChannelArgument(
      GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
      config_.keepalive_min_ping_interval_ms);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, kMaxPingStrikes);
  // Measured to help (docs/performance.md). grpc.minimal_stack, which helps
  // too, is left off: it drops the filters that enforce message size limits
  // and deadlines.
  builder.AddChannelArgument(GRPC_ARG_ENABLE_CHANNELZ, 0);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  // Replies are never compressed (no compression level is set anywhere), so
  // the compress filter would only pass them through; without it a call
  // costs ~430 fewer instructions and ~260 fewer bytes of its arena
  // (docs/performance.md). Compressed requests are still accepted: the
  // decompress filter is a separate one and stays. Replies no longer carry
  // grpc-accept-encoding (the compress filter set it): a client that reads
  // it (grpc-js) may send uncompressed, which costs only bandwidth. A
  // compression level set here later would do nothing until this line goes.
  builder.AddChannelArgument(GRPC_ARG_ENABLE_PER_MESSAGE_COMPRESSION, 0);
  server_ = builder.BuildAndStart();
  if (!server_) {
    return absl::UnavailableError(
        config_.tls_cert.empty()
            ? std::string("cannot start the gRPC server")
            : "cannot start the gRPC server: --tls-cert " + config_.tls_cert +
                  " and --tls-key " + config_.tls_key +
                  " are not a valid PEM certificate chain and matching key");
  }
  // Not serving until the store has answered once.
  SetServing(false);
  listener_->Start([acceptor](int listener_fd, int fd) {
    grpc::experimental::ExternalConnectionAcceptor::NewConnectionParameters
        connection;
    connection.listener_fd = listener_fd;
    connection.fd = fd;
    acceptor->HandleNewConnection(&connection);
  });
  return absl::OkStatus();
}

void GrpcFrontEnd::SetServing(bool serving) {
  if (!server_) return;
  auto* health = server_->GetHealthCheckService();
  health->SetServingStatus("", serving);
  health->SetServingStatus(kServiceName, serving);
}

void GrpcFrontEnd::StopAccepting() {
  if (server_) server_->GetHealthCheckService()->Shutdown();  // all NOT_SERVING
  // No new connections: grpc's acceptor would neither serve nor close them.
  if (listener_) listener_->Stop();
}

void GrpcFrontEnd::Shutdown(std::chrono::milliseconds grace) {
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + grace);
}

void GrpcFrontEnd::Wait() {
  if (server_) server_->Wait();
}

}  // namespace users

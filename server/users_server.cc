#include "server/users_server.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>

#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/resource_quota.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>
#include <httplib.h>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include "grpc/health/v1/health.pb.h"
#include "server/descriptor_limit.h"
#include "server/secret_file.h"
#include "server/tls_files.h"
#include "storage/memory_user_store.h"
#include "storage/postgres_user_store.h"
#include "storage/sqlite_user_store.h"
#include "version/version.h"

namespace users {
namespace {

constexpr const char* kServiceName = "user.Users";
constexpr auto kHealthInterval = std::chrono::seconds(1);
// Ping a connection idle this long, and drop it if the ping is not answered
// in kKeepaliveTimeoutMs: dead peers and their watch streams are noticed.
constexpr int kKeepaliveTimeMs = 60000;
constexpr int kKeepaliveTimeoutMs = 20000;
// Pings beyond --keepalive-min-ping-interval-ms tolerated before a client is
// disconnected (grpc sends it a GOAWAY "too_many_pings").
constexpr int kMaxPingStrikes = 2;

std::vector<std::string> UsersMethodPaths() {
  std::vector<std::string> paths;
  const auto* service =
      user::UserRequest::descriptor()->file()->FindServiceByName("Users");
  for (int i = 0; i < service->method_count(); ++i) {
    paths.push_back("/" + service->full_name() + "/" +
                    service->method(i)->name());
  }
  return paths;
}

// Where the generated page-token key is kept (UserStore::GetOrCreateSecret).
constexpr std::string_view kPageTokenKeyName = "page_token_key";

// 32 random bytes from the system's CSPRNG; never a known fallback.
absl::StatusOr<std::string> RandomKey() {
  std::string key(32, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(key.data()),
                 static_cast<int>(key.size())) != 1) {
    return absl::InternalError("no randomness for the page-token key");
  }
  return key;
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::FailedPreconditionError(
        "cannot read " + path + ": " + std::strerror(errno) +
        " (check that the user running users-server may read it)");
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> Credentials(
    const ServerConfig& config) {
  if (config.tls_cert.empty()) return grpc::InsecureServerCredentials();
  TlsFiles files;
  auto cert = ReadFile(config.tls_cert);
  if (!cert.ok()) return cert.status();
  files.cert_chain = std::move(*cert);
  if (!config.allow_readable_secrets) {
    if (auto s = CheckSecretFilePermissions("--tls-key", config.tls_key);
        !s.ok()) {
      return s;
    }
  }
  auto key = ReadFile(config.tls_key);
  if (!key.ok()) return key.status();
  files.private_key = std::move(*key);
  if (!config.tls_client_ca.empty()) {
    auto ca = ReadFile(config.tls_client_ca);
    if (!ca.ok()) return ca.status();
    files.client_ca = std::move(*ca);
  }
  if (auto s = CheckTlsFiles(files, config.tls_cert, config.tls_key,
                             config.tls_client_ca);
      !s.ok()) {
    return s;
  }
  grpc::SslServerCredentialsOptions options;
  options.pem_key_cert_pairs.push_back({files.private_key, files.cert_chain});
  if (!files.client_ca.empty()) {
    options.pem_root_certs = files.client_ca;
    options.client_certificate_request =
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(options);
}

}  // namespace

UsersServer::UsersServer(ServerConfig config, int access_log_fd)
    : config_(std::move(config)), access_log_fd_(access_log_fd) {}

UsersServer::~UsersServer() {
  Shutdown(std::chrono::milliseconds(0));
  Wait();
}

absl::Status UsersServer::OpenStore() {
  if (config_.db == ":memory:") {
    base_store_ = std::make_unique<MemoryUserStore>();
  } else if (IsPostgresUri(config_.db)) {
    PostgresOptions options;
    options.max_read_connections = config_.db_pool;
    options.statement_timeout_ms = config_.db_statement_timeout_ms;
    // Other replicas' commits wake the change feed at once; set once the
    // feed exists (Start), read only from the store's listener thread.
    options.on_foreign_commit = [this] {
      if (ChangeFeed* feed = feed_ptr_.load()) feed->Notify();
    };
    auto postgres = PostgresUserStore::Open(config_.db, std::move(options));
    if (!postgres.ok()) return postgres.status();
    postgres_ = postgres->get();
    base_store_ = std::move(*postgres);
  } else {
    auto sqlite = SqliteUserStore::Open(config_.db);
    if (!sqlite.ok()) return sqlite.status();
    base_store_ = std::move(*sqlite);
  }
  if (config_.cache_users > 0 && config_.db != ":memory:") {
    // Other replicas' writes reach it through the change feed (Start).
    cache_ = std::make_unique<CachingUserStore>(base_store_.get(),
                                                config_.cache_users);
  }
  store_ = std::make_unique<CountingUserStore>(
      cache_ ? static_cast<UserStore*>(cache_.get()) : base_store_.get());
  return absl::OkStatus();
}

absl::Status UsersServer::Start() {
  if (auto s = OpenStore(); !s.ok()) return s;
  auto revisions = store_->Revisions();
  if (!revisions.ok()) return revisions.status();
  hub_ =
      std::make_unique<WatchHub>(revisions->latest, config_.watch_queue_limit);
  Compactor::Options compactor_options;
  compactor_options.keep = config_.event_retention;
  compactor_options.request_id_retention =
      std::chrono::seconds(config_.request_id_retention_s);
  compactor_ = std::make_unique<Compactor>(store_.get(), compactor_options);
  ChangeFeed::Options feed_options;
  feed_options.on_published =
      [compactor = compactor_.get(),
       cache = cache_.get()](const std::vector<Change>& changes) {
        // Before the hub: once a watcher sees a change, GetUser shows it too.
        if (cache != nullptr) cache->Invalidate(changes);
        compactor->Published(changes.back().revision);
      };
  if (cache_ != nullptr) {
    feed_options.on_gap = [cache = cache_.get()] { cache->InvalidateAll(); };
  }
  feed_ = std::make_unique<ChangeFeed>(store_.get(), hub_.get(),
                                       revisions->latest, feed_options);
  feed_ptr_.store(feed_.get());
  writer_ = std::make_unique<GroupCommitter>(store_.get(), feed_.get(),
                                             GroupCommitter::Options{});
  Directory::Options directory_options;
  directory_options.page_token_key = config_.page_token_key;
  if (directory_options.page_token_key.empty()) {
    auto candidate = RandomKey();
    if (!candidate.ok()) return candidate.status();
    auto key = store_->GetOrCreateSecret(kPageTokenKeyName, *candidate);
    if (!key.ok()) return key.status();
    directory_options.page_token_key = std::move(*key);
  }
  directory_ = std::make_unique<Directory>(store_.get(), writer_.get(),
                                           hub_.get(), directory_options);

  if (!config_.auth_tokens.empty()) {
    if (!config_.allow_readable_secrets) {
      if (auto s =
              CheckSecretFilePermissions("--auth-tokens", config_.auth_tokens);
          !s.ok()) {
        return s;
      }
    }
    auto contents = ReadFile(config_.auth_tokens);
    if (!contents.ok()) return contents.status();
    auto auth = TokenAuthenticator::Parse(*contents);
    if (!auth.ok()) {
      return absl::InvalidArgumentError(config_.auth_tokens + ": " +
                                        std::string(auth.status().message()));
    }
    spdlog::info("auth on: {} bearer token(s) loaded", auth->size());
    auth_ = std::make_unique<TokenAuthenticator>(std::move(*auth));
  } else {
    spdlog::warn(
        "auth is OFF: every caller may read and write "
        "(use --auth-tokens FILE to require bearer tokens)");
  }

  metrics_ = std::make_unique<Metrics>(UsersMethodPaths());
  metrics_->AddCallback(
      "users_watch_streams", "Open WatchUsers streams.", Metrics::Type::kGauge,
      [hub = hub_.get()] { return double(hub->watcher_count()); });
  metrics_->AddCallback(
      "users_storage_errors_total",
      "Storage operations that failed for the store's own reasons.",
      Metrics::Type::kCounter,
      [store = store_.get()] { return double(store->errors()); });
  if (cache_) {
    metrics_->AddCallback("users_store_cache_hits_total",
                          "User reads answered from the in-memory cache.",
                          Metrics::Type::kCounter, [cache = cache_.get()] {
                            return double(cache->hits());
                          });
    metrics_->AddCallback(
        "users_store_cache_misses_total",
        "User reads that went to the database.", Metrics::Type::kCounter,
        [cache = cache_.get()] { return double(cache->misses()); });
  }
  metrics_->AddCallback(
      "users_build_info", "Build of the running users-server.",
      Metrics::Type::kGauge, [] { return 1.0; },
      "version=\"" + std::string(ProjectVersion()) + "\",commit=\"" +
          std::string(GitCommit()) + "\"");
  // Access lines are info: a level above info turns them off.
  const auto level = spdlog::level::from_str(config_.log_level);
  if (access_log_fd_ >= 0 && level <= spdlog::level::info) {
    access_log_ =
        std::make_unique<AccessLog>(access_log_fd_, config_.log_format);
  }

  ServiceOptions service_options;
  service_options.admission.auth = auth_.get();
  service_options.admission.metrics = metrics_.get();
  service_options.admission.max_inflight = config_.max_inflight;
  service_options.status_on_unknown_exception =
      static_cast<absl::StatusCode>(config_.status_on_unknown_exception);
  service_options.max_reply_bytes =
      static_cast<size_t>(config_.max_message_bytes);
  service_options.observers.push_back(metrics_.get());
  if (access_log_) service_options.observers.push_back(access_log_.get());
  service_ = std::make_unique<UsersService>(directory_.get(), service_options);

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
  listener_options.on_accepting_changed = [this](bool accepting) {
    accepting_ = accepting;
    UpdateHealth();
  };
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
  auto* health = server_->GetHealthCheckService();
  health->SetServingStatus("", false);
  health->SetServingStatus(kServiceName, false);
  listener_->Start([acceptor](int listener_fd, int fd) {
    grpc::experimental::ExternalConnectionAcceptor::NewConnectionParameters
        connection;
    connection.listener_fd = listener_fd;
    connection.fd = fd;
    acceptor->HandleNewConnection(&connection);
  });
  if (auto s = StartMetricsEndpoint(); !s.ok()) return s;
  health_thread_ = std::thread([this] { MonitorHealth(); });
  return absl::OkStatus();
}

void UsersServer::MonitorHealth() {
  do {
    const absl::Status status = store_->Check();
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
  const bool serving = store_ok_ && accepting_ && !draining_;
  auto* health = server_->GetHealthCheckService();
  health->SetServingStatus("", serving);
  health->SetServingStatus(kServiceName, serving);
}

absl::Status UsersServer::StartMetricsEndpoint() {
  if (config_.metrics_port < 0) return absl::OkStatus();
  metrics_http_ = std::make_unique<httplib::Server>();
  metrics_http_->Get(
      "/metrics", [this](const httplib::Request&, httplib::Response& res) {
        res.set_content(metrics_->Render(), "text/plain; version=0.0.4");
      });
  // grpc.health.v1's answer for the whole server over plain HTTP, for load
  // balancers that cannot speak gRPC health checks (haproxy 2.6): 503 as
  // soon as a drain starts, so they stop sending new calls here.
  metrics_http_->Get(
      "/readyz", [this](const httplib::Request&, httplib::Response& res) {
        const bool serving = store_ok_ && accepting_ && !draining_ &&
                             !stopping_.HasBeenNotified();
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
  if (server_) server_->GetHealthCheckService()->Shutdown();  // all NOT_SERVING
  // No new connections: grpc's acceptor would neither serve nor close them.
  if (listener_) listener_->Stop();
  // Open watch streams end now with UNAVAILABLE, so their clients reconnect
  // elsewhere instead of holding the drain for the whole grace period.
  if (hub_) hub_->CloseAll();
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + grace);
}

void UsersServer::Wait() {
  if (waited_) return;
  waited_ = true;
  if (server_) server_->Wait();
  // Every call's access line is out before the caller logs "stopped".
  if (access_log_) access_log_->Flush();
  if (health_thread_.joinable()) health_thread_.join();
  // No call is left to submit writes: commit what is queued and stop.
  if (writer_) writer_->Stop();
  // Nothing may wake the feed once it is stopped.
  if (postgres_ != nullptr) postgres_->StopListening();
  feed_ptr_.store(nullptr);
  if (feed_) feed_->Stop();
  if (compactor_) compactor_->Stop();
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

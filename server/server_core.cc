#include "server/server_core.h"

#include <string>
#include <utility>

#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include "server/secret_file.h"
#include "service_protos/user.pb.h"
#include "storage/memory_user_store.h"
#include "storage/sqlite_user_store.h"
#include "version/version.h"

namespace users {
namespace {

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

}  // namespace

ServerCore::ServerCore(const ServerConfig& config, int access_log_fd)
    : config_(config), access_log_fd_(access_log_fd) {}

absl::Status ServerCore::OpenStore() {
  if (config_.db == ":memory:") {
    base_store_ = std::make_unique<MemoryUserStore>();
  } else if (IsPostgresUri(config_.db)) {
    PostgresOptions options;
    options.max_read_connections = config_.db_pool;
    options.statement_timeout_ms = config_.db_statement_timeout_ms;
    // Other replicas' commits wake the change feed at once; set once the
    // feed exists (Open), read only from the store's listener thread.
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
    // Other replicas' writes reach it through the change feed (Open).
    cache_ = std::make_unique<CachingUserStore>(base_store_.get(),
                                                config_.cache_users);
  }
  store_ = std::make_unique<CountingUserStore>(
      cache_ ? static_cast<UserStore*>(cache_.get()) : base_store_.get());
  return absl::OkStatus();
}

absl::Status ServerCore::Open() {
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
  if (auto s = LoadTokens(); !s.ok()) return s;
  AddMetrics();
  // Access lines are info: a level above info turns them off.
  const auto level = spdlog::level::from_str(config_.log_level);
  if (access_log_fd_ >= 0 && level <= spdlog::level::info) {
    access_log_ =
        std::make_unique<AccessLog>(access_log_fd_, config_.log_format);
  }
  return absl::OkStatus();
}

absl::Status ServerCore::LoadTokens() {
  if (config_.auth_tokens.empty()) {
    spdlog::warn(
        "auth is OFF: every caller may read and write "
        "(use --auth-tokens FILE to require bearer tokens)");
    return absl::OkStatus();
  }
  if (!config_.allow_readable_secrets) {
    if (auto s =
            CheckSecretFilePermissions("--auth-tokens", config_.auth_tokens);
        !s.ok()) {
      return s;
    }
  }
  auto contents = ReadStartupFile(config_.auth_tokens);
  if (!contents.ok()) return contents.status();
  auto auth = TokenAuthenticator::Parse(*contents);
  if (!auth.ok()) {
    return absl::InvalidArgumentError(config_.auth_tokens + ": " +
                                      std::string(auth.status().message()));
  }
  spdlog::info("auth on: {} bearer token(s) loaded", auth->size());
  auth_ = std::make_unique<TokenAuthenticator>(std::move(*auth));
  return absl::OkStatus();
}

void ServerCore::AddMetrics() {
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
}

AdmissionOptions ServerCore::admission() const {
  AdmissionOptions options;
  options.auth = auth_.get();
  options.metrics = metrics_.get();
  options.max_inflight = config_.max_inflight;
  return options;
}

std::vector<CallObserver*> ServerCore::observers() const {
  std::vector<CallObserver*> observers{metrics_.get()};
  if (access_log_) observers.push_back(access_log_.get());
  return observers;
}

void ServerCore::CloseWatches() {
  if (hub_) hub_->CloseAll();
}

void ServerCore::FlushAccessLog() {
  if (access_log_) access_log_->Flush();
}

void ServerCore::Stop() {
  if (stopped_) return;
  stopped_ = true;
  // No call is left to submit writes: commit what is queued and stop.
  if (writer_) writer_->Stop();
  // Nothing may wake the feed once it is stopped.
  if (postgres_ != nullptr) postgres_->StopListening();
  feed_ptr_.store(nullptr);
  if (feed_) feed_->Stop();
  if (compactor_) compactor_->Stop();
}

}  // namespace users

// users-server's configuration: every flag also reads a USERS_* environment
// variable (the flag wins when both are given). `users-server --help` lists
// them all with their defaults.
#ifndef USERS_SERVER_CONFIG_H_
#define USERS_SERVER_CONFIG_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "middleware/access_log.h"

namespace users {

struct ServerConfig {
  std::string host = "[::]";
  int port = 50051;

  // SQLite file, created on first start; a PostgreSQL URI; or ":memory:",
  // which keeps everything in RAM.
  std::string db = "./data/users.db";
  int db_pool = 8;                      // PostgreSQL read connections
  int db_statement_timeout_ms = 10000;  // PostgreSQL; 0: none
  int64_t event_retention = 100000;
  // How long a write's request_id is remembered for retries (AIP-155).
  int64_t request_id_retention_s = 24 * 60 * 60;
  size_t cache_users = 100000;  // 0 turns the cache off
  // A watcher this many events behind is cut off with RESOURCE_EXHAUSTED.
  size_t watch_queue_limit = 10000;
  // Empty: a random key made at first start and kept in the database.
  std::string page_token_key;

  // The HTTP/JSON API and admin page (docs/http.md): 0 off, -1 a free port.
  int http_port = 0;
  std::string http_host = "[::]";
  int http_threads = 2;
  // To read one request (header and body) or write one answer; a slower
  // client is disconnected.
  double http_request_timeout_s = 30;
  // Origins a browser may call the API from; empty: CORS off.
  std::vector<std::string> http_cors_origins;

  bool reflection = true;
  int metrics_port = -1;  // -1: no metrics endpoint; 0: a free port
  std::string metrics_host = "127.0.0.1";

  std::string tls_cert, tls_key, tls_client_ca;
  std::string auth_tokens;  // file of "<token> <role>" lines; empty: auth off
  // Take a tokens file or TLS key that other users can read (secrets some
  // platforms mount 0644).
  bool allow_readable_secrets = false;

  // What an exception that is not a users::RpcError becomes (as
  // status_on_unknown_exception in Python's grpc-interceptor).
  absl::StatusCode status_on_unknown_exception = absl::StatusCode::kInternal;

  int64_t max_inflight = 0;  // 0: unlimited
  int max_message_bytes = 4 * 1024 * 1024;
  int max_concurrent_streams = 1000;
  // What grpc may hold for all connections and calls together.
  size_t memory_quota_bytes = size_t{32} << 20;
  int keepalive_min_ping_interval_ms = 60000;
  // Connections open at once; beyond it new ones are refused. 0: derived
  // from the descriptor limit (server/descriptor_limit.h).
  size_t max_connections = 0;
  // A connection that has not finished its TLS and HTTP/2 handshakes by then
  // is closed.
  double handshake_timeout_s = 10;
  double shutdown_grace_s = 10;
  // Between the stop signal and Shutdown: NOT_SERVING, still serving.
  double drain_delay_s = 0;

  LogFormat log_format = LogFormat::kText;
  std::string log_level = "info";
};

// users-server's exit statuses.
inline constexpr int kExitOk = 0;
inline constexpr int kExitCannotStart = 1;  // a resource that cannot be used
inline constexpr int kExitUsage = 2;        // a bad flag or value

// Parses argv (and the environment). On --help or a bad value, prints to
// stdout/stderr and sets the process exit code in `exit_code`; returns true
// when the server should start.
bool ParseServerConfig(int argc, char** argv, ServerConfig* config,
                       int* exit_code);

}  // namespace users

#endif  // USERS_SERVER_CONFIG_H_

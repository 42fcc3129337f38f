#include "server/config.h"

#include <cmath>
#include <map>

#include <CLI/CLI.hpp>

#include <iostream>

#include "version/version.h"

namespace users {

bool ParseServerConfig(int argc, char** argv, ServerConfig* config,
                       int* exit_code) {
  CLI::App app{
      "users-server: the Users gRPC service.\n"
      "Every option can also be set through the environment variable shown."};
  app.option_defaults()->always_capture_default();
  app.name("users-server");
  app.set_version_flag("--version", VersionLine("users-server"),
                       "Print the version and exit");
  auto* c = config;

  app.add_option("--host", c->host, "Address to listen on")
      ->envname("USERS_HOST");
  app.add_option("--port", c->port, "Port to listen on; 0 picks a free one")
      ->envname("USERS_PORT")
      ->check(CLI::Range(0, 65535));

  app.add_option("--db", c->db,
                 "SQLite database file (created with its schema on first "
                 "start), a PostgreSQL URI (postgresql://user:password@host:"
                 "port/dbname, shared by several servers), or :memory: for "
                 "an in-memory store")
      ->envname("USERS_DB");
  app.add_option("--db-pool", c->db_pool,
                 "PostgreSQL: read connections per server (writes have one "
                 "of their own)")
      ->envname("USERS_DB_POOL")
      ->check(CLI::Range(1, 1000));
  app.add_option("--db-statement-timeout-ms", c->db_statement_timeout_ms,
                 "PostgreSQL: a statement running longer is cancelled and "
                 "its call ends DEADLINE_EXCEEDED; 0: no limit")
      ->envname("USERS_DB_STATEMENT_TIMEOUT_MS")
      ->check(CLI::Range(0, 3600000));
  app.add_option("--event-retention", c->event_retention,
                 "Keep at least this many change events for WatchUsers")
      ->envname("USERS_EVENT_RETENTION")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  app.add_option("--request-id-retention-s", c->request_id_retention_s,
                 "Seconds a write's request_id is remembered, so that a "
                 "retry gets the first outcome instead of writing twice")
      ->envname("USERS_REQUEST_ID_RETENTION_S")
      ->check(CLI::Range(int64_t{1}, int64_t{365} * 24 * 60 * 60));
  app.add_option("--cache-users", c->cache_users,
                 "Users kept in memory for GetUser/LookupUsers in front of "
                 "the database (~300 bytes each); 0 turns the cache off. "
                 "Other replicas' writes evict through the change feed")
      ->envname("USERS_CACHE_USERS")
      ->check(CLI::Range(size_t{0}, size_t{100000000}));
  app.add_option("--watch-queue-limit", c->watch_queue_limit,
                 "Events a WatchUsers stream may fall behind before it is "
                 "ended with RESOURCE_EXHAUSTED")
      ->envname("USERS_WATCH_QUEUE_LIMIT")
      ->check(CLI::Range(size_t{1}, size_t{10000000}));
  app.add_option("--page-token-key", c->page_token_key,
                 "Key that authenticates ListUsers page tokens (default: a "
                 "random key made at first start and kept in the database, "
                 "so restarts and replicas share it)")
      ->envname("USERS_PAGE_TOKEN_KEY");

  app.add_option("--http-port", c->http_port,
                 "Serve the HTTP/JSON API and the admin page on this port "
                 "(0: off; -1: a free port), plain or with --tls-cert")
      ->envname("USERS_HTTP_PORT")
      ->check(CLI::Range(-1, 65535));
  app.add_option("--http-host", c->http_host, "Address for the HTTP API")
      ->envname("USERS_HTTP_HOST");
  app.add_option("--http-threads", c->http_threads,
                 "Threads serving HTTP connections (each serves many)")
      ->envname("USERS_HTTP_THREADS")
      ->check(CLI::Range(1, 256));
  app.add_option("--http-request-timeout", c->http_request_timeout_s,
                 "Seconds a client gets to send one request, or to take one "
                 "answer, before it is disconnected")
      ->envname("USERS_HTTP_REQUEST_TIMEOUT")
      ->check(CLI::Range(0.1, 3600.0));
  app.add_option("--http-cors-origins", c->http_cors_origins,
                 "Origins browsers may call the HTTP API from, comma-"
                 "separated (\"*\": any); CORS is off without it")
      ->envname("USERS_HTTP_CORS_ORIGINS")
      ->delimiter(',');

  bool no_reflection = false;
  app.add_flag("--no-reflection", no_reflection,
               "Do not offer the gRPC server reflection service")
      ->envname("USERS_NO_REFLECTION");
  app.add_option(
         "--metrics-port", c->metrics_port,
         "Serve Prometheus metrics on http://<metrics-host>:<port>/metrics "
         "(-1: off, 0: a free port)")
      ->envname("USERS_METRICS_PORT")
      ->check(CLI::Range(-1, 65535));
  app.add_option("--metrics-host", c->metrics_host,
                 "Address for the metrics endpoint")
      ->envname("USERS_METRICS_HOST");

  app.add_option("--tls-cert", c->tls_cert,
                 "Server certificate chain (PEM); enables TLS")
      ->envname("USERS_TLS_CERT")
      ->check(CLI::ExistingFile);
  app.add_option("--tls-key", c->tls_key, "Server private key (PEM)")
      ->envname("USERS_TLS_KEY")
      ->check(CLI::ExistingFile);
  app.add_option("--tls-client-ca", c->tls_client_ca,
                 "CA bundle (PEM) for mutual TLS: client certificates are "
                 "required and verified against it")
      ->envname("USERS_TLS_CLIENT_CA")
      ->check(CLI::ExistingFile);
  app.add_option("--auth-tokens", c->auth_tokens,
                 "File of '<token> <role>' lines (roles: reader, writer); "
                 "enables bearer-token auth")
      ->envname("USERS_AUTH_TOKENS")
      ->check(CLI::ExistingFile);

  app.add_flag("--allow-readable-secrets", c->allow_readable_secrets,
               "Accept an --auth-tokens file or --tls-key that other users "
               "can read (by default refused: chmod 600 it)")
      ->envname("USERS_ALLOW_READABLE_SECRETS");
  app.add_option("--max-inflight", c->max_inflight,
                 "Calls in flight beyond this get RESOURCE_EXHAUSTED at once "
                 "(0: no limit)")
      ->envname("USERS_MAX_INFLIGHT")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--max-message-bytes", c->max_message_bytes,
                 "Largest message accepted or sent")
      ->envname("USERS_MAX_MESSAGE_BYTES")
      ->check(CLI::Range(1024, 1 << 30));
  app.add_option("--memory-quota-bytes", c->memory_quota_bytes,
                 "Memory gRPC may hold for all connections and calls (read "
                 "buffers, messages being received); past it, calls are "
                 "cancelled with RESOURCE_EXHAUSTED until it is back under")
      ->envname("USERS_MEMORY_QUOTA_BYTES")
      ->check(CLI::Range(size_t{1} << 20, size_t{1} << 40));
  app.add_option("--max-concurrent-streams", c->max_concurrent_streams,
                 "HTTP/2 streams (calls) per connection")
      ->envname("USERS_MAX_CONCURRENT_STREAMS")
      ->check(CLI::Range(1, 1 << 20));
  app.add_option("--keepalive-min-ping-interval-ms",
                 c->keepalive_min_ping_interval_ms,
                 "Clients pinging more often than this are disconnected")
      ->envname("USERS_KEEPALIVE_MIN_PING_INTERVAL_MS")
      ->check(CLI::Range(1000, 3600 * 1000));
  app.add_option("--max-connections", c->max_connections,
                 "Connections open at once; more are refused at once (0: the "
                 "file-descriptor limit less a reserve)")
      ->envname("USERS_MAX_CONNECTIONS")
      ->check(CLI::Range(size_t{0}, size_t{1} << 30));
  app.add_option("--handshake-timeout", c->handshake_timeout_s,
                 "Seconds a new connection gets to finish its TLS and HTTP/2 "
                 "handshakes before it is closed")
      ->envname("USERS_HANDSHAKE_TIMEOUT")
      ->check(CLI::Range(0.1, 3600.0));
  app.add_option("--shutdown-grace", c->shutdown_grace_s,
                 "Seconds in-flight calls get to finish after SIGTERM/SIGINT")
      ->envname("USERS_SHUTDOWN_GRACE")
      ->check(CLI::Range(0.0, 3600.0));
  app.add_option("--drain-delay", c->drain_delay_s,
                 "Seconds between SIGTERM/SIGINT and the shutdown, reporting "
                 "NOT_SERVING (health, /readyz) while still serving, so that "
                 "load balancers stop sending calls first; a second signal "
                 "ends the wait")
      ->envname("USERS_DRAIN_DELAY")
      ->check(CLI::Range(0.0, 3600.0));

  const std::map<std::string, absl::StatusCode> codes{
      {"UNKNOWN", absl::StatusCode::kUnknown},
      {"INTERNAL", absl::StatusCode::kInternal},
      {"UNAVAILABLE", absl::StatusCode::kUnavailable},
      {"DATA_LOSS", absl::StatusCode::kDataLoss}};
  app.add_option("--status-on-unknown-exception",
                 c->status_on_unknown_exception,
                 "gRPC code for an unexpected exception in a handler: "
                 "INTERNAL|UNKNOWN|UNAVAILABLE|DATA_LOSS")
      ->envname("USERS_STATUS_ON_UNKNOWN_EXCEPTION")
      ->transform(CLI::CheckedTransformer(codes, CLI::ignore_case))
      ->default_str("INTERNAL");
  const std::map<std::string, LogFormat> formats{{"text", LogFormat::kText},
                                                 {"json", LogFormat::kJson}};
  app.add_option("--log-format", c->log_format, "Log line format: text|json")
      ->envname("USERS_LOG_FORMAT")
      ->transform(CLI::CheckedTransformer(formats, CLI::ignore_case))
      ->default_str("text");
  app.add_option(
         "--log-level", c->log_level,
         "trace|debug|info|warn|error|critical|off (access lines are info)")
      ->envname("USERS_LOG_LEVEL")
      ->check(CLI::IsMember(
          {"trace", "debug", "info", "warn", "error", "critical", "off"}));
  try {
    app.parse(argc, argv);
    // CLI11's range checks let "nan" through (every comparison is false).
    if (!std::isfinite(c->drain_delay_s)) {
      throw CLI::ValidationError("--drain-delay", "must be a number");
    }
    if (!std::isfinite(c->shutdown_grace_s)) {
      throw CLI::ValidationError("--shutdown-grace", "must be a number");
    }
    if (!std::isfinite(c->http_request_timeout_s)) {
      throw CLI::ValidationError("--http-request-timeout", "must be a number");
    }
    if (!std::isfinite(c->handshake_timeout_s)) {
      throw CLI::ValidationError("--handshake-timeout", "must be a number");
    }
    if (c->tls_cert.empty() != c->tls_key.empty()) {
      throw CLI::ValidationError("--tls-cert/--tls-key",
                                 "give both or neither");
    }
    if (!c->tls_client_ca.empty() && c->tls_cert.empty()) {
      throw CLI::ValidationError("--tls-client-ca",
                                 "needs --tls-cert and --tls-key");
    }
  } catch (const CLI::ParseError& e) {
    // --help and --version print and exit 0; a bad command line is one
    // line naming the option and exit 2 (docs/operations.md).
    if (e.get_exit_code() == 0) {
      *exit_code = app.exit(e);
    } else {
      std::cerr << "users-server: " << e.what()
                << "\n  see users-server --help\n";
      *exit_code = kExitUsage;
    }
    return false;
  }
  c->reflection = !no_reflection;
  return true;
}

}  // namespace users

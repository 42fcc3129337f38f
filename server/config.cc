#include "server/config.h"

#include <map>

#include <CLI/CLI.hpp>

namespace users {

bool ParseServerConfig(int argc, char** argv, ServerConfig* config,
                       int* exit_code) {
  CLI::App app{"users-server: the Users gRPC service"};
  app.option_defaults()->always_capture_default();
  app.add_option("--host", config->host, "Address to listen on")
      ->envname("USERS_HOST");
  app.add_option("--port", config->port, "Port to listen on; 0 picks a free one")
      ->envname("USERS_PORT")
      ->check(CLI::Range(0, 65535));
  app.add_option("--db", config->db,
                 "SQLite database file (created with its schema on first "
                 "start), or :memory: for an in-memory store")
      ->envname("USERS_DB");
  app.add_option("--event-retention", config->event_retention,
                 "Keep at least this many change events for WatchUsers")
      ->envname("USERS_EVENT_RETENTION")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  app.add_option("--watch-queue-limit", config->watch_queue_limit,
                 "Events a WatchUsers stream may fall behind before it is "
                 "ended with RESOURCE_EXHAUSTED")
      ->envname("USERS_WATCH_QUEUE_LIMIT")
      ->check(CLI::Range(size_t{1}, size_t{10000000}));
  app.add_option("--page-token-key", config->page_token_key,
                 "Key that authenticates ListUsers page tokens; the same on "
                 "every replica")
      ->envname("USERS_PAGE_TOKEN_KEY");
  const std::map<std::string, LogFormat> formats{{"text", LogFormat::kText},
                                                 {"json", LogFormat::kJson}};
  app.add_option("--log-format", config->log_format, "Log line format: text|json")
      ->envname("USERS_LOG_FORMAT")
      ->transform(CLI::CheckedTransformer(formats, CLI::ignore_case))
      ->default_str("text");
  app.add_option("--log-level", config->log_level,
                 "trace|debug|info|warn|error|critical|off")
      ->envname("USERS_LOG_LEVEL")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error",
                             "critical", "off"}));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    *exit_code = app.exit(e);
    return false;
  }
  return true;
}

}  // namespace users

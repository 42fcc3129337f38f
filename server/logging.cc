#include "server/logging.h"

#include <google/protobuf/stubs/logging.h>
#include <grpc/support/log.h>
#include <spdlog/async.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

namespace users {
namespace {

// %j: the message as a JSON string (quoted and escaped), for JSON log lines.
class JsonMessageFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const std::string text =
        nlohmann::json(std::string(msg.payload.data(), msg.payload.size()))
            .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    dest.append(text.data(), text.data() + text.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonMessageFlag>();
  }
};

// protobuf writes its own lines straight to stderr, which would break the
// JSON format, so they go through our logger. Those about a peer's bytes
// that failed to parse (a string that is not UTF-8) are debug: the caller
// gets the outcome as a status or an import error. The rest keep their level:
// one about serializing such a string is a bug of ours.
void LogFromProtobuf(google::protobuf::LogLevel level, const char* file,
                     int line, const std::string& message) {
  using google::protobuf::LogLevel;
  if (message.find("when parsing a protocol buffer") != std::string::npos) {
    spdlog::debug("protobuf: {}", message);
    return;
  }
  const auto ours = level == LogLevel::LOGLEVEL_INFO      ? spdlog::level::info
                    : level == LogLevel::LOGLEVEL_WARNING ? spdlog::level::warn
                    : level == LogLevel::LOGLEVEL_ERROR
                        ? spdlog::level::err
                        : spdlog::level::critical;
  spdlog::log(ours, "protobuf {}:{}: {}", file, line, message);
  // A fatal one throws next and ends the process: write out the queue first.
  if (ours == spdlog::level::critical) spdlog::default_logger()->flush();
}

// grpc core writes its own lines to stderr: about a peer (a TLS handshake a
// stranger failed, a connection reset) far more often than about us, and
// in a format of its own. They go through our logger at debug, so the
// default log holds only our lines (whose messages say what failed), and
// --log-level debug shows core's detail.
void LogFromGrpc(gpr_log_func_args* args) {
  spdlog::debug("grpc {}:{}: {}", args->file, args->line, args->message);
}

}  // namespace

void InitLogging(LogFormat format, const std::string& level) {
  // Overrun the oldest line rather than block a thread when stderr is slow.
  // Access lines have their own writer, so this queue only sees operational
  // lines; its slots are allocated up front (~400 bytes each), and 8192 of
  // them were 3 MiB of idle RSS.
  spdlog::init_thread_pool(1024, 1);
  auto logger = std::make_shared<spdlog::async_logger>(
      "users", std::make_shared<spdlog::sinks::stderr_sink_mt>(),
      spdlog::thread_pool(), spdlog::async_overflow_policy::overrun_oldest);
  if (format == LogFormat::kJson) {
    auto formatter = std::make_unique<spdlog::pattern_formatter>(
        spdlog::pattern_time_type::utc);
    formatter->add_flag<JsonMessageFlag>('j').set_pattern(
        R"({"time":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","msg":%j})");
    logger->set_formatter(std::move(formatter));
  } else {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%fZ %^%l%$ %v",
                        spdlog::pattern_time_type::utc);
  }
  logger->set_level(spdlog::level::from_str(level));
  spdlog::set_default_logger(logger);
  spdlog::flush_every(std::chrono::seconds(1));
  google::protobuf::SetLogHandler(&LogFromProtobuf);
  gpr_set_log_function(&LogFromGrpc);
}

}  // namespace users

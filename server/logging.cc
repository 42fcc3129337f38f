#include "server/logging.h"

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

}  // namespace

std::shared_ptr<spdlog::logger> InitLogging(LogFormat format,
                                            const std::string& level) {
  // Overrun the oldest line rather than block a gRPC thread when stderr is slow.
  spdlog::init_thread_pool(65536, 1);
  // One sink per logger: a logger's pattern is set on its sinks. Both write
  // from the single logging thread, so lines never interleave.
  auto main_logger = std::make_shared<spdlog::async_logger>(
      "users", std::make_shared<spdlog::sinks::stderr_sink_mt>(),
      spdlog::thread_pool(), spdlog::async_overflow_policy::overrun_oldest);
  auto access_logger = std::make_shared<spdlog::async_logger>(
      "access", std::make_shared<spdlog::sinks::stderr_sink_mt>(),
      spdlog::thread_pool(), spdlog::async_overflow_policy::overrun_oldest);
  if (format == LogFormat::kJson) {
    auto formatter = std::make_unique<spdlog::pattern_formatter>();
    formatter->add_flag<JsonMessageFlag>('j').set_pattern(
        R"({"time":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","msg":%j})");
    main_logger->set_formatter(std::move(formatter));
    access_logger->set_pattern("%v", spdlog::pattern_time_type::utc);
  } else {
    main_logger->set_pattern("%Y-%m-%dT%H:%M:%S.%f %^%l%$ %v");
    access_logger->set_pattern("%Y-%m-%dT%H:%M:%S.%f access %v");
  }
  const auto lvl = spdlog::level::from_str(level);
  main_logger->set_level(lvl);
  access_logger->set_level(lvl);
  // Access lines are info: a level above info silences them, as expected.
  spdlog::set_default_logger(main_logger);
  spdlog::flush_every(std::chrono::seconds(1));
  return access_logger;
}

}  // namespace users

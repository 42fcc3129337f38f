#include "middleware/access_log.h"

#include <chrono>
#include <utility>

#include <fmt/chrono.h>
#include <fmt/format.h>

#include "errors/errors.h"

namespace users {

std::string FormatAccessLine(const CallRecord& record, LogFormat format) {
  const double ms =
      std::chrono::duration<double, std::milli>(record.duration).count();
  const std::string_view code = StatusCodeName(record.code);
  if (format == LogFormat::kText) {
    return fmt::format("{} peer={} code={} duration_ms={:.3f} request_id={}",
                       record.method, record.peer, code, ms, record.request_id);
  }
  // Every field is free of quotes and backslashes: methods are registered
  // paths, peers are gRPC URIs, request ids are checked by
  // IsAcceptableRequestId. So plain formatting yields valid JSON.
  const auto now = std::chrono::time_point_cast<std::chrono::microseconds>(
      std::chrono::system_clock::now());
  return fmt::format(
      R"({{"time":"{:%Y-%m-%dT%H:%M:%S}Z","level":"info","log":"access","method":"{}","peer":"{}","code":"{}","duration_ms":{:.3f},"request_id":"{}"}})",
      now, record.method, record.peer, code, ms, record.request_id);
}

AccessLog::AccessLog(std::shared_ptr<spdlog::logger> logger, LogFormat format)
    : logger_(std::move(logger)), format_(format) {}

void AccessLog::OnCallEnd(const CallRecord& record) {
  logger_->info(FormatAccessLine(record, format_));
}

}  // namespace users

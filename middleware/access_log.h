// The access log: one line per RPC with method, peer, status code, duration
// and request id, written through an asynchronous spdlog logger so that no
// call waits for stderr.
#ifndef USERS_MIDDLEWARE_ACCESS_LOG_H_
#define USERS_MIDDLEWARE_ACCESS_LOG_H_

#include <memory>
#include <string>

#include <spdlog/logger.h>

#include "middleware/call_observer.h"

namespace users {

enum class LogFormat { kText, kJson };

// The line for `record`, without timestamp (the logger adds it in text mode;
// in JSON mode the line is a complete object with its own "time").
std::string FormatAccessLine(const CallRecord& record, LogFormat format);

class AccessLog final : public CallObserver {
 public:
  // `logger` should be asynchronous; it is shared, not owned exclusively.
  AccessLog(std::shared_ptr<spdlog::logger> logger, LogFormat format);

  void OnCallEnd(const CallRecord& record) override;

 private:
  std::shared_ptr<spdlog::logger> logger_;
  LogFormat format_;
};

}  // namespace users

#endif  // USERS_MIDDLEWARE_ACCESS_LOG_H_

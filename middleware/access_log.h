// The access log: one line per RPC with method, peer, status code, duration
// and request id, batched per thread and written by a background thread
// (LineWriter), so that no call waits for stderr.
#ifndef USERS_MIDDLEWARE_ACCESS_LOG_H_
#define USERS_MIDDLEWARE_ACCESS_LOG_H_

#include <chrono>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "middleware/call_observer.h"
#include "middleware/line_writer.h"

namespace users {

enum class LogFormat { kText, kJson };

// Appends the line for `record`, ended at `now`, to `out` (no newline):
// text "2026-11-25T01:01:51.152336Z access <method> peer=... code=...
// duration_ms=... request_id=...", or one JSON object with the same fields.
void FormatAccessLine(const CallRecord& record, LogFormat format,
                      std::chrono::system_clock::time_point now,
                      fmt::memory_buffer& out);

class AccessLog final : public CallObserver {
 public:
  // Writes to `fd` (not owned; normally 2, stderr).
  AccessLog(int fd, LogFormat format);

  void OnCallEnd(const CallRecord& record) override;
  void Flush() { writer_.Flush(); }
  uint64_t dropped() const { return writer_.dropped(); }

 private:
  LogFormat format_;
  LineWriter writer_;
};

}  // namespace users

#endif  // USERS_MIDDLEWARE_ACCESS_LOG_H_

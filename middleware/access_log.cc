#include "middleware/access_log.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <string_view>

#include "errors/errors.h"

namespace users {
namespace {

// "2026-11-25T01:01:51": formatting a calendar time costs more than the rest
// of the line, so each thread keeps the last second it formatted.
std::string_view SecondsPrefix(std::time_t seconds) {
  thread_local std::time_t cached_seconds = -1;
  thread_local char cached[32];
  thread_local size_t cached_length = 0;
  if (seconds != cached_seconds) {
    std::tm tm;
    gmtime_r(&seconds, &tm);
    cached_length =
        std::strftime(cached, sizeof(cached), "%Y-%m-%dT%H:%M:%S", &tm);
    cached_seconds = seconds;
  }
  return {cached, cached_length};
}

// The line is written with plain copies into space reserved once, rather
// than through fmt: this runs on every call, and even a compiled fmt format
// cost ~860 instructions a line (callgrind), fmt's piecewise appends more.
class LineBuilder {
 public:
  // Reserves `max_size` bytes at the end of `out`; the destructor gives back
  // what was not used.
  LineBuilder(fmt::memory_buffer& out, size_t max_size)
      : out_(out), start_(out.size()) {
    out_.resize(start_ + max_size);
    at_ = out_.data() + start_;
  }
  ~LineBuilder() { out_.resize(static_cast<size_t>(at_ - out_.data())); }

  void Put(std::string_view s) {
    std::memcpy(at_, s.data(), s.size());
    at_ += s.size();
  }
  // `value` in decimal, zero-padded to at least `width` digits (at most 20).
  void PutDigits(uint64_t value, int width) {
    char digits[20];
    int n = 0;
    do {
      digits[n++] = static_cast<char>('0' + value % 10);
      value /= 10;
    } while (value != 0);
    while (n < width) digits[n++] = '0';
    while (n > 0) *at_++ = digits[--n];
  }

 private:
  fmt::memory_buffer& out_;
  const size_t start_;
  char* at_;
};

}  // namespace

void FormatAccessLine(const CallRecord& record, LogFormat format,
                      std::chrono::system_clock::time_point now,
                      fmt::memory_buffer& out) {
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                          now.time_since_epoch())
                          .count();
  const std::string_view prefix =
      SecondsPrefix(static_cast<std::time_t>(micros / 1000000));
  const auto fraction = static_cast<uint64_t>(micros % 1000000);
  // Milliseconds with three decimals from integers: formatting a double with
  // a precision cost more than the rest of the line.
  const auto duration_us = static_cast<uint64_t>(
      (std::max<int64_t>(0, record.duration.count()) + 500) / 1000);
  const std::string_view code = StatusCodeName(record.code);
  // Fixed text, the variable fields, and room for the numbers.
  const size_t max_size = 160 + prefix.size() + record.method.size() +
                          record.peer.size() + code.size() +
                          record.request_id.size();
  LineBuilder line(out, max_size);
  if (format == LogFormat::kText) {
    line.Put(prefix);
    line.Put(".");
    line.PutDigits(fraction, 6);
    line.Put("Z access ");
    line.Put(record.method);
    line.Put(" peer=");
    line.Put(record.peer);
    line.Put(" code=");
    line.Put(code);
    line.Put(" duration_ms=");
    line.PutDigits(duration_us / 1000, 1);
    line.Put(".");
    line.PutDigits(duration_us % 1000, 3);
    line.Put(" request_id=");
    line.Put(record.request_id);
    return;
  }
  // Every field is free of quotes and backslashes: methods are registered
  // paths, peers are gRPC URIs, request ids are checked by
  // IsAcceptableRequestId. So plain copying yields valid JSON.
  line.Put(R"({"time":")");
  line.Put(prefix);
  line.Put(".");
  line.PutDigits(fraction, 6);
  line.Put(R"(Z","level":"info","log":"access","method":")");
  line.Put(record.method);
  line.Put(R"(","peer":")");
  line.Put(record.peer);
  line.Put(R"(","code":")");
  line.Put(code);
  line.Put(R"(","duration_ms":)");
  line.PutDigits(duration_us / 1000, 1);
  line.Put(".");
  line.PutDigits(duration_us % 1000, 3);
  line.Put(R"(,"request_id":")");
  line.Put(record.request_id);
  line.Put(R"("})");
}

AccessLog::AccessLog(int fd, LogFormat format) : format_(format), writer_(fd) {}

void AccessLog::OnCallEnd(const CallRecord& record) {
  const auto now = std::chrono::system_clock::now();
  writer_.Append([&](fmt::memory_buffer& out) {
    FormatAccessLine(record, format_, now, out);
  });
}

}  // namespace users

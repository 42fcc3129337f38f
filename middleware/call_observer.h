// What middleware sees of a call, as plain C++ (no grpc++ types), so that the
// decisions it makes - what an access-log line holds, how a call is counted -
// are testable without a server and survive a change of transport.
#ifndef USERS_MIDDLEWARE_CALL_OBSERVER_H_
#define USERS_MIDDLEWARE_CALL_OBSERVER_H_

#include <chrono>
#include <string_view>

#include "absl/status/status.h"

namespace users {

struct CallRecord {
  std::string_view method;      // full path: "/user.Users/ListUser"
  std::string_view peer;        // "ipv6:[::1]:5432"
  std::string_view request_id;  // from x-request-id, or generated
  absl::StatusCode code = absl::StatusCode::kOk;
  std::chrono::nanoseconds duration{0};
};

// Told about every call. Implementations are called concurrently from many
// threads and must not block: no synchronous I/O, no global lock.
class CallObserver {
 public:
  virtual ~CallObserver() = default;
  virtual void OnCallStart(std::string_view /*method*/) {}
  virtual void OnCallEnd(const CallRecord& record) = 0;
};

}  // namespace users

#endif  // USERS_MIDDLEWARE_CALL_OBSERVER_H_

// One call's record in the pipeline every transport shares: its request id
// (the caller's x-request-id if acceptable, else a new one), and the
// observers (access log, metrics) told when it starts and how it ends. A
// transport adapter (service/call_interceptor.h for grpc++) reads these off
// its own call and maps its status to a code; what a call record holds is
// decided here, testable without a server.
//
// Not thread-safe: one call's scope is used by one thread at a time.
#ifndef USERS_MIDDLEWARE_CALL_SCOPE_H_
#define USERS_MIDDLEWARE_CALL_SCOPE_H_

#include <chrono>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "middleware/call_observer.h"

namespace users {

class CallScope {
 public:
  // Tells every observer the call started. `method` is a string literal;
  // `peer` must outlive the scope; `given_request_id` is the caller's, empty
  // if none.
  CallScope(std::span<CallObserver* const> observers, std::string_view method,
            std::string_view peer, std::string_view given_request_id);
  CallScope(CallScope&&) = default;

  const std::string& request_id() const { return request_id_; }

  // Tells every observer how the call ended; only the first call counts.
  void End(absl::StatusCode code);

 private:
  std::span<CallObserver* const> observers_;
  std::string_view method_;
  std::string_view peer_;
  std::chrono::steady_clock::time_point start_;
  // Generated ids fit std::string's inline buffer (middleware/request_id.h);
  // so does any caller's id of up to 15 characters.
  std::string request_id_;
  bool ended_ = false;
};

}  // namespace users

#endif  // USERS_MIDDLEWARE_CALL_SCOPE_H_

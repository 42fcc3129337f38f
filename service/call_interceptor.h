// Our interceptor: it runs inside each user.Users handler rather than as a
// grpc++ experimental::Interceptor.
//
// Measured on grpc++ 1.51 (docs/performance.md): registering any server
// interceptor costs 26% of ListUser throughput (107k -> 79k calls/s pinned),
// however little it does, because every op batch of every call then runs the
// interception machinery. The same observations made here - request id in and
// out, peer, status, duration - cost a few hundred nanoseconds. The decisions
// (what a log line holds, how a call is counted) stay in middleware/ as plain
// CallObservers. Health and reflection calls are not observed.
//
// The record of the call itself (request id, observers) is middleware's
// CallScope; this class only reads it off grpc++ and echoes the request id.
//
// Use: construct one per call when the handler starts (it reads or makes the
// request id and echoes it in the initial metadata), and call End(status)
// exactly once while the context is alive: before Finish for a default
// reactor, or in OnDone for one of ours, where a client's cancellation is
// known for certain.
#ifndef USERS_SERVICE_CALL_INTERCEPTOR_H_
#define USERS_SERVICE_CALL_INTERCEPTOR_H_

#include <chrono>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include <grpcpp/server_context.h>
#include <grpcpp/support/status.h>

#include "middleware/call_observer.h"
#include "middleware/call_scope.h"

namespace users {

class CallInterceptor {
 public:
  CallInterceptor(std::span<CallObserver* const> observers,
                  grpc::CallbackServerContext* context,
                  std::string_view method);
  CallInterceptor(CallInterceptor&&) = default;

  // Tells every observer how the call ended; returns `status` for Finish.
  const grpc::Status& End(const grpc::Status& status) {
    scope_.End(static_cast<absl::StatusCode>(status.error_code()));
    return status;
  }

 private:
  // Before scope_, which keeps a view of it.
  std::unique_ptr<char, void (*)(void*)> peer_;  // from grpc_call_get_peer
  CallScope scope_;
};

}  // namespace users

#endif  // USERS_SERVICE_CALL_INTERCEPTOR_H_

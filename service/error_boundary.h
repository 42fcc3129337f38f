// The one place where errors become gRPC statuses.
//
// gRPC C++ interceptors run around a call but not around the handler's own
// stack frame, so they cannot catch an exception a handler throws (in the
// callback API it would unwind into gRPC's executor and terminate the process).
// Every handler therefore runs its body through ErrorBoundary::Run, which maps:
//   absl::Status returned        -> the same code and message (+ details)
//   users::RpcError thrown       -> its code, message and field violations
//   any other exception          -> `status_on_unknown_exception` (INTERNAL by
//                                   default) with a generic message; the method
//                                   and the exception's text go to the log
//                                   only.
// Thread-safe: Run is const and keeps no state.
#ifndef USERS_SERVICE_ERROR_BOUNDARY_H_
#define USERS_SERVICE_ERROR_BOUNDARY_H_

#include <exception>
#include <string_view>
#include <type_traits>

#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "errors/errors.h"

namespace users {

// Converts an absl::Status to grpc::Status. Field violations become a
// google.rpc.Status with a BadRequest detail in grpc-status-details-bin.
grpc::Status ToGrpcStatus(const absl::Status& status);

class ErrorBoundary {
 public:
  explicit ErrorBoundary(absl::StatusCode status_on_unknown_exception =
                             absl::StatusCode::kInternal)
      : status_on_unknown_exception_(status_on_unknown_exception) {}

  // Runs `fn`, which returns void, absl::Status or grpc::Status, and returns
  // the gRPC status the caller should see. Never throws.
  template <typename Fn>
  grpc::Status Run(std::string_view method, Fn&& fn) const noexcept {
    try {
      using Result = std::invoke_result_t<Fn>;
      if constexpr (std::is_void_v<Result>) {
        fn();
        return grpc::Status::OK;
      } else if constexpr (std::is_same_v<Result, grpc::Status>) {
        return fn();
      } else {
        return ToGrpcStatus(fn());
      }
    } catch (const RpcError& e) {
      return ToGrpcStatus(e.ToStatus());
    } catch (const std::exception& e) {
      return OnUnknownException(method, e.what());
    } catch (...) {
      return OnUnknownException(method, "exception of unknown type");
    }
  }

  absl::StatusCode status_on_unknown_exception() const {
    return status_on_unknown_exception_;
  }

 private:
  grpc::Status OnUnknownException(std::string_view method,
                                  std::string_view what) const noexcept;

  absl::StatusCode status_on_unknown_exception_;
};

}  // namespace users

#endif  // USERS_SERVICE_ERROR_BOUNDARY_H_

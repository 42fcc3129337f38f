// The one place where what a handler does, throws included, becomes the
// status its call ends with, whatever the transport.
//
// grpc++ interceptors run around a call but not around the handler's own
// stack frame, so they cannot catch an exception a handler throws (in the
// callback API it would unwind into gRPC's executor and terminate the
// process); an HTTP front end is no different. Every handler therefore runs
// its body through ErrorBoundary::Run, which maps:
//   absl::Status returned        -> itself (with its details)
//   users::RpcError thrown       -> its code, message and field violations
//   any other exception          -> `status_on_unknown_exception` (INTERNAL by
//                                   default) with a generic message; the method
//                                   and the exception's text go to the log
//                                   only.
// A transport turns the result into its own form (service/grpc_status.h).
// Thread-safe: Run is const and keeps no state.
#ifndef USERS_MIDDLEWARE_ERROR_BOUNDARY_H_
#define USERS_MIDDLEWARE_ERROR_BOUNDARY_H_

#include <exception>
#include <string_view>
#include <type_traits>

#include "absl/status/status.h"
#include "errors/errors.h"

namespace users {

class ErrorBoundary {
 public:
  explicit ErrorBoundary(absl::StatusCode status_on_unknown_exception =
                             absl::StatusCode::kInternal)
      : status_on_unknown_exception_(status_on_unknown_exception) {}

  // Runs `fn`, which returns void or absl::Status, and returns the status
  // the caller should see. Never throws.
  template <typename Fn>
  absl::Status Run(std::string_view method, Fn&& fn) const noexcept {
    try {
      using Result = std::invoke_result_t<Fn>;
      if constexpr (std::is_void_v<Result>) {
        fn();
        return absl::OkStatus();
      } else {
        static_assert(std::is_same_v<Result, absl::Status>,
                      "a handler body returns void or absl::Status");
        return fn();
      }
    } catch (const RpcError& e) {
      return e.ToStatus();
    } catch (const std::exception& e) {
      return OnUnknownException(method, e.what());
    } catch (...) {
      return OnUnknownException(method, "exception of unknown type");
    }
  }

 private:
  absl::Status OnUnknownException(std::string_view method,
                                  std::string_view what) const noexcept;

  absl::StatusCode status_on_unknown_exception_;
};

}  // namespace users

#endif  // USERS_MIDDLEWARE_ERROR_BOUNDARY_H_

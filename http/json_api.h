// The HTTP/JSON API's unary routes over the directory, through the same call
// pipeline as gRPC (middleware/): a call scope (request id, access log,
// metrics), admission (--max-inflight, bearer tokens and roles), the error
// boundary, and the call's deadline. What differs from gRPC is only the
// shape of the request and the answer (http/json_mapping.h,
// http/status_mapping.h). No socket here: tests/unit/http_test.cc serves it
// a request and reads the answer.
//
// Thread-safe: Serve may be called concurrently; it keeps no call's state.
#ifndef USERS_HTTP_JSON_API_H_
#define USERS_HTTP_JSON_API_H_

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "directory/directory.h"
#include "http/http_message.h"
#include "http/routes.h"
#include "middleware/admission.h"
#include "middleware/call_scope.h"
#include "middleware/error_boundary.h"

namespace users {

// The header that carries a call's time limit: "250ms", "2s", "1.5m", or a
// bare number of seconds. HTTP has no grpc-timeout of its own.
inline constexpr std::string_view kTimeoutHeader = "x-timeout";

// `text` as a duration; INVALID_ARGUMENT when it is not one of the forms
// above, or not positive.
absl::StatusOr<std::chrono::nanoseconds> ParseTimeout(std::string_view text);

// The answer to a call that failed: its HTTP status and a google.rpc.Status.
HttpResponse ErrorResponse(const absl::Status& status);

class JsonApi {
 public:
  struct Options {
    Directory* directory = nullptr;  // must outlive the API
    AdmissionOptions admission;
    std::vector<CallObserver*> observers;  // must outlive the API
    absl::StatusCode status_on_unknown_exception = absl::StatusCode::kInternal;
    size_t max_reply_bytes = 0;  // 0: unchecked
  };
  using Done = std::function<void(HttpResponse)>;

  explicit JsonApi(Options options);

  // Serves a route with an RPC, other than ImportUsers and WatchUsers, whose
  // bodies are streams the front end drives. `done` runs once: on this
  // thread, or on the writer thread once a write commits. `request` must
  // stay valid until then.
  void Serve(const HttpRequest& request, const Route& route, Done done) const;

  // What a streaming route shares with the others before it starts: the
  // call's scope, admission, and its deadline (time_point::max() for none).
  // A non-OK status ends the call at once (answer it, then End the scope).
  struct Admitted {
    std::unique_ptr<CallScope> scope;
    absl::Status status;
    Deadline deadline = Deadline::max();
  };
  Admitted Admit(const HttpRequest& request, const Route& route) const;

  Directory* directory() const { return options_.directory; }
  const ErrorBoundary& boundary() const { return boundary_; }

 private:
  // The route's body; `finish` runs once with the status or the answer.
  using Finish = std::function<void(absl::StatusOr<std::string>)>;
  void Dispatch(const HttpRequest& request, const Route& route,
                Deadline deadline, const Finish& finish) const;

  const Options options_;
  const ErrorBoundary boundary_;
  const Admission admission_;
};

}  // namespace users

#endif  // USERS_HTTP_JSON_API_H_

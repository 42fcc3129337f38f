// Typed errors and rich status details, free of grpc++.
//
// Inside the code base fallible functions return absl::Status or
// absl::StatusOr<T>; absl's codes have the same numbers as gRPC's. Handler code
// may instead throw one of the typed errors below, as the tutorial's Python
// server raises NotFound; the boundary in service/error_boundary.h turns both
// into exactly that gRPC status. Field violations travel as a
// google.rpc.BadRequest payload on the absl::Status, so they reach the wire as
// the standard grpc-status-details-bin trailer.
#ifndef USERS_ERRORS_ERRORS_H_
#define USERS_ERRORS_ERRORS_H_

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace users {

struct FieldViolation {
  std::string field;
  std::string description;

  bool operator==(const FieldViolation&) const = default;
};

// The absl::Status payload key under which field violations are stored: the
// type URL of google.rpc.BadRequest, as in a google.protobuf.Any. (Debian's
// abseil has its own string_view type, hence absl:: here.)
inline constexpr absl::string_view kBadRequestTypeUrl =
    "type.googleapis.com/google.rpc.BadRequest";

// INVALID_ARGUMENT with `message` and a google.rpc.BadRequest payload.
absl::Status InvalidArgumentError(
    std::string_view message, const std::vector<FieldViolation>& violations);

// The field violations carried by `status`; empty if it carries none.
std::vector<FieldViolation> GetFieldViolations(const absl::Status& status);

// Base of the typed errors. Catch this at the boundary; throw the typed ones.
class RpcError : public std::runtime_error {
 public:
  RpcError(absl::StatusCode code, const std::string& message,
           std::vector<FieldViolation> violations = {});

  absl::StatusCode code() const { return code_; }
  const std::vector<FieldViolation>& violations() const { return violations_; }
  absl::Status ToStatus() const;

 private:
  absl::StatusCode code_;
  std::vector<FieldViolation> violations_;
};

template <absl::StatusCode kCode>
class TypedRpcError : public RpcError {
 public:
  static constexpr absl::StatusCode kStatusCode = kCode;
  explicit TypedRpcError(const std::string& message,
                         std::vector<FieldViolation> violations = {})
      : RpcError(kCode, message, std::move(violations)) {}
};

// One type per non-OK gRPC code, named as grpc-interceptor names them.
using Cancelled = TypedRpcError<absl::StatusCode::kCancelled>;
using Unknown = TypedRpcError<absl::StatusCode::kUnknown>;
using InvalidArgument = TypedRpcError<absl::StatusCode::kInvalidArgument>;
using DeadlineExceeded = TypedRpcError<absl::StatusCode::kDeadlineExceeded>;
using NotFound = TypedRpcError<absl::StatusCode::kNotFound>;
using AlreadyExists = TypedRpcError<absl::StatusCode::kAlreadyExists>;
using PermissionDenied = TypedRpcError<absl::StatusCode::kPermissionDenied>;
using ResourceExhausted = TypedRpcError<absl::StatusCode::kResourceExhausted>;
using FailedPrecondition = TypedRpcError<absl::StatusCode::kFailedPrecondition>;
using Aborted = TypedRpcError<absl::StatusCode::kAborted>;
using OutOfRange = TypedRpcError<absl::StatusCode::kOutOfRange>;
using Unimplemented = TypedRpcError<absl::StatusCode::kUnimplemented>;
using Internal = TypedRpcError<absl::StatusCode::kInternal>;
using Unavailable = TypedRpcError<absl::StatusCode::kUnavailable>;
using DataLoss = TypedRpcError<absl::StatusCode::kDataLoss>;
using Unauthenticated = TypedRpcError<absl::StatusCode::kUnauthenticated>;

// The canonical upper-case name of a code ("NOT_FOUND"), as gRPC prints it.
std::string_view StatusCodeName(absl::StatusCode code);

}  // namespace users

#endif  // USERS_ERRORS_ERRORS_H_

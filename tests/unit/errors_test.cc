#include "errors/errors.h"

#include <gtest/gtest.h>

namespace users {
namespace {

template <typename E>
void ExpectCode(absl::StatusCode code) {
  try {
    throw E("boom");
  } catch (const RpcError& e) {
    EXPECT_EQ(e.code(), code);
    EXPECT_EQ(e.ToStatus(), absl::Status(code, "boom"));
  }
}

TEST(RpcErrorTest, EveryTypedErrorCarriesItsCode) {
  ExpectCode<Cancelled>(absl::StatusCode::kCancelled);
  ExpectCode<Unknown>(absl::StatusCode::kUnknown);
  ExpectCode<InvalidArgument>(absl::StatusCode::kInvalidArgument);
  ExpectCode<DeadlineExceeded>(absl::StatusCode::kDeadlineExceeded);
  ExpectCode<NotFound>(absl::StatusCode::kNotFound);
  ExpectCode<AlreadyExists>(absl::StatusCode::kAlreadyExists);
  ExpectCode<PermissionDenied>(absl::StatusCode::kPermissionDenied);
  ExpectCode<ResourceExhausted>(absl::StatusCode::kResourceExhausted);
  ExpectCode<FailedPrecondition>(absl::StatusCode::kFailedPrecondition);
  ExpectCode<Aborted>(absl::StatusCode::kAborted);
  ExpectCode<OutOfRange>(absl::StatusCode::kOutOfRange);
  ExpectCode<Unimplemented>(absl::StatusCode::kUnimplemented);
  ExpectCode<Internal>(absl::StatusCode::kInternal);
  ExpectCode<Unavailable>(absl::StatusCode::kUnavailable);
  ExpectCode<DataLoss>(absl::StatusCode::kDataLoss);
  ExpectCode<Unauthenticated>(absl::StatusCode::kUnauthenticated);
}

TEST(RpcErrorTest, FieldViolationsRoundTripThroughStatus) {
  std::vector<FieldViolation> violations{{"user.name", "must not be empty"},
                                         {"user.email", "is not an address"}};
  absl::Status status = InvalidArgumentError("invalid user", violations);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(GetFieldViolations(status), violations);

  InvalidArgument thrown("invalid user", violations);
  EXPECT_EQ(GetFieldViolations(thrown.ToStatus()), violations);
}

TEST(RpcErrorTest, StatusWithoutPayloadHasNoViolations) {
  EXPECT_TRUE(GetFieldViolations(absl::NotFoundError("x")).empty());
}

TEST(StatusCodeNameTest, NamesMatchGrpc) {
  EXPECT_EQ(StatusCodeName(absl::StatusCode::kNotFound), "NOT_FOUND");
  EXPECT_EQ(StatusCodeName(absl::StatusCode::kUnauthenticated),
            "UNAUTHENTICATED");
  EXPECT_EQ(StatusCodeName(absl::StatusCode::kOk), "OK");
}

}  // namespace
}  // namespace users

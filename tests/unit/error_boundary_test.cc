#include "middleware/error_boundary.h"

#include <stdexcept>

#include <gtest/gtest.h>

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "service/grpc_status.h"

namespace users {
namespace {

TEST(ErrorBoundaryTest, VoidBodySucceeds) {
  ErrorBoundary boundary;
  int ran = 0;
  EXPECT_TRUE(boundary.Run("M", [&] { ++ran; }).ok());
  EXPECT_EQ(ran, 1);
}

TEST(ErrorBoundaryTest, TypedErrorBecomesItsStatus) {
  ErrorBoundary boundary;
  grpc::Status s = ToGrpcStatus(
      boundary.Run("M", [] { throw NotFound("Sorry, id is not allowed 0"); }));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(s.error_message(), "Sorry, id is not allowed 0");
  EXPECT_TRUE(s.error_details().empty());
}

TEST(ErrorBoundaryTest, ReturnedStatusPassesThrough) {
  ErrorBoundary boundary;
  grpc::Status s = ToGrpcStatus(
      boundary.Run("M", [] { return absl::AbortedError("version 3 != 2"); }));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_EQ(s.error_message(), "version 3 != 2");
}

TEST(ErrorBoundaryTest, UnknownExceptionBecomesInternalWithGenericMessage) {
  ErrorBoundary boundary;
  grpc::Status s = ToGrpcStatus(boundary.Run("M", []() -> absl::Status {
    throw std::runtime_error("secret internal detail");
  }));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_EQ(s.error_message().find("secret"), std::string::npos);
}

TEST(ErrorBoundaryTest, NonStandardExceptionIsCaught) {
  ErrorBoundary boundary;
  grpc::Status s = ToGrpcStatus(boundary.Run("M", [] { throw 42; }));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INTERNAL);
}

TEST(ErrorBoundaryTest, UnknownExceptionCodeIsConfigurable) {
  ErrorBoundary boundary(absl::StatusCode::kUnknown);
  grpc::Status s =
      ToGrpcStatus(boundary.Run("M", [] { throw std::logic_error("x"); }));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNKNOWN);
}

TEST(ErrorBoundaryTest, FieldViolationsGoToStatusDetails) {
  ErrorBoundary boundary;
  grpc::Status s = ToGrpcStatus(boundary.Run("M", [] {
    throw InvalidArgument("invalid user",
                          {{"user.email", "is not an address"}});
  }));
  ASSERT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  google::rpc::Status rich;
  ASSERT_TRUE(rich.ParseFromString(s.error_details()));
  EXPECT_EQ(rich.code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(rich.message(), "invalid user");
  ASSERT_EQ(rich.details_size(), 1);
  google::rpc::BadRequest bad_request;
  ASSERT_TRUE(rich.details(0).UnpackTo(&bad_request));
  ASSERT_EQ(bad_request.field_violations_size(), 1);
  EXPECT_EQ(bad_request.field_violations(0).field(), "user.email");
}

}  // namespace
}  // namespace users

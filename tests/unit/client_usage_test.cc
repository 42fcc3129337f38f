// users-client's words for people: typo suggestions, connection diagnoses,
// and the text output.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "client/diagnosis.h"
#include "client/text_output.h"
#include "client/usage.h"

namespace users::client {
namespace {

using ::testing::HasSubstr;

TEST(NearestCommandTest, SuggestsTyposAndPrefixesButNotStrangers) {
  const std::vector<std::string> commands = {"create", "get",    "list",
                                             "lookup", "health", "watch"};
  EXPECT_EQ(NearestCommand("lst", commands), "list");
  EXPECT_EQ(NearestCommand("heath", commands), "health");
  EXPECT_EQ(NearestCommand("wat", commands), "watch");  // a prefix
  EXPECT_EQ(NearestCommand("frobnicate", commands), std::nullopt);
}

TEST(DiagnoseTest, RecognisesTheCommonConnectionFailures) {
  CallSetting plain{.target = "127.0.0.1:1"};
  CallSetting tls{.target = "127.0.0.1:1", .tls = true};
  auto unavailable = [](std::string message) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, message);
  };
  Diagnosis d =
      Diagnose(unavailable("failed to connect to all addresses; last error: "
                           "UNAVAILABLE: ipv4:127.0.0.1:1: Socket closed"),
               plain);
  EXPECT_TRUE(d.no_connection);
  EXPECT_THAT(d.summary, HasSubstr("probably speaks TLS"));
  EXPECT_THAT(d.hint, HasSubstr("--tls-ca"));
  d = Diagnose(unavailable("Socket closed"), tls);
  EXPECT_THAT(d.hint, HasSubstr("--tls-cert and --tls-key"));
  d = Diagnose(
      unavailable("Ssl handshake failed: SSL_ERROR_SSL: error:0A00010B:"
                  "SSL routines::wrong version number"),
      tls);
  EXPECT_THAT(d.summary, HasSubstr("does not speak TLS"));
  d = Diagnose(unavailable("SSL routines::certificate verify failed"), tls);
  EXPECT_THAT(d.summary, HasSubstr("not trusted"));
  d = Diagnose(unavailable("Failed to connect to remote host: Connection "
                           "refused"),
               plain);
  EXPECT_EQ(d.summary, "nothing listens at 127.0.0.1:1");
  d = Diagnose(unavailable("DNS resolution failed for x:1: Domain name not "
                           "found"),
               plain);
  EXPECT_THAT(d.summary, HasSubstr("does not resolve"));
  d = Diagnose(
      grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "missing bearer token"),
      plain);
  EXPECT_FALSE(d.no_connection);
  EXPECT_THAT(d.hint, HasSubstr("USERS_TOKEN"));
  // A server's own answer is left as it is.
  EXPECT_FALSE(
      Diagnose(grpc::Status(grpc::StatusCode::NOT_FOUND, "user 9"), plain)
          .recognised);
}

TEST(TextOutputTest, TimesAreRfc3339AndAnEmptyListSaysSo) {
  google::protobuf::Timestamp t;
  t.set_seconds(1796473243);
  t.set_nanos(96673000);
  EXPECT_EQ(FormatTime(t), "2026-12-05T12:20:43.096Z");
  std::ostringstream out;
  PrintUsers(user::ListUsersResponse(), out);
  EXPECT_EQ(out.str(), "no users matched\n");
}

}  // namespace
}  // namespace users::client

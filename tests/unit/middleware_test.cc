#include <gtest/gtest.h>

#include "middleware/access_log.h"
#include "middleware/request_id.h"

namespace users {
namespace {

TEST(RequestIdTest, AcceptsSafeIds) {
  EXPECT_TRUE(IsAcceptableRequestId("abc-123_x.y:z"));
  EXPECT_TRUE(IsAcceptableRequestId(std::string(128, 'a')));
}

TEST(RequestIdTest, RejectsUnsafeIds) {
  EXPECT_FALSE(IsAcceptableRequestId(""));
  EXPECT_FALSE(IsAcceptableRequestId(std::string(129, 'a')));
  EXPECT_FALSE(IsAcceptableRequestId("a b"));
  EXPECT_FALSE(IsAcceptableRequestId("a\"b"));
  EXPECT_FALSE(IsAcceptableRequestId("a\nb"));
}

TEST(RequestIdTest, NewIdsAreDistinctAndAcceptable) {
  const std::string a = NewRequestId();
  const std::string b = NewRequestId();
  EXPECT_EQ(a.size(), 16u);
  EXPECT_NE(a, b);
  EXPECT_TRUE(IsAcceptableRequestId(a));
}

TEST(AccessLineTest, TextHasMethodPeerCodeDurationAndId) {
  CallRecord r;
  r.method = "/user.Users/ListUser";
  r.peer = "ipv4:127.0.0.1:5000";
  r.request_id = "rid";
  r.code = absl::StatusCode::kNotFound;
  r.duration = std::chrono::microseconds(1500);
  EXPECT_EQ(FormatAccessLine(r, LogFormat::kText),
            "/user.Users/ListUser peer=ipv4:127.0.0.1:5000 code=NOT_FOUND "
            "duration_ms=1.500 request_id=rid");
}

TEST(AccessLineTest, JsonHasTheSameFields) {
  CallRecord r;
  r.method = "/user.Users/GetUser";
  r.peer = "ipv6:[::1]:1";
  r.request_id = "x";
  r.duration = std::chrono::milliseconds(2);
  const std::string line = FormatAccessLine(r, LogFormat::kJson);
  EXPECT_NE(line.find(R"("method":"/user.Users/GetUser")"), std::string::npos) << line;
  EXPECT_NE(line.find(R"("peer":"ipv6:[::1]:1")"), std::string::npos) << line;
  EXPECT_NE(line.find(R"("code":"OK")"), std::string::npos) << line;
  EXPECT_NE(line.find(R"("duration_ms":2.000)"), std::string::npos) << line;
  EXPECT_EQ(line.front(), '{');
  EXPECT_EQ(line.back(), '}');
}

}  // namespace
}  // namespace users

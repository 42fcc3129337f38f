#include "directory/page_token.h"

#include <gtest/gtest.h>

namespace users {
namespace {

TEST(PageTokenTest, RoundTrips) {
  PageTokenCodec codec("k");
  auto decoded = codec.Decode(codec.Encode({12345, "ab"}));
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->after_id, 12345);
  EXPECT_EQ(decoded->name_prefix, "ab");
}

TEST(PageTokenTest, RejectsTamperingAndGarbage) {
  PageTokenCodec codec("k");
  std::string token = codec.Encode({7, ""});
  for (size_t i = 0; i < token.size(); ++i) {
    std::string t = token;
    t[i] = t[i] == 'A' ? 'B' : 'A';
    EXPECT_EQ(codec.Decode(t).status().code(),
              absl::StatusCode::kInvalidArgument)
        << i;
  }
  EXPECT_FALSE(codec.Decode("garbage!").ok());
  EXPECT_FALSE(codec.Decode("").ok());
  EXPECT_FALSE(codec.Decode(token.substr(0, token.size() - 2)).ok());
  EXPECT_FALSE(PageTokenCodec("other key").Decode(token).ok());
}

TEST(PageTokenTest, PayloadParserTakesOnlyVersionIdAndPrefix) {
  auto cursor = ParsePageCursor("v1:42:a:b");
  ASSERT_TRUE(cursor.ok());
  EXPECT_EQ(cursor->after_id, 42);
  EXPECT_EQ(cursor->name_prefix, "a:b");
  for (std::string_view bad :
       {"", "v1", "v1:", "v1:42", "v2:42:", "v1:-1:", "v1: 4:", "v1:4x:",
        "v1:99999999999999999999:", "V1:1:"}) {
    EXPECT_EQ(ParsePageCursor(bad).status().code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
}

}  // namespace
}  // namespace users

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

}  // namespace
}  // namespace users

#include "directory/validation.h"

#include <gtest/gtest.h>

namespace users {
namespace {

template <typename F>
std::vector<FieldViolation> Check(F f, std::string_view value) {
  std::vector<FieldViolation> out;
  f(value, "f", &out);
  return out;
}

TEST(ValidateNameTest, AcceptsHandles) {
  EXPECT_TRUE(Check(ValidateName, "alice").empty());
  EXPECT_TRUE(Check(ValidateName, "9lives").empty());
  EXPECT_TRUE(Check(ValidateName, "a.b-c_d").empty());
  EXPECT_TRUE(Check(ValidateName, std::string(64, 'a')).empty());
}

TEST(ValidateNameTest, RejectsBadHandles) {
  for (std::string n :
       {std::string(), std::string(65, 'a'), std::string("_a"),
        std::string(".a"), std::string("a b"),
        std::string("x'); DROP TABLE users;--"), std::string("caf\xc3\xa9")}) {
    auto v = Check(ValidateName, n);
    ASSERT_EQ(v.size(), 1u) << n;
    EXPECT_EQ(v[0].field, "f");
    EXPECT_FALSE(v[0].description.empty());
  }
}

TEST(ValidateEmailTest, AcceptsAddresses) {
  EXPECT_TRUE(Check(ValidateEmail, "a@b.co").empty());
  EXPECT_TRUE(Check(ValidateEmail, "first.last+tag@mail.example.com").empty());
  EXPECT_TRUE(Check(ValidateEmail, "o'brien@x-y.io").empty());
}

TEST(ValidateEmailTest, RejectsNonAddresses) {
  for (std::string e :
       {std::string(), std::string("plain"), std::string("@b.co"),
        std::string("a@"), std::string("a@b"), std::string("a..b@c.io"),
        std::string(".a@c.io"), std::string("a@-b.io"), std::string("a@b..io"),
        std::string("a b@c.io"), std::string(250, 'a') + "@b.io",
        std::string(65, 'a') + "@b.io"}) {
    EXPECT_EQ(Check(ValidateEmail, e).size(), 1u) << e;
  }
}

TEST(ValidateDisplayNameTest, CountsCharactersNotBytes) {
  EXPECT_TRUE(Check(ValidateDisplayName, "").empty());
  std::string s;
  for (int i = 0; i < 128; ++i) s += "\xe6\x9d\xb1";  // 128 CJK characters
  EXPECT_TRUE(Check(ValidateDisplayName, s).empty());
  s += "a";
  EXPECT_EQ(Check(ValidateDisplayName, s).size(), 1u);
}

TEST(ValidateDisplayNameTest, RejectsInvalidUtf8AndControls) {
  EXPECT_EQ(Check(ValidateDisplayName, "\xff").size(), 1u);
  EXPECT_EQ(Check(ValidateDisplayName, "\xc0\xaf").size(), 1u);  // overlong
  EXPECT_EQ(Check(ValidateDisplayName, "\xed\xa0\x80").size(),
            1u);  // surrogate
  EXPECT_EQ(Check(ValidateDisplayName, "a\nb").size(), 1u);
}

}  // namespace
}  // namespace users

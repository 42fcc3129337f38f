#include "directory/tutorial.h"

#include <gtest/gtest.h>

#include "errors/errors.h"

namespace users {
namespace {

TEST(TutorialListUserTest, EchoesIdAndName) {
  user::UserRequest request;
  request.set_id(2);
  request.set_name("twtrubiks");
  user::UserResponse response;
  ListUser(request, &response);
  ASSERT_EQ(response.details_size(), 1);
  EXPECT_EQ(response.details(0).id(), 2);
  EXPECT_EQ(response.details(0).value(), "twtrubiks");
}

TEST(TutorialListUserTest, NegativeIdIsEchoedToo) {
  user::UserRequest request;
  request.set_id(-5);
  user::UserResponse response;
  ListUser(request, &response);
  ASSERT_EQ(response.details_size(), 1);
  EXPECT_EQ(response.details(0).id(), -5);
  EXPECT_EQ(response.details(0).value(), "");
}

TEST(TutorialListUserTest, IdZeroThrowsNotFound) {
  user::UserRequest request;
  user::UserResponse response;
  try {
    ListUser(request, &response);
    FAIL() << "expected NotFound";
  } catch (const NotFound& e) {
    EXPECT_STREQ(e.what(), "Sorry, id is not allowed 0");
  }
  EXPECT_EQ(response.details_size(), 0);
}

}  // namespace
}  // namespace users

#include "client/commands.h"

#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "service_protos/user_mock.grpc.pb.h"

namespace users::client {
namespace {

using ::testing::_;
using ::testing::DoAll;
using ::testing::Return;
using ::testing::SetArgPointee;

TEST(ListUserCommandTest, PrintsTutorialOutput) {
  user::MockUsersStub stub;
  user::UserResponse reply;
  auto* d = reply.add_details();
  d->set_id(2);
  d->set_value("twtrubiks");
  EXPECT_CALL(stub, ListUser(_, _, _))
      .WillOnce([&](grpc::ClientContext*, const user::UserRequest& req,
                    user::UserResponse* resp) {
        EXPECT_EQ(req.id(), 2);
        EXPECT_EQ(req.name(), "twtrubiks");
        *resp = reply;
        return grpc::Status::OK;
      });
  std::ostringstream out, err;
  EXPECT_EQ(ListUser(stub, 2, "twtrubiks", {}, out, err), 0);
  EXPECT_EQ(out.str(),
            "client received: details {\n  id: 2\n  value: \"twtrubiks\"\n}\n");
  EXPECT_EQ(err.str(), "");
}

TEST(ListUserCommandTest, FailurePrintsCodeNameAndExitsNonZero) {
  user::MockUsersStub stub;
  EXPECT_CALL(stub, ListUser(_, _, _))
      .WillOnce(Return(grpc::Status(grpc::StatusCode::NOT_FOUND,
                                    "Sorry, id is not allowed 0")));
  std::ostringstream out, err;
  EXPECT_NE(ListUser(stub, 0, "x", {}, out, err), 0);
  EXPECT_EQ(out.str(), "");
  EXPECT_EQ(err.str(), "NOT_FOUND: Sorry, id is not allowed 0\n");
}

TEST(ListUserCommandTest, JsonOutput) {
  user::MockUsersStub stub;
  user::UserResponse reply;
  reply.add_details()->set_id(3);
  EXPECT_CALL(stub, ListUser(_, _, _))
      .WillOnce(DoAll(SetArgPointee<2>(reply), Return(grpc::Status::OK)));
  CallOptions options;
  options.json = true;
  std::ostringstream out, err;
  EXPECT_EQ(ListUser(stub, 3, "", options, out, err), 0);
  EXPECT_EQ(out.str(), "client received: {\"details\":[{\"id\":3}]}\n");
}

}  // namespace
}  // namespace users::client

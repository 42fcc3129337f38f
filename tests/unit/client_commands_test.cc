#include "client/commands.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <grpcpp/test/mock_stream.h>
#include <gtest/gtest.h>

#include "client/stream_commands.h"
#include "service_protos/user_mock.grpc.pb.h"

namespace users::client {
namespace {

using ::testing::_;
using ::testing::DoAll;
using ::testing::HasSubstr;
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

TEST(ImportCommandTest, AnAnswerForFewerUsersThanSentIsAnError) {
  user::MockUsersStub stub;
  user::ImportUsersResponse* response = nullptr;
  auto* writer = new grpc::testing::MockClientWriter<user::ImportUsersRequest>;
  EXPECT_CALL(stub, ImportUsersRaw(_, _))
      .WillOnce([&](grpc::ClientContext*, user::ImportUsersResponse* r) {
        response = r;
        return writer;  // owned by the returned unique_ptr
      });
  EXPECT_CALL(*writer, Write(_, _)).Times(3).WillRepeatedly(Return(true));
  EXPECT_CALL(*writer, WritesDone()).WillOnce(Return(true));
  EXPECT_CALL(*writer, Finish()).WillOnce([&] {
    response->set_created(1);  // a server that stopped reading after one row
    return grpc::Status::OK;
  });
  std::istringstream in(
      "name,email\na,a@example.com\nb,b@example.com\nc,c@example.com\n");
  std::ostringstream out, err;
  EXPECT_EQ(ImportUsers(stub, in, false, {}, out, err), 1);
  EXPECT_THAT(err.str(), HasSubstr("answered for 1 of the 3 users sent"));
}

TEST(MakeCredentialsTest, HalfAClientIdentityIsRefusedNotSentInTheClear) {
  char dir_template[] = "/tmp/creds_testXXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::string pem = std::string(dir_template) + "/some.pem";
  std::ofstream(pem) << "-----BEGIN CERTIFICATE-----\n";

  EXPECT_TRUE(MakeCredentials("", "", "").ok());    // plain text, on purpose
  EXPECT_TRUE(MakeCredentials(pem, "", "").ok());   // TLS, server verified
  EXPECT_TRUE(MakeCredentials("", pem, pem).ok());  // mutual TLS, system CAs
  for (const auto& [cert, key] :
       {std::pair{pem, std::string()}, std::pair{std::string(), pem}}) {
    auto credentials = MakeCredentials("", cert, key);
    ASSERT_FALSE(credentials.ok());
    EXPECT_EQ(credentials.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(credentials.status().message()),
                HasSubstr("--tls-cert and --tls-key"));
  }
  const std::string missing = std::string(dir_template) + "/missing.pem";
  auto unreadable = MakeCredentials(missing, "", "");
  ASSERT_FALSE(unreadable.ok());
  EXPECT_THAT(std::string(unreadable.status().message()), HasSubstr(missing));
  std::remove(pem.c_str());
  rmdir(dir_template);
}

}  // namespace
}  // namespace users::client

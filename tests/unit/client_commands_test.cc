#include "client/commands.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <grpcpp/test/mock_stream.h>
#include <gtest/gtest.h>

#include "client/import_reader.h"
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
  // Every field present, default or not: a stable shape for scripts.
  EXPECT_EQ(out.str(),
            "client received: {\"details\":[{\"id\":3,\"value\":\"\"}]}\n");
}

// Every user `text` yields, or the first error.
absl::StatusOr<std::vector<user::User>> ReadAll(const std::string& text) {
  std::istringstream in(text);
  ImportReader reader(in);
  std::vector<user::User> users;
  for (;;) {
    auto next = reader.Next();
    if (!next.ok()) return next.status();
    if (!next->has_value()) return users;
    users.push_back(std::move(**next));
  }
}

TEST(ImportReaderTest, CsvWithAByteOrderMarkQuotesAndCrlf) {
  auto users = ReadAll(
      "\xEF\xBB\xBFname,email,display_name\r\n"
      "alan,alan@example.com,\"Turing, Alan\"\r\n"
      "\r\n"
      "ally,ally@example.com,\"Ally \"\"Al\"\"\"\r\n");
  ASSERT_TRUE(users.ok()) << users.status();
  ASSERT_EQ(users->size(), 2u);
  EXPECT_EQ((*users)[0].name(), "alan");
  EXPECT_EQ((*users)[0].display_name(), "Turing, Alan");
  EXPECT_EQ((*users)[1].display_name(), "Ally \"Al\"");
}

TEST(ImportReaderTest, JsonLinesTakeEitherDisplayNameSpelling) {
  auto users = ReadAll(
      "{\"name\": \"dora\", \"email\": \"d@example.com\", \"displayName\": "
      "\"Dora\"}\n{\"name\": \"ed\", \"display_name\": \"Ed\", \"x\": 1}\n");
  ASSERT_TRUE(users.ok()) << users.status();
  ASSERT_EQ(users->size(), 2u);
  EXPECT_EQ((*users)[0].display_name(), "Dora");
  EXPECT_EQ((*users)[1].display_name(), "Ed");
  EXPECT_EQ((*users)[1].email(), "");
}

TEST(ImportReaderTest, EachMalformedInputNamesItsLineAndProblem) {
  const std::pair<std::string, std::string> cases[] = {
      {"", "the input is empty"},
      {"\n \n", "the input is empty"},
      {"mail,nom\n", "line 1: CSV header must name"},
      {"name,email\na,\"b\n", "line 2: unterminated quoted field"},
      {"{\"name\": \"a\"}\n[1]\n", "line 2: not a JSON object"},
      {"{\"name\": \"a\"}\nnot json\n",
       "line 2: not valid JSON (invalid literal)"},
      {"{\"name\": \"Jos\xE9\"}\n",
       "line 1: not valid JSON (invalid string: ill-formed UTF-8 byte)"},
  };
  for (const auto& [text, message] : cases) {
    auto users = ReadAll(text);
    ASSERT_FALSE(users.ok()) << text;
    EXPECT_EQ(users.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(users.status().message()), HasSubstr(message))
        << text;
  }
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

// The directory's rules through its own API, on the in-memory store: no
// network, no gRPC.
#include "directory/directory.h"

#include <future>

#include <gmock/gmock.h>
#include <google/protobuf/unknown_field_set.h>
#include <gtest/gtest.h>

#include "absl/strings/ascii.h"
#include "directory/import_session.h"
#include "directory/salvage.h"
#include "directory/validation.h"
#include "errors/errors.h"
#include "storage/memory_user_store.h"

namespace users {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr Deadline kNoDeadline = Deadline::max();

class DirectoryTest : public ::testing::Test {
 protected:
  absl::StatusOr<user::User> Create(const std::string& name,
                                    const std::string& email,
                                    const std::string& display = "") {
    user::CreateUserRequest req;
    req.mutable_user()->set_name(name);
    req.mutable_user()->set_email(email);
    req.mutable_user()->set_display_name(display);
    std::promise<absl::StatusOr<user::User>> p;
    directory_.CreateUser(req, kNoDeadline,
                          [&](auto r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  }
  absl::StatusOr<user::User> Update(const user::UpdateUserRequest& req) {
    std::promise<absl::StatusOr<user::User>> p;
    directory_.UpdateUser(req, kNoDeadline,
                          [&](auto r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  }
  absl::Status Delete(int64_t id, int64_t version) {
    user::DeleteUserRequest req;
    req.set_id(id);
    req.set_version(version);
    std::promise<absl::Status> p;
    directory_.DeleteUser(req, kNoDeadline, [&](auto s) { p.set_value(s); });
    return p.get_future().get();
  }
  absl::StatusOr<user::ListUsersResponse> List(int page_size,
                                               const std::string& token,
                                               const std::string& prefix = "") {
    user::ListUsersRequest req;
    req.set_page_size(page_size);
    req.set_page_token(token);
    req.set_name_prefix(prefix);
    user::ListUsersResponse resp;
    absl::Status s = directory_.ListUsers(req, &resp);
    if (!s.ok()) return s;
    return resp;
  }

  MemoryUserStore store_;
  GroupCommitter writer_{&store_, nullptr, {}};
  Directory directory_{&store_, &writer_, nullptr, {}};
};

// The watch stream reuses one message per thread without clearing it.
TEST(ToProtoTest, OverwritesEveryFieldOfAReusedMessage) {
  UserRecord full{7, "seven",  "seven@example.com", "Seven",
                  3, -1500001, 1700000000123456};
  UserRecord bare{1, "a", "a@example.com", "", 1, 0, 0};
  user::User reused;
  ToProto(full, &reused);
  ToProto(bare, &reused);
  user::User fresh;
  ToProto(bare, &fresh);
  EXPECT_EQ(reused.SerializeAsString(), fresh.SerializeAsString());
  EXPECT_EQ(reused.ShortDebugString(), fresh.ShortDebugString());
}

TEST_F(DirectoryTest, CreateThenGet) {
  auto u = Create("alice", "alice@example.com", "Alice");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_GT(u->id(), 0);
  EXPECT_EQ(u->version(), 1);
  EXPECT_GT(u->create_time().seconds(), 1600000000);
  user::GetUserRequest req;
  req.set_id(u->id());
  user::User got;
  ASSERT_TRUE(directory_.GetUser(req, &got).ok());
  EXPECT_EQ(got.SerializeAsString(), u->SerializeAsString());
}

TEST_F(DirectoryTest, CreateReportsEveryInvalidField) {
  auto u = Create("_bad", "nope", std::string("\xff"));
  EXPECT_EQ(u.status().code(), absl::StatusCode::kInvalidArgument);
  auto v = GetFieldViolations(u.status());
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v[0].field, "user.name");
  EXPECT_EQ(v[1].field, "user.email");
  EXPECT_EQ(v[2].field, "user.display_name");
}

TEST_F(DirectoryTest, GetRejectsNonPositiveIdAndMissesUnknown) {
  user::GetUserRequest req;
  user::User out;
  EXPECT_EQ(directory_.GetUser(req, &out).code(),
            absl::StatusCode::kInvalidArgument);
  req.set_id(77);
  EXPECT_EQ(directory_.GetUser(req, &out).code(), absl::StatusCode::kNotFound);
}

TEST_F(DirectoryTest, UpdateWithMaskAndVersion) {
  auto u = Create("alice", "alice@example.com", "Alice");
  user::UpdateUserRequest req;
  req.mutable_user()->set_id(u->id());
  req.mutable_user()->set_display_name("Alice L.");
  req.mutable_user()->set_name("ignored-not-in-mask");
  req.mutable_user()->mutable_create_time()->set_seconds(
      1);  // output only: ignored
  req.mutable_update_mask()->add_paths("display_name");
  auto updated = Update(req);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->name(), "alice");
  EXPECT_EQ(updated->display_name(), "Alice L.");
  EXPECT_EQ(updated->version(), 2);
  EXPECT_EQ(updated->create_time().seconds(), u->create_time().seconds());

  req.mutable_user()->set_version(1);  // stale
  EXPECT_EQ(Update(req).status().code(), absl::StatusCode::kAborted);
  req.mutable_user()->set_version(2);
  EXPECT_TRUE(Update(req).ok());
}

TEST_F(DirectoryTest, UpdateEmptyMaskReplacesAllMutableFields) {
  auto u = Create("alice", "alice@example.com", "Alice");
  user::UpdateUserRequest req;
  req.mutable_user()->set_id(u->id());
  req.mutable_user()->set_name("alicia");
  req.mutable_user()->set_email("alicia@example.com");
  auto updated = Update(req);
  ASSERT_TRUE(updated.ok());
  EXPECT_EQ(updated->name(), "alicia");
  EXPECT_EQ(updated->display_name(), "");
}

TEST_F(DirectoryTest, UpdateUnknownMaskPathIsInvalid) {
  auto u = Create("alice", "alice@example.com");
  user::UpdateUserRequest req;
  req.mutable_user()->set_id(u->id());
  req.mutable_update_mask()->add_paths("version");
  auto r = Update(req);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(GetFieldViolations(r.status())[0].field, "update_mask");
  req.mutable_user()->set_id(999);
  req.mutable_update_mask()->Clear();
  req.mutable_update_mask()->add_paths("display_name");
  EXPECT_EQ(Update(req).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(DirectoryTest, DeleteVersions) {
  auto u = Create("alice", "alice@example.com");
  EXPECT_EQ(Delete(u->id(), 3).code(), absl::StatusCode::kAborted);
  EXPECT_EQ(Delete(u->id(), -1).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Delete(u->id(), 0).ok());
  EXPECT_EQ(Delete(u->id(), 0).code(), absl::StatusCode::kNotFound);
}

constexpr char kRequestId[] = "0e4c2a3b-5d6f-4a1b-9c8d-7e6f5a4b3c2d";

user::CreateUserRequest CreateRequest(const std::string& name,
                                      const std::string& request_id) {
  user::CreateUserRequest req;
  req.mutable_user()->set_name(name);
  req.mutable_user()->set_email(name + "@example.com");
  req.set_request_id(request_id);
  return req;
}

TEST_F(DirectoryTest, ARetriedCreateWithItsRequestIdReturnsTheSameUser) {
  std::promise<absl::StatusOr<user::User>> first, retry;
  directory_.CreateUser(CreateRequest("alice", kRequestId), kNoDeadline,
                        [&](auto r) { first.set_value(std::move(r)); });
  auto a = first.get_future().get();
  ASSERT_TRUE(a.ok()) << a.status();
  // Ids are compared without regard to case.
  directory_.CreateUser(
      CreateRequest("alice", absl::AsciiStrToUpper(kRequestId)), kNoDeadline,
      [&](auto r) { retry.set_value(std::move(r)); });
  auto b = retry.get_future().get();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->SerializeAsString(), a->SerializeAsString());
  EXPECT_EQ(List(10, "")->users_size(), 1);
}

TEST_F(DirectoryTest, ARequestIdOnAnotherRequestIsInvalidArgument) {
  std::promise<absl::StatusOr<user::User>> first, other;
  directory_.CreateUser(CreateRequest("alice", kRequestId), kNoDeadline,
                        [&](auto r) { first.set_value(std::move(r)); });
  ASSERT_TRUE(first.get_future().get().ok());
  directory_.CreateUser(CreateRequest("bob", kRequestId), kNoDeadline,
                        [&](auto r) { other.set_value(std::move(r)); });
  auto b = other.get_future().get();
  EXPECT_EQ(b.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(b.status().message(), HasSubstr("different request"));
  // A delete under the create's id is another request too.
  user::DeleteUserRequest del;
  del.set_id(1);
  del.set_request_id(kRequestId);
  std::promise<absl::Status> deleted;
  directory_.DeleteUser(del, kNoDeadline,
                        [&](auto s) { deleted.set_value(s); });
  EXPECT_EQ(deleted.get_future().get().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(DirectoryTest, ARequestIdMustBeAUuid) {
  for (const char* bad : {"abc", "0e4c2a3b5d6f4a1b9c8d7e6f5a4b3c2d",
                          "0e4c2a3b-5d6f-4a1b-9c8d-7e6f5a4b3c2g"}) {
    std::promise<absl::StatusOr<user::User>> p;
    directory_.CreateUser(CreateRequest("alice", bad), kNoDeadline,
                          [&](auto r) { p.set_value(std::move(r)); });
    auto r = p.get_future().get();
    ASSERT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    auto v = GetFieldViolations(r.status());
    ASSERT_EQ(v.size(), 1u);
    EXPECT_EQ(v[0].field, "request_id");
  }
}

TEST_F(DirectoryTest, ARetriedUpdateOrDeleteIsAnsweredAsTheFirstAttempt) {
  auto u = Create("alice", "alice@example.com");
  ASSERT_TRUE(u.ok());
  user::UpdateUserRequest req;
  req.mutable_user()->set_id(u->id());
  req.mutable_user()->set_version(1);
  req.mutable_user()->set_display_name("Alice");
  req.mutable_update_mask()->add_paths("display_name");
  req.set_request_id(kRequestId);
  auto first = Update(req);
  ASSERT_TRUE(first.ok()) << first.status();
  // Fields outside the mask are not part of the request.
  req.mutable_user()->set_email("ignored@example.com");
  auto retry = Update(req);
  ASSERT_TRUE(retry.ok()) << retry.status();  // not ABORTED: version is 2 now
  EXPECT_EQ(retry->version(), 2);

  user::DeleteUserRequest del;
  del.set_id(u->id());
  del.set_request_id("7d2f0c1e-3b4a-4c5d-8e9f-0a1b2c3d4e5f");
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::promise<absl::Status> p;
    directory_.DeleteUser(del, kNoDeadline, [&](auto s) { p.set_value(s); });
    EXPECT_TRUE(p.get_future().get().ok()) << attempt;  // not NOT_FOUND
  }
}

TEST_F(DirectoryTest, ListPagesThroughEveryone) {
  for (int i = 0; i < 7; ++i) {
    ASSERT_TRUE(
        Create("u" + std::to_string(i), "u" + std::to_string(i) + "@x.io")
            .ok());
  }
  std::vector<int64_t> seen;
  std::string token;
  int pages = 0;
  do {
    auto page = List(3, token);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const auto& u : page->users()) seen.push_back(u.id());
    token = page->next_page_token();
    ++pages;
  } while (!token.empty());
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(seen.size(), 7u);
  for (size_t i = 1; i < seen.size(); ++i) EXPECT_LT(seen[i - 1], seen[i]);
}

TEST_F(DirectoryTest, ListPageSizeRules) {
  for (int i = 0; i < 60; ++i) {
    ASSERT_TRUE(
        Create("u" + std::to_string(i), "u" + std::to_string(i) + "@x.io")
            .ok());
  }
  EXPECT_EQ(List(0, "")->users_size(), 50);
  EXPECT_EQ(List(5000, "")->users_size(), 60);
  EXPECT_EQ(List(60, "")->next_page_token(), "");
  auto negative = List(-1, "");
  EXPECT_EQ(negative.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(GetFieldViolations(negative.status())[0].field, "page_size");
}

TEST_F(DirectoryTest, ListTokenBoundToPrefix) {
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(
        Create("ab" + std::to_string(i), "ab" + std::to_string(i) + "@x.io")
            .ok());
  }
  auto first = List(2, "", "ab");
  ASSERT_FALSE(first->next_page_token().empty());
  EXPECT_TRUE(
      List(2, first->next_page_token(), "AB").ok());  // case-insensitive
  auto other = List(2, first->next_page_token(), "a");
  EXPECT_EQ(other.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(List(2, "tampered", "ab").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(DirectoryTest, PagingSkipsNothingUnderConcurrentChanges) {
  std::vector<int64_t> stable;
  for (int i = 0; i < 20; ++i) {
    auto u = Create("s" + std::to_string(i), "s" + std::to_string(i) + "@x.io");
    if (i % 2 == 0)
      stable.push_back(u->id());
    else
      ASSERT_TRUE(u.ok());
  }
  std::vector<int64_t> seen;
  std::string token;
  int round = 0;
  do {
    auto page = List(3, token);
    ASSERT_TRUE(page.ok());
    for (const auto& u : page->users()) seen.push_back(u.id());
    token = page->next_page_token();
    // Between pages: delete an odd (unstable) user and create new ones.
    Delete(2 * round + 2, 0).IgnoreError();
    ASSERT_TRUE(Create("n" + std::to_string(round),
                       "n" + std::to_string(round) + "@x.io")
                    .ok());
    ++round;
  } while (!token.empty() && round < 100);
  for (int64_t id : stable) {
    EXPECT_EQ(std::count(seen.begin(), seen.end(), id), 1) << id;
  }
  for (size_t i = 1; i < seen.size(); ++i) EXPECT_LT(seen[i - 1], seen[i]);
}

TEST_F(DirectoryTest, PassedDeadlineWritesNothing) {
  user::CreateUserRequest req;
  req.mutable_user()->set_name("late");
  req.mutable_user()->set_email("late@x.io");
  std::promise<absl::StatusOr<user::User>> p;
  directory_.CreateUser(
      req, std::chrono::system_clock::now() - std::chrono::seconds(1),
      [&](auto r) { p.set_value(std::move(r)); });
  EXPECT_EQ(p.get_future().get().status().code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(List(10, "")->users_size(), 0);
}

}  // namespace
}  // namespace users

namespace users {
namespace {

// A client may send names of megabytes: an import keeps, and reports, only
// as much of an invalid name as a valid one could hold, cut on a character.
TEST(ImportSessionTest, KeepsOnlyABoundedPrefixOfAnInvalidName) {
  ImportSession session;
  user::User huge;
  huge.set_name(std::string(1 << 20, 'a'));
  huge.set_email("a@example.com");
  session.Add(huge);
  user::User wide;  // 3-byte characters: 255 bytes, then a cut inside one
  std::string name;
  for (int i = 0; i < 100; ++i) name += "\xE2\x82\xAC";  // U+20AC
  wide.set_name(name);
  wide.set_email("b@example.com");
  session.Add(wide);
  ImportSession::Batch batch = session.TakeBatch();
  session.Record(batch, {});

  const auto& summary = session.summary();
  ASSERT_EQ(summary.errors_size(), 2);
  EXPECT_EQ(summary.failed(), 2);
  const std::string& kept = summary.errors(0).name();
  EXPECT_LE(kept.size(), 256u + 3u);
  EXPECT_EQ(kept.substr(0, 10), std::string(10, 'a'));
  EXPECT_EQ(kept.substr(kept.size() - 3), "\xE2\x80\xA6");  // the ellipsis
  const std::string& cut = summary.errors(1).name();
  EXPECT_EQ(cut, name.substr(0, 255) + "\xE2\x80\xA6");
  EXPECT_EQ(summary.errors(0).code(),
            static_cast<int>(absl::StatusCode::kInvalidArgument));
}

// An ImportUsersRequest's wire bytes with the given strings in its user,
// written field by field because protobuf will not serialize invalid UTF-8
// without complaint.
std::string RequestBytes(const std::string& name, const std::string& email,
                         const std::string& display_name) {
  google::protobuf::UnknownFieldSet user;
  user.AddLengthDelimited(user::User::kNameFieldNumber, name);
  user.AddLengthDelimited(user::User::kEmailFieldNumber, email);
  user.AddLengthDelimited(user::User::kDisplayNameFieldNumber, display_name);
  google::protobuf::UnknownFieldSet request;
  user.SerializeToString(
      request.AddLengthDelimited(user::ImportUsersRequest::kUserFieldNumber));
  std::string bytes;
  request.SerializeToString(&bytes);
  return bytes;
}

TEST(ImportSessionTest, AMalformedRowKeepsABoundedPrintableName) {
  const auto rejected = ImportSession::DescribeMalformed(
      RequestBytes(std::string(1 << 20, '\xFF'), "a@example.com", ""));
  EXPECT_LE(rejected.name.size(), 256u + 3u);
  EXPECT_TRUE(IsValidUtf8(rejected.name));
  EXPECT_EQ(rejected.status.code(), absl::StatusCode::kInvalidArgument);
}

TEST(SalvageTest, NamesEachStringOfTheUserThatIsNotUtf8) {
  const absl::Status status = UnparsableUserRequest(
      RequestBytes("j\xF6rg", "a@example.com", "Jos\xE9"), "UpdateUserRequest",
      /*new_user=*/false);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(
      GetFieldViolations(status),
      ElementsAre(FieldViolation{"user.name", "must be valid UTF-8"},
                  FieldViolation{"user.display_name", "must be valid UTF-8"}));
  // A new user gets every other rule it breaks too, all at once.
  EXPECT_THAT(
      GetFieldViolations(UnparsableUserRequest(
          RequestBytes("jose", "", "Jos\xE9"), "CreateUserRequest",
          /*new_user=*/true)),
      ElementsAre(FieldViolation{"user.display_name", "must be valid UTF-8"},
                  FieldViolation{"user.email", "is required"}));
  const absl::Status garbage = UnparsableUserRequest(
      "\xFF\xFF\xFF", "UpdateUserRequest", /*new_user=*/false);
  EXPECT_EQ(garbage.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(garbage.message()),
              HasSubstr("not a valid UpdateUserRequest"));
  EXPECT_TRUE(GetFieldViolations(garbage).empty());
}

TEST(SalvageTest, ListUsersNamesItsStringsThatAreNotUtf8) {
  google::protobuf::UnknownFieldSet request;
  request.AddLengthDelimited(user::ListUsersRequest::kPageTokenFieldNumber,
                             "\xC0\x80");  // overlong
  request.AddLengthDelimited(user::ListUsersRequest::kNamePrefixFieldNumber,
                             "ok");
  std::string bytes;
  request.SerializeToString(&bytes);
  const absl::Status status = UnparsableListUsersRequest(bytes);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(GetFieldViolations(status),
              ElementsAre(FieldViolation{"page_token", "must be valid UTF-8"}));
}

TEST(ImportSessionTest, AMalformedRowFailsAloneWithTheViolationsItCarries) {
  ImportSession session;
  user::User ok;
  ok.set_name("ok");
  ok.set_email("ok@example.com");
  session.Add(ok);
  for (const std::string& bytes :
       {RequestBytes("jose", "jose@example.com", "Jos\xE9"),
        RequestBytes("j\xF6rg", "jorg@example.com", ""),
        std::string("\xFF\xFF\xFF")}) {
    session.AddRejected(ImportSession::DescribeMalformed(bytes));
  }
  session.Add(ok);
  ImportSession::Batch batch = session.TakeBatch();
  ASSERT_EQ(batch.entries.size(), 5u);
  ASSERT_EQ(batch.mutations.size(), 2u);  // only the two parsed users
  session.Record(batch, {Change{}, Change{}});

  const auto& summary = session.summary();
  EXPECT_EQ(summary.created(), 2);
  EXPECT_EQ(summary.failed(), 3);
  ASSERT_EQ(summary.errors_size(), 3);
  EXPECT_EQ(summary.errors(0).index(), 1);
  EXPECT_EQ(summary.errors(0).name(), "jose");
  EXPECT_EQ(summary.errors(0).message(),
            "user.display_name must be valid UTF-8");
  EXPECT_EQ(summary.errors(1).index(), 2);
  EXPECT_EQ(summary.errors(1).name(), "j\uFFFDrg");  // quotable, still UTF-8
  EXPECT_THAT(summary.errors(1).message(), HasSubstr("user.name"));
  EXPECT_EQ(summary.errors(2).index(), 3);
  EXPECT_EQ(summary.errors(2).name(), "");
  EXPECT_THAT(summary.errors(2).message(), HasSubstr("could not parse"));
  for (const auto& e : summary.errors()) {
    EXPECT_EQ(e.code(), static_cast<int>(absl::StatusCode::kInvalidArgument));
    // A client's parser refuses a reply with a string that is not UTF-8.
    EXPECT_TRUE(IsValidUtf8(e.name()));
    EXPECT_TRUE(IsValidUtf8(e.message()));
  }
}

}  // namespace
}  // namespace users

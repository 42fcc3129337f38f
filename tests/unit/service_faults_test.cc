// Faults and extremes through the service on a loopback port: exceptions
// thrown inside stream reactions and on the writer thread, unparsable
// requests to the typed methods, client-supplied integers at their limits,
// and what the access log records of streams that end badly.
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/server_builder.h>
#include <gtest/gtest.h>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "directory/directory.h"
#include "directory/group_commit.h"
#include "directory/page_token.h"
#include "directory/watch_hub.h"
#include "server/users_server.h"
#include "service/users_service.h"
#include "service_protos/user.grpc.pb.h"
#include "storage/forwarding_user_store.h"
#include "storage/memory_user_store.h"

namespace users {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

std::chrono::system_clock::time_point Soon() {
  return std::chrono::system_clock::now() + std::chrono::seconds(20);
}

// A memory store whose reads and writes throw when told to, as a backend
// with a bug (or std::bad_alloc) would.
class ThrowingStore final : public ForwardingUserStore {
 public:
  ThrowingStore() : ForwardingUserStore(&base_) {}
  std::atomic<bool> throw_on_read_events{false};
  std::atomic<bool> throw_on_apply{false};
  static constexpr int64_t kThrowingId = 7;

  absl::StatusOr<UserRecord> Get(int64_t id) override {
    if (id == kThrowingId) throw std::runtime_error("disk on fire at /secret");
    return ForwardingUserStore::Get(id);
  }
  absl::StatusOr<std::vector<Change>> ReadEvents(int64_t after,
                                                 int limit) override {
    if (throw_on_read_events) throw std::runtime_error("events on fire");
    return ForwardingUserStore::ReadEvents(after, limit);
  }
  absl::Status Apply(std::span<const Mutation> mutations,
                     std::vector<absl::StatusOr<Change>>* results) override {
    if (throw_on_apply) throw std::runtime_error("write on fire");
    return ForwardingUserStore::Apply(mutations, results);
  }

 private:
  MemoryUserStore base_;
};

// Every access record, for the peer it names.
class RecordingObserver final : public CallObserver {
 public:
  void OnCallEnd(const CallRecord& record) override {
    absl::MutexLock lock(&mu_);
    peers_.emplace_back(std::string(record.method) + " " +
                        std::string(record.peer));
  }
  std::vector<std::string> peers() {
    absl::MutexLock lock(&mu_);
    return peers_;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> peers_;
};

// The service over a ThrowingStore, on a free loopback port.
class FaultsTest : public ::testing::Test {
 protected:
  void SetUp() override { Start(absl::StatusCode::kInternal); }
  void TearDown() override { Stop(); }

  void Start(absl::StatusCode on_exception) {
    hub_ = std::make_unique<WatchHub>(0, 1000);
    writer_ = std::make_unique<GroupCommitter>(&store_, hub_.get(),
                                               GroupCommitter::Options{});
    directory_ = std::make_unique<Directory>(&store_, writer_.get(), hub_.get(),
                                             Directory::Options{});
    ServiceOptions options;
    options.status_on_unknown_exception = on_exception;
    options.observers.push_back(&observer_);
    service_ = std::make_unique<UsersService>(directory_.get(), options);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(port, 0);
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                   grpc::InsecureChannelCredentials());
    stub_ = user::Users::NewStub(channel_);
  }
  void Stop() {
    if (server_) server_->Shutdown(Soon());
    server_.reset();
    if (writer_) writer_->Stop();
  }

  grpc::Status Create(const std::string& name) {
    grpc::ClientContext ctx;
    ctx.set_deadline(Soon());
    user::CreateUserRequest req;
    req.mutable_user()->set_name(name);
    req.mutable_user()->set_email(name + "@example.com");
    user::User out;
    return stub_->CreateUser(&ctx, req, &out);
  }

  // The server still answers a plain read.
  void ExpectStillServing() {
    grpc::ClientContext ctx;
    ctx.set_deadline(Soon());
    user::GetUserRequest req;
    req.set_id(1);
    user::User out;
    grpc::Status s = stub_->GetUser(&ctx, req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
  }

  // Sends `bytes` as the request of unary `method`.
  grpc::Status RawUnary(const std::string& method, const std::string& bytes) {
    grpc::GenericStub generic(channel_);
    grpc::ClientContext ctx;
    ctx.set_deadline(Soon());
    grpc::Slice slice(bytes);
    grpc::ByteBuffer request(&slice, 1), response;
    absl::Notification done;
    grpc::Status status;
    generic.UnaryCall(&ctx, method, grpc::StubOptions(), &request, &response,
                      [&](grpc::Status s) {
                        status = std::move(s);
                        done.Notify();
                      });
    done.WaitForNotification();
    return status;
  }

  ThrowingStore store_;
  RecordingObserver observer_;
  std::unique_ptr<WatchHub> hub_;
  std::unique_ptr<GroupCommitter> writer_;
  std::unique_ptr<Directory> directory_;
  std::unique_ptr<UsersService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<user::Users::Stub> stub_;
};

TEST_F(FaultsTest, AThrowingReplayEndsTheWatchWithTheBoundarysStatus) {
  ASSERT_TRUE(Create("alice").ok());
  ASSERT_TRUE(Create("bob").ok());
  store_.throw_on_read_events = true;
  grpc::ClientContext ctx;
  ctx.set_deadline(Soon());
  user::WatchUsersRequest req;
  req.set_since_revision(1);  // replay from the store, which throws
  auto watch = stub_->WatchUsers(&ctx, req);
  user::UserEvent event;
  while (watch->Read(&event)) {
  }
  grpc::Status end = watch->Finish();
  EXPECT_EQ(end.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_THAT(end.error_message(), ::testing::Not(HasSubstr("fire")));
  store_.throw_on_read_events = false;
  ExpectStillServing();
}

TEST_F(FaultsTest, AThrowingLookupEndsTheStreamWithTheConfiguredStatus) {
  Stop();
  Start(absl::StatusCode::kUnavailable);
  ASSERT_TRUE(Create("alice").ok());
  grpc::ClientContext ctx;
  ctx.set_deadline(Soon());
  auto stream = stub_->LookupUsers(&ctx);
  for (int64_t id : {int64_t{1}, ThrowingStore::kThrowingId, int64_t{1}}) {
    user::GetUserRequest req;
    req.set_id(id);
    if (!stream->Write(req)) break;
  }
  stream->WritesDone();
  user::LookupUsersResponse answer;
  int answers = 0;
  while (stream->Read(&answer)) ++answers;
  grpc::Status end = stream->Finish();
  EXPECT_EQ(end.error_code(), grpc::StatusCode::UNAVAILABLE)
      << end.error_message();
  EXPECT_LE(answers, 1);  // nothing after the failure
  ExpectStillServing();
}

TEST_F(FaultsTest, AThrowingWriteFailsItsCallsAndTheWriterLivesOn) {
  store_.throw_on_apply = true;
  grpc::Status s = Create("alice");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INTERNAL) << s.error_message();
  EXPECT_THAT(s.error_message(), ::testing::Not(HasSubstr("fire")));

  // An import's batch fails row by row; the stream ends with its summary.
  grpc::ClientContext ctx;
  ctx.set_deadline(Soon());
  user::ImportUsersResponse summary;
  auto import = stub_->ImportUsers(&ctx, &summary);
  for (const char* name : {"bob", "carol"}) {
    user::ImportUsersRequest row;
    row.mutable_user()->set_name(name);
    row.mutable_user()->set_email(std::string(name) + "@example.com");
    ASSERT_TRUE(import->Write(row));
  }
  import->WritesDone();
  ASSERT_TRUE(import->Finish().ok());
  EXPECT_EQ(summary.created(), 0);
  EXPECT_EQ(summary.failed(), 2);

  store_.throw_on_apply = false;
  EXPECT_TRUE(Create("dave").ok());
}

TEST_F(FaultsTest, TypedReadsAnswerUnparsableBytesWithInvalidArgument) {
  // Field 2 (name) holding a string that is not UTF-8; then bytes that are
  // no message at all.
  const std::string not_utf8("\x12\x01\xff", 3);
  const std::string garbage("\xff\xff\xff", 3);
  for (const std::string& bytes : {not_utf8, garbage}) {
    grpc::Status s = RawUnary("/user.Users/ListUser", bytes);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), HasSubstr("not a valid UserRequest"));
  }
  // GetUserRequest has no string field: only bytes that are no message.
  grpc::Status s = RawUnary("/user.Users/GetUser", garbage);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("not a valid GetUserRequest"));
  // And a well-formed one is still served (the recycled message was reset).
  user::UserRequest good;
  good.set_id(3);
  good.set_name("ok");
  grpc::ClientContext ctx;
  user::UserResponse response;
  ASSERT_TRUE(stub_->ListUser(&ctx, good, &response).ok());
  EXPECT_EQ(response.details(0).value(), "ok");
}

TEST_F(FaultsTest, StreamsThatEndBadlyAreLoggedWithTheirPeer) {
  ASSERT_TRUE(Create("alice").ok());
  {  // A watch the client cancels.
    grpc::ClientContext ctx;
    auto watch = stub_->WatchUsers(&ctx, user::WatchUsersRequest());
    watch->WaitForInitialMetadata();
    ctx.TryCancel();
    (void)watch->Finish();
  }
  {  // A lookup the client cancels mid-stream.
    grpc::ClientContext ctx;
    auto stream = stub_->LookupUsers(&ctx);
    user::GetUserRequest req;
    req.set_id(1);
    ASSERT_TRUE(stream->Write(req));
    user::LookupUsersResponse answer;
    ASSERT_TRUE(stream->Read(&answer));
    ctx.TryCancel();
    (void)stream->Finish();
  }
  {  // An import that runs past its deadline.
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::milliseconds(200));
    user::ImportUsersResponse summary;
    auto import = stub_->ImportUsers(&ctx, &summary);
    (void)import->Finish();
  }
  server_->Shutdown(Soon());  // every OnDone has run
  const auto peers = observer_.peers();
  int streams = 0;
  for (const std::string& line : peers) {
    if (line.find("/user.Users/CreateUser") == 0) continue;
    ++streams;
    EXPECT_THAT(line, HasSubstr(" ipv4:127.0.0.1:")) << line;
  }
  EXPECT_EQ(streams, 3);
}

// Client-supplied integers at their limits get a precise answer (and, in the
// sanitizer build, no undefined behaviour on the way).
TEST_F(FaultsTest, IntegersAtTheirLimits) {
  ASSERT_TRUE(Create("alice").ok());
  auto watch_end = [&](int64_t since) {
    grpc::ClientContext ctx;
    ctx.set_deadline(Soon());
    user::WatchUsersRequest req;
    req.set_since_revision(since);
    auto watch = stub_->WatchUsers(&ctx, req);
    user::UserEvent event;
    while (watch->Read(&event)) {
    }
    return watch->Finish();
  };
  grpc::Status s = watch_end(kMax);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_THAT(s.error_message(), HasSubstr("is ahead of the latest revision"));
  EXPECT_EQ(watch_end(kMin).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  for (int64_t id : {kMax, kMin, int64_t{0}}) {
    grpc::ClientContext ctx;
    user::GetUserRequest req;
    req.set_id(id);
    user::User out;
    EXPECT_EQ(stub_->GetUser(&ctx, req, &out).error_code(),
              id > 0 ? grpc::StatusCode::NOT_FOUND
                     : grpc::StatusCode::INVALID_ARGUMENT);
  }
  for (int64_t version : {kMax, kMin}) {
    grpc::ClientContext ctx;
    user::UpdateUserRequest req;
    req.mutable_user()->set_id(1);
    req.mutable_user()->set_display_name("x");
    req.mutable_user()->set_version(version);
    req.mutable_update_mask()->add_paths("display_name");
    user::User out;
    EXPECT_EQ(stub_->UpdateUser(&ctx, req, &out).error_code(),
              version > 0 ? grpc::StatusCode::ABORTED
                          : grpc::StatusCode::INVALID_ARGUMENT);
    grpc::ClientContext del_ctx;
    user::DeleteUserRequest del;
    del.set_id(kMax);
    del.set_version(version);
    google::protobuf::Empty empty;
    EXPECT_EQ(stub_->DeleteUser(&del_ctx, del, &empty).error_code(),
              version > 0 ? grpc::StatusCode::NOT_FOUND
                          : grpc::StatusCode::INVALID_ARGUMENT);
  }
  for (int32_t size : {std::numeric_limits<int32_t>::max(),
                       std::numeric_limits<int32_t>::min()}) {
    grpc::ClientContext ctx;
    user::ListUsersRequest req;
    req.set_page_size(size);
    user::ListUsersResponse out;
    grpc::Status list = stub_->ListUsers(&ctx, req, &out);
    EXPECT_EQ(list.error_code(), size > 0 ? grpc::StatusCode::OK
                                          : grpc::StatusCode::INVALID_ARGUMENT);
  }
  {  // A page token (validly signed here) whose cursor is the largest id.
    PageTokenCodec codec("");  // the test directory's key
    grpc::ClientContext ctx;
    user::ListUsersRequest req;
    req.set_page_token(codec.Encode({kMax, ""}));
    user::ListUsersResponse out;
    ASSERT_TRUE(stub_->ListUsers(&ctx, req, &out).ok());
    EXPECT_EQ(out.users_size(), 0);
  }
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(Soon());
    auto stream = stub_->LookupUsers(&ctx);
    for (int64_t id : {kMax, kMin}) {
      user::GetUserRequest req;
      req.set_id(id);
      ASSERT_TRUE(stream->Write(req));
    }
    stream->WritesDone();
    user::LookupUsersResponse answer;
    std::vector<int> codes;
    while (stream->Read(&answer)) codes.push_back(answer.code());
    EXPECT_TRUE(stream->Finish().ok());
    EXPECT_THAT(codes,
                ::testing::ElementsAre(
                    static_cast<int>(grpc::StatusCode::NOT_FOUND),
                    static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT)));
  }
  {
    grpc::ClientContext ctx;
    user::UserRequest req;
    req.set_id(std::numeric_limits<int32_t>::max());
    user::UserResponse out;
    ASSERT_TRUE(stub_->ListUser(&ctx, req, &out).ok());
    EXPECT_EQ(out.details(0).id(), std::numeric_limits<int32_t>::max());
  }
}

// Without --page-token-key, a server makes its own key and keeps it with the
// data: tokens survive a restart, and one signed with the old public
// default is refused.
TEST(PageTokenKeyTest, GeneratedKeyIsKeptWithTheDataAndTheOldDefaultIsRefused) {
  const std::string dir =
      ::testing::TempDir() + "/users-page-key-" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  ServerConfig config;
  config.host = "127.0.0.1";
  config.port = 0;
  config.db = dir + "/users.db";
  auto list = [](UsersServer& server, const std::string& token,
                 user::ListUsersResponse* out) {
    auto stub = user::Users::NewStub(
        grpc::CreateChannel("127.0.0.1:" + std::to_string(server.port()),
                            grpc::InsecureChannelCredentials()));
    grpc::ClientContext ctx;
    ctx.set_deadline(Soon());
    user::ListUsersRequest req;
    req.set_page_size(1);
    req.set_page_token(token);
    return stub->ListUsers(&ctx, req, out);
  };
  std::string token;
  {
    UsersServer server(config, /*access_log_fd=*/-1);
    ASSERT_TRUE(server.Start().ok());
    auto stub = user::Users::NewStub(
        grpc::CreateChannel("127.0.0.1:" + std::to_string(server.port()),
                            grpc::InsecureChannelCredentials()));
    for (const char* name : {"alice", "bob"}) {
      grpc::ClientContext ctx;
      ctx.set_deadline(Soon());
      user::CreateUserRequest req;
      req.mutable_user()->set_name(name);
      req.mutable_user()->set_email(std::string(name) + "@example.com");
      user::User out;
      ASSERT_TRUE(stub->CreateUser(&ctx, req, &out).ok());
    }
    user::ListUsersResponse first;
    ASSERT_TRUE(list(server, "", &first).ok());
    token = first.next_page_token();
    ASSERT_FALSE(token.empty());
  }
  UsersServer restarted(config, /*access_log_fd=*/-1);
  ASSERT_TRUE(restarted.Start().ok());
  user::ListUsersResponse second;
  grpc::Status s = list(restarted, token, &second);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(second.users_size(), 1);
  EXPECT_EQ(second.users(0).name(), "bob");

  const std::string forged =
      PageTokenCodec("users-service page tokens v1").Encode({0, ""});
  EXPECT_EQ(list(restarted, forged, &second).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  restarted.Shutdown(std::chrono::milliseconds(0));
  restarted.Wait();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace users

// The service through an in-process server on a loopback port: real gRPC
// wiring, interceptors included, no separate process.
#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/server_builder.h>
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include "absl/cleanup/cleanup.h"
#include "absl/synchronization/notification.h"
#include "directory/directory.h"
#include "directory/group_commit.h"
#include "directory/watch_hub.h"
#include "server/users_server.h"
#include "service/users_service.h"
#include "service_protos/user.grpc.pb.h"
#include "storage/forwarding_user_store.h"
#include "storage/memory_user_store.h"

namespace users {
namespace {

class ServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerConfig config;
    config.host = "127.0.0.1";
    config.port = 0;
    config.db = ":memory:";
    server_ = std::make_unique<UsersServer>(config, /*access_log_fd=*/-1);
    ASSERT_TRUE(server_->Start().ok());
    auto channel =
        grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->port()),
                            grpc::InsecureChannelCredentials());
    stub_ = user::Users::NewStub(channel);
  }

  std::unique_ptr<UsersServer> server_;
  std::unique_ptr<user::Users::Stub> stub_;
};

TEST_F(ServiceTest, ListUserEchoes) {
  grpc::ClientContext ctx;
  user::UserRequest req;
  req.set_id(2);
  req.set_name("twtrubiks");
  user::UserResponse resp;
  ASSERT_TRUE(stub_->ListUser(&ctx, req, &resp).ok());
  ASSERT_EQ(resp.details_size(), 1);
  EXPECT_EQ(resp.details(0).id(), 2);
  EXPECT_EQ(resp.details(0).value(), "twtrubiks");
  // The request-id interceptor echoes an id in the initial metadata.
  auto md = ctx.GetServerInitialMetadata();
  EXPECT_EQ(md.count("x-request-id"), 1u);
}

TEST_F(ServiceTest, ListUserIdZeroIsNotFound) {
  grpc::ClientContext ctx;
  user::UserRequest req;
  user::UserResponse resp;
  grpc::Status s = stub_->ListUser(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(s.error_message(), "Sorry, id is not allowed 0");
}

TEST_F(ServiceTest, CallerRequestIdIsEchoed) {
  grpc::ClientContext ctx;
  ctx.AddMetadata("x-request-id", "trace-42");
  user::UserRequest req;
  req.set_id(1);
  user::UserResponse resp;
  ASSERT_TRUE(stub_->ListUser(&ctx, req, &resp).ok());
  auto md = ctx.GetServerInitialMetadata();
  auto it = md.find("x-request-id");
  ASSERT_NE(it, md.end());
  EXPECT_EQ(std::string(it->second.data(), it->second.size()), "trace-42");
}

}  // namespace
}  // namespace users

namespace users {
namespace {

// `service` alone on a free loopback port, with a stub to call it.
struct InProcessServer {
  explicit InProcessServer(grpc::Service* service) {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(service);
    server = builder.BuildAndStart();
    if (port == 0) {
      server.reset();
      return;
    }
    stub = user::Users::NewStub(
        grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                            grpc::InsecureChannelCredentials()));
  }
  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<user::Users::Stub> stub;
};

class MockStore : public UserStore {
 public:
  MOCK_METHOD(absl::Status, Apply,
              (std::span<const Mutation>, std::vector<absl::StatusOr<Change>>*),
              (override));
  MOCK_METHOD(absl::StatusOr<UserRecord>, Get, (int64_t), (override));
  MOCK_METHOD(absl::StatusOr<std::vector<UserRecord>>, List,
              (int64_t, std::string_view, int), (override));
  MOCK_METHOD(absl::StatusOr<std::vector<Change>>, ReadEvents, (int64_t, int),
              (override));
  MOCK_METHOD(absl::Status, CompactEvents, (int64_t), (override));
  MOCK_METHOD(absl::Status, ExpireRequestIds, (TimeMicros), (override));
  MOCK_METHOD(absl::StatusOr<RevisionInfo>, Revisions, (), (override));
  MOCK_METHOD(absl::Status, Check, (), (override));
  MOCK_METHOD(absl::StatusOr<std::string>, GetOrCreateSecret,
              (std::string_view, std::string_view), (override));
};

// A handler whose code throws something that is not an RpcError: the caller
// gets INTERNAL with a generic message, and the server keeps serving.
TEST(ServiceErrorBoundaryTest, ThrowingHandlerYieldsInternalAndServerSurvives) {
  MockStore store;
  EXPECT_CALL(store, Get(7))
      .WillRepeatedly([](int64_t) -> absl::StatusOr<UserRecord> {
        throw std::runtime_error("disk on fire at /secret/path");
      });
  EXPECT_CALL(store, Get(8))
      .WillRepeatedly([](int64_t id) -> absl::StatusOr<UserRecord> {
        UserRecord r;
        r.id = id;
        r.name = "ok";
        return r;
      });
  GroupCommitter writer(&store, nullptr, {});
  Directory directory(&store, &writer, nullptr, {});
  UsersService service(&directory);
  InProcessServer in_process(&service);
  ASSERT_TRUE(in_process.server != nullptr);
  auto& server = in_process.server;
  auto& stub = in_process.stub;

  for (int i = 0; i < 3; ++i) {
    grpc::ClientContext ctx;
    user::GetUserRequest req;
    req.set_id(7);
    user::User resp;
    grpc::Status s = stub->GetUser(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INTERNAL);
    EXPECT_EQ(s.error_message().find("secret"), std::string::npos);

    grpc::ClientContext ctx2;
    req.set_id(8);
    ASSERT_TRUE(stub->GetUser(&ctx2, req, &resp).ok());
    EXPECT_EQ(resp.name(), "ok");
  }
  server->Shutdown();
  writer.Stop();
}

// A stop that comes before the metrics endpoint's listen loop has started
// (httplib ignores it then) must still end the server, not hang its Wait.
TEST(UsersServerTest, StopsRightAfterStartWithMetrics) {
  for (int i = 0; i < 20; ++i) {
    ServerConfig config;
    config.host = "127.0.0.1";
    config.port = 0;
    config.db = ":memory:";
    config.metrics_host = "127.0.0.1";
    config.metrics_port = 0;
    UsersServer server(config, /*access_log_fd=*/-1);
    ASSERT_TRUE(server.Start().ok());
    server.Shutdown(std::chrono::milliseconds(0));
    server.Wait();
  }
}

// A memory store whose ReadEvents, once armed, waits for `release`.
class PausingEventsStore final : public ForwardingUserStore {
 public:
  PausingEventsStore() : ForwardingUserStore(&base_) {}
  absl::Notification reached, release;
  std::atomic<bool> armed{false};

  absl::StatusOr<std::vector<Change>> ReadEvents(int64_t after,
                                                 int limit) override {
    if (armed.exchange(false)) {
      reached.Notify();
      release.WaitForNotification();
    }
    return ForwardingUserStore::ReadEvents(after, limit);
  }

 private:
  MemoryUserStore base_;
};

// A watcher stuck in a replay read of the store while its queue overflows:
// the writer thread cuts it off without waiting for that read, so writes
// keep completing, and the watcher ends with RESOURCE_EXHAUSTED.
TEST(WatchUsersTest, WritesNeverWaitOnAReplayingWatcher) {
  PausingEventsStore store;
  WatchHub hub(/*latest_revision=*/0, /*max_queue=*/1);
  GroupCommitter writer(&store, &hub, {});
  Directory directory(&store, &writer, &hub, {});
  UsersService service(&directory);
  InProcessServer in_process(&service);
  ASSERT_TRUE(in_process.server != nullptr);
  auto& server = in_process.server;
  auto& stub = in_process.stub;
  auto create = [&](const std::string& name) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(10));
    user::CreateUserRequest req;
    req.mutable_user()->set_name(name);
    req.mutable_user()->set_email(name + "@example.com");
    user::User out;
    return stub->CreateUser(&ctx, req, &out);
  };
  ASSERT_TRUE(create("before1").ok());
  ASSERT_TRUE(create("before2").ok());

  store.armed = true;
  // Never leave the store's reader waiting, even if an assertion fails.
  absl::Cleanup release = [&] {
    if (!store.release.HasBeenNotified()) store.release.Notify();
  };
  grpc::ClientContext watch_ctx;
  user::WatchUsersRequest watch_req;
  watch_req.set_since_revision(1);  // replays revision 2 from the store
  auto watch = stub->WatchUsers(&watch_ctx, watch_req);
  ASSERT_TRUE(store.reached.WaitForNotificationWithTimeout(absl::Seconds(30)));

  // Live events overflow a queue of one while the replay read waits; the
  // third commit finds it over the limit.
  for (const char* name : {"during1", "during2", "during3"}) {
    grpc::Status s = create(name);
    EXPECT_TRUE(s.ok()) << name << ": " << s.error_message();
  }
  std::move(release).Invoke();

  user::UserEvent event;
  while (watch->Read(&event)) {
  }
  grpc::Status end = watch->Finish();
  EXPECT_EQ(end.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << end.error_message();
  server->Shutdown();
  writer.Stop();
}

// A memory store that keeps few events, and runs `after_first_read` once,
// right after the first ReadEvents has read its page.
class CompactingStore final : public ForwardingUserStore {
 public:
  explicit CompactingStore(int64_t retention)
      : ForwardingUserStore(&base_), retention_(retention) {}
  std::function<void()> after_first_read;

  // Compacts right after every commit, as an eager compactor would.
  absl::Status Apply(std::span<const Mutation> mutations,
                     std::vector<absl::StatusOr<Change>>* results) override {
    absl::Status s = ForwardingUserStore::Apply(mutations, results);
    if (s.ok()) s = CompactEvents(retention_);
    return s;
  }

  absl::StatusOr<std::vector<Change>> ReadEvents(int64_t after,
                                                 int limit) override {
    auto page = ForwardingUserStore::ReadEvents(after, limit);
    if (after_first_read) std::exchange(after_first_read, nullptr)();
    return page;
  }

 private:
  const int64_t retention_;
  MemoryUserStore base_;
};

// More commits than the log keeps land while a watcher replays: they are in
// its live queue, so it gets every event and no OUT_OF_RANGE, although the
// log no longer holds those that follow its replay.
TEST(WatchUsersTest, CompactionAfterTheReplayedRangeIsNotReported) {
  CompactingStore store(/*retention=*/2);
  WatchHub hub(/*latest_revision=*/0, /*max_queue=*/100);
  GroupCommitter writer(&store, &hub, {});
  Directory directory(&store, &writer, &hub, {});
  UsersService service(&directory);
  InProcessServer in_process(&service);
  ASSERT_TRUE(in_process.server != nullptr);
  auto create = [&](const std::string& name) {
    user::CreateUserRequest req;
    req.mutable_user()->set_name(name);
    req.mutable_user()->set_email(name + "@example.com");
    std::promise<absl::Status> done;
    directory.CreateUser(
        req, std::chrono::system_clock::now() + std::chrono::seconds(10),
        [&](absl::StatusOr<user::User> u) { done.set_value(u.status()); });
    return done.get_future().get();
  };
  ASSERT_TRUE(create("before1").ok());
  ASSERT_TRUE(create("before2").ok());
  // On the replay's thread, with the page of revision 2 read: five commits
  // (revisions 3-7) reach the live queue, and the log keeps only 6 and 7.
  store.after_first_read = [&] {
    for (const char* name :
         {"during1", "during2", "during3", "during4", "during5"}) {
      EXPECT_TRUE(create(name).ok()) << name;
    }
  };

  grpc::ClientContext watch_ctx;
  watch_ctx.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(30));
  user::WatchUsersRequest watch_req;
  watch_req.set_since_revision(1);  // replays revision 2 from the store
  auto watch = in_process.stub->WatchUsers(&watch_ctx, watch_req);
  std::vector<int64_t> revisions;
  user::UserEvent event;
  while (revisions.size() < 6 && watch->Read(&event)) {
    revisions.push_back(event.revision());
  }
  EXPECT_THAT(revisions, ::testing::ElementsAre(2, 3, 4, 5, 6, 7));
  watch_ctx.TryCancel();
  grpc::Status end = watch->Finish();
  EXPECT_EQ(end.error_code(), grpc::StatusCode::CANCELLED)
      << end.error_message();
  in_process.server->Shutdown();
  writer.Stop();
}

}  // namespace
}  // namespace users

namespace users {
namespace {

// Ids sent ahead in one burst make the server hold its last answer for the
// next read (coalescing sends). With the stream left open and no more ids,
// every answer must still arrive: the hold ends on its own. Then ids sent
// one at a time, each answered before the next is sent.
TEST_F(ServiceTest, LookupAnswersABurstAndSingleIdsWithTheStreamLeftOpen) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(20));
  auto stream = stub_->LookupUsers(&context);
  user::GetUserRequest request;
  user::LookupUsersResponse answer;
  for (int round = 0; round < 20; ++round) {
    constexpr int kBurst = 100;
    for (int i = 0; i < kBurst; ++i) {
      request.set_id(1000 + i);
      grpc::WriteOptions options;
      if (i + 1 < kBurst) options.set_buffer_hint();
      ASSERT_TRUE(stream->Write(request, options));
    }
    for (int i = 0; i < kBurst; ++i) {
      ASSERT_TRUE(stream->Read(&answer)) << "round " << round << ", " << i;
      EXPECT_EQ(answer.id(), 1000 + i);
      EXPECT_EQ(answer.code(), static_cast<int>(grpc::StatusCode::NOT_FOUND));
    }
    for (int i = 0; i < 5; ++i) {
      request.set_id(i);
      ASSERT_TRUE(stream->Write(request));
      ASSERT_TRUE(stream->Read(&answer));
      EXPECT_EQ(answer.id(), i);
    }
  }
  ASSERT_TRUE(stream->WritesDone());
  EXPECT_FALSE(stream->Read(&answer));
  EXPECT_TRUE(stream->Finish().ok());
}

}  // namespace
}  // namespace users

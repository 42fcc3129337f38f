// The watch hub and group commit without gRPC: ordering, overflow, close.
#include "directory/watch_hub.h"

#include <atomic>
#include <future>
#include <thread>

#include <gtest/gtest.h>

#include "directory/group_commit.h"
#include "storage/memory_user_store.h"
#include "tests/unit/watch_test_support.h"

namespace users {
namespace {

Change MakeChange(int64_t revision) {
  Change c;
  c.revision = revision;
  c.user.id = revision;
  return c;
}

TEST(WatchHubTest, SubscriptionSeesOnlyLaterChangesInOrder) {
  WatchHub hub(5, 100);
  std::vector<Change> early{MakeChange(6)};
  hub.OnCommitted(early);
  CountingWatcher w;
  auto sub = std::make_shared<WatchSubscription>(&w);
  EXPECT_EQ(hub.Subscribe(sub), 6);
  std::vector<Change> later{MakeChange(7), MakeChange(8)};
  hub.OnCommitted(later);
  EXPECT_EQ(w.wakes.load(), 1);
  WatchSubscription::State state;
  bool more = false;  // what decides a watch write's buffer_hint
  EXPECT_EQ(sub->Pop(&state, &more)->revision, 7);
  EXPECT_TRUE(more);
  EXPECT_EQ(sub->Pop(&state, &more)->revision, 8);
  EXPECT_FALSE(more);
  EXPECT_EQ(sub->Pop(&state, &more), nullptr);
  EXPECT_FALSE(more);
  EXPECT_EQ(state, WatchSubscription::State::kOpen);
  hub.Unsubscribe(sub);
  hub.OnCommitted(std::vector<Change>{MakeChange(9)});
  EXPECT_EQ(w.wakes.load(), 1);  // never woken after Unsubscribe
  EXPECT_EQ(hub.watcher_count(), 0u);
}

TEST(WatchHubTest, LaggingWatcherOverflowsAndIsFreed) {
  WatchHub hub(0, 3);
  CountingWatcher w;
  auto sub = std::make_shared<WatchSubscription>(&w);
  hub.Subscribe(sub);
  int64_t rev = 0;
  for (int i = 0; i < 3; ++i)
    hub.OnCommitted(std::vector<Change>{MakeChange(++rev), MakeChange(++rev)});
  WatchSubscription::State state;
  EXPECT_EQ(sub->Pop(&state), nullptr);
  EXPECT_EQ(state, WatchSubscription::State::kOverflowed);
}

TEST(WatchHubTest, OneLargeCommitDoesNotCutOffAWatcherThatKeepsUp) {
  WatchHub hub(0, 3);
  CountingWatcher w;
  auto sub = std::make_shared<WatchSubscription>(&w);
  hub.Subscribe(sub);
  std::vector<Change> batch;
  for (int i = 1; i <= 10; ++i) batch.push_back(MakeChange(i));
  hub.OnCommitted(batch);
  EXPECT_EQ(sub->state(), WatchSubscription::State::kOpen);
}

TEST(WatchHubTest, CloseAllClosesAndRefusesNewSubscriptions) {
  WatchHub hub(0, 10);
  CountingWatcher w;
  auto sub = std::make_shared<WatchSubscription>(&w);
  hub.Subscribe(sub);
  hub.CloseAll();
  EXPECT_EQ(sub->state(), WatchSubscription::State::kClosed);
  EXPECT_EQ(w.wakes.load(), 1);
  auto late = std::make_shared<WatchSubscription>(&w);
  hub.Subscribe(late);
  EXPECT_EQ(late->state(), WatchSubscription::State::kClosed);
}

class RecordingListener : public ChangeListener {
 public:
  void OnCommitted(std::vector<Change> changes) override {
    for (const auto& c : changes) revisions.push_back(c.revision);
  }
  std::vector<int64_t> revisions;  // only the writer thread touches it
};

TEST(GroupCommitterTest,
     ConcurrentSubmittersShareTransactionsAndPublishInOrder) {
  MemoryUserStore store;
  RecordingListener listener;
  std::atomic<int> ok{0};
  {
    GroupCommitter writer(&store, &listener, {});
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 200; ++i) {
          Mutation m;
          m.user.name = "t" + std::to_string(t) + "n" + std::to_string(i);
          m.user.email = m.user.name + "@x.io";
          std::promise<void> done;
          writer.Submit({m}, Deadline::max(), [&](GroupCommitter::Results r) {
            if (r.size() == 1 && r[0].ok()) ok.fetch_add(1);
            done.set_value();
          });
          done.get_future().wait();
        }
      });
    }
    for (auto& t : threads) t.join();
    const auto stats = writer.stats();
    EXPECT_EQ(stats.mutations, 1600u);
    EXPECT_LE(stats.transactions, 1600u);
  }
  EXPECT_EQ(ok.load(), 1600);
  ASSERT_EQ(listener.revisions.size(), 1600u);
  for (size_t i = 0; i < listener.revisions.size(); ++i) {
    EXPECT_EQ(listener.revisions[i], static_cast<int64_t>(i + 1));
  }
}

// A retry answered from its request id's record is not a new change: a
// watcher that saw the first attempt must not see it twice.
TEST(GroupCommitterTest, ReplayedOutcomesAreNotPublished) {
  MemoryUserStore store;
  RecordingListener listener;
  {
    GroupCommitter writer(&store, &listener, {});
    Mutation m;
    m.user.name = "alice";
    m.user.email = "alice@x.io";
    m.request_id = "r1";
    m.fingerprint = "f";
    for (int attempt = 0; attempt < 3; ++attempt) {
      std::promise<void> done;
      writer.Submit({m}, Deadline::max(), [&](GroupCommitter::Results r) {
        EXPECT_TRUE(r.size() == 1 && r[0].ok());
        done.set_value();
      });
      done.get_future().wait();
    }
  }
  EXPECT_EQ(listener.revisions, std::vector<int64_t>{1});
}

TEST(GroupCommitterTest, AfterStopSubmissionsAreUnavailable) {
  MemoryUserStore store;
  GroupCommitter writer(&store, nullptr, {});
  writer.Stop();
  Mutation m;
  m.user.name = "late";
  absl::StatusCode code = absl::StatusCode::kOk;
  writer.Submit({m}, Deadline::max(), [&](GroupCommitter::Results r) {
    code = r[0].status().code();
  });
  EXPECT_EQ(code, absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace users

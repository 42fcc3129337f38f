// The watch hub without gRPC: ordering, overflow, close.
#include "directory/watch_hub.h"

#include <atomic>
#include <future>
#include <thread>

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace users

// The change feed and the compactor without gRPC: every committed change
// reaches the hub once, in revision order, whichever process wrote it.
#include "directory/change_feed.h"

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "directory/compactor.h"
#include "storage/memory_user_store.h"
#include "tests/unit/watch_test_support.h"

namespace users {
namespace {

using std::chrono::milliseconds;

class ChangeFeedTest : public ::testing::Test {
 protected:
  // Commits `count` creates to the store, as any process sharing it would;
  // returns what was committed.
  std::vector<Change> Commit(int count) {
    return CommitCreates(store_, count, &next_);
  }

  // Everything queued to `sub` so far, by revision.
  static std::vector<int64_t> Drain(WatchSubscription* sub) {
    std::vector<int64_t> out;
    WatchSubscription::State state;
    while (auto c = sub->Pop(&state)) out.push_back(c->revision);
    return out;
  }

  std::shared_ptr<WatchSubscription> Subscribe() {
    auto sub = std::make_shared<WatchSubscription>(&watcher_);
    hub_.Subscribe(sub);
    return sub;
  }

  static ChangeFeed::Options NoPolling() {
    ChangeFeed::Options options;
    options.poll_interval = milliseconds(3600 * 1000);
    options.page = 4;  // several pages in every catch-up
    return options;
  }

  MemoryUserStore store_;
  WatchHub hub_{0, 1000};
  CountingWatcher watcher_;
  int next_ = 0;
};

TEST_F(ChangeFeedTest, OwnCommitsArePublishedBeforeOnCommittedReturns) {
  ChangeFeed feed(&store_, &hub_, 0, NoPolling());
  auto sub = Subscribe();
  feed.OnCommitted(Commit(3));
  EXPECT_EQ(Drain(sub.get()), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(feed.published(), 3);
}

TEST_F(ChangeFeedTest, AnotherWritersCommitsComeFirstWithoutGap) {
  ChangeFeed feed(&store_, &hub_, 0, NoPolling());
  auto sub = Subscribe();
  Commit(9);  // another replica's, never handed to this feed
  feed.OnCommitted(Commit(2));
  std::vector<int64_t> expected;
  for (int64_t r = 1; r <= 11; ++r) expected.push_back(r);
  EXPECT_EQ(Drain(sub.get()), expected);
}

TEST_F(ChangeFeedTest, TailerPublishesOtherWritersOnNotify) {
  ChangeFeed feed(&store_, &hub_, 0, NoPolling());
  auto sub = Subscribe();
  Commit(10);
  feed.Notify();
  ASSERT_TRUE(Eventually([&] { return feed.published() == 10; }));
  EXPECT_EQ(Drain(sub.get()).size(), 10u);
}

TEST_F(ChangeFeedTest, TailerPollsWithoutNotify) {
  ChangeFeed::Options options = NoPolling();
  options.poll_interval = milliseconds(5);
  ChangeFeed feed(&store_, &hub_, 0, options);
  Commit(3);
  EXPECT_TRUE(Eventually([&] { return feed.published() == 3; }));
}

TEST_F(ChangeFeedTest, CommitsTheTailerAlreadyPublishedAreNotRepeated) {
  ChangeFeed feed(&store_, &hub_, 0, NoPolling());
  auto sub = Subscribe();
  auto mine = Commit(5);
  feed.Notify();  // the tailer reads them from the log first
  ASSERT_TRUE(Eventually([&] { return feed.published() == 5; }));
  feed.OnCommitted(mine);
  EXPECT_EQ(Drain(sub.get()), (std::vector<int64_t>{1, 2, 3, 4, 5}));
}

TEST_F(ChangeFeedTest, FallingBehindCompactionCutsWatchersOffAndGoesOn) {
  std::vector<int64_t> seen;
  ChangeFeed::Options options = NoPolling();
  options.on_published = [&](const std::vector<Change>& changes) {
    for (const auto& c : changes) seen.push_back(c.revision);
  };
  bool gap = false;
  options.on_gap = [&] { gap = true; };
  ChangeFeed feed(&store_, &hub_, 0, options);
  auto sub = Subscribe();
  Commit(20);
  ASSERT_TRUE(store_.CompactEvents(5).ok());  // 1..15 gone before read
  feed.OnCommitted(Commit(1));                // revision 21
  EXPECT_EQ(sub->state(), WatchSubscription::State::kOverflowed);
  EXPECT_TRUE(gap);  // a cache must forget what it cannot know changed
  EXPECT_EQ(feed.published(), 21);
  EXPECT_EQ(seen, (std::vector<int64_t>{16, 17, 18, 19, 20, 21}));
  // A watcher subscribing now starts after what was published.
  auto late = Subscribe();
  feed.OnCommitted(Commit(1));
  EXPECT_EQ(Drain(late.get()), (std::vector<int64_t>{22}));
}

TEST(CompactorTest, TrimsTheLogOnceEnoughIsPublished) {
  MemoryUserStore store;
  int next = 0;
  CommitCreates(store, 20, &next);
  Compactor::Options options;
  options.keep = 8;  // runs once 1 change is published
  options.interval = milliseconds(3600 * 1000);
  Compactor compactor(&store, options);
  EXPECT_EQ(store.Revisions()->first_available, 1);
  compactor.Published(20);
  ASSERT_TRUE(Eventually([&] { return compactor.runs() >= 1; }));
  EXPECT_EQ(store.Revisions()->first_available, 13);
  compactor.Stop();
  compactor.Stop();  // idempotent
}

TEST(CompactorTest, ForgetsRequestIdsOlderThanTheirRetention) {
  MemoryUserStore store;
  const auto now = std::chrono::duration_cast<std::chrono::microseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  auto apply = [&](const std::string& name, TimeMicros at) {
    Mutation m;
    m.user.name = name;
    m.user.email = name + "@x.io";
    m.request_id = "id-" + name;
    m.fingerprint = "f";
    m.now = at;
    std::vector<absl::StatusOr<Change>> results;
    EXPECT_TRUE(store.Apply({&m, 1}, &results).ok());
    return results.at(0);
  };
  ASSERT_TRUE(apply("old", now - 7200LL * 1000000).ok());  // two hours ago
  ASSERT_TRUE(apply("new", now).ok());
  Compactor::Options options;
  options.keep = 1;  // runs once 1 change is published
  options.request_id_retention = std::chrono::hours(1);
  options.interval = milliseconds(3600 * 1000);
  Compactor compactor(&store, options);
  compactor.Published(2);
  ASSERT_TRUE(Eventually([&] { return compactor.runs() >= 1; }));
  compactor.Stop();
  // "old" was forgotten: its retry is a new create (its name is taken, so
  // it fails); "new" is still answered from its record.
  EXPECT_EQ(apply("old", now).status().code(),
            absl::StatusCode::kAlreadyExists);
  auto replay = apply("new", now);
  ASSERT_TRUE(replay.ok());
  EXPECT_TRUE(replay->replayed);
}

}  // namespace
}  // namespace users

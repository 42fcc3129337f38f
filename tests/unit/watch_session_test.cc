// The WatchUsers rules without a network: where a stream starts, replay then
// live without gap or duplicate, and the statuses it ends with.
#include "directory/watch_session.h"

#include <atomic>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "storage/memory_user_store.h"
#include "tests/unit/watch_test_support.h"

namespace users {
namespace {

// A store and a hub fed by hand: Commit applies creates, compacts the log to
// `retention` and publishes the creates, as the compactor and the change feed
// do.
class WatchSessionTest : public ::testing::Test {
 protected:
  explicit WatchSessionTest(int64_t retention = 1000, size_t max_queue = 100)
      : retention_(retention), hub_(0, max_queue) {}

  void Commit(int count) {
    auto changes = CommitCreates(store_, count, &next_);
    ASSERT_TRUE(store_.CompactEvents(retention_).ok());  // as the compactor
    hub_.OnCommitted(std::move(changes));
  }

  std::unique_ptr<WatchSession> Open(int64_t since, bool from_oldest = false) {
    auto session = std::make_unique<WatchSession>(&store_, &hub_, &watcher_);
    user::WatchUsersRequest request;
    request.set_since_revision(since);
    request.set_from_oldest(from_oldest);
    EXPECT_TRUE(session->Subscribe(request).ok());
    return session;
  }

  // Drains what the session has now, reading pages as a reactor does;
  // returns the revisions sent. `end` gets the status if the stream ended.
  std::vector<int64_t> Drain(WatchSession* session,
                             absl::Status* end = nullptr) {
    std::vector<int64_t> sent;
    user::UserEvent event;
    for (;;) {
      bool more = false;
      absl::Status status;
      switch (session->Next(&event, &more, &status)) {
        case WatchSession::Step::kEvent:
          sent.push_back(event.revision());
          EXPECT_EQ(event.type(), user::UserEvent::CREATED);
          break;
        case WatchSession::Step::kReadPage:
          session->AcceptPage(session->ReadPage(session->page_after()));
          break;
        case WatchSession::Step::kIdle:
          return sent;
        case WatchSession::Step::kEnd:
          if (end != nullptr) *end = status;
          return sent;
      }
    }
  }

  static std::vector<int64_t> Range(int64_t from, int64_t to) {
    std::vector<int64_t> out;
    for (int64_t r = from; r <= to; ++r) out.push_back(r);
    return out;
  }

  const int64_t retention_;
  MemoryUserStore store_;
  WatchHub hub_;
  CountingWatcher watcher_;
  int next_ = 0;
};

TEST_F(WatchSessionTest, NegativeSinceIsInvalidArgument) {
  WatchSession session(&store_, &hub_, &watcher_);
  user::WatchUsersRequest request;
  request.set_since_revision(-1);
  absl::Status s = session.Subscribe(request);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(hub_.watcher_count(), 0u);
}

TEST_F(WatchSessionTest, FromOldestWithSinceIsInvalidArgument) {
  WatchSession session(&store_, &hub_, &watcher_);
  user::WatchUsersRequest request;
  request.set_since_revision(3);
  request.set_from_oldest(true);
  absl::Status s = session.Subscribe(request);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(hub_.watcher_count(), 0u);
}

TEST_F(WatchSessionTest, SinceZeroSendsOnlyLaterChanges) {
  Commit(3);
  auto session = Open(0);
  ASSERT_TRUE(session->Position().ok());
  EXPECT_TRUE(Drain(session.get()).empty());
  Commit(2);
  EXPECT_EQ(Drain(session.get()), Range(4, 5));
  EXPECT_GT(watcher_.wakes.load(), 0);
}

TEST_F(WatchSessionTest, FromOldestReplaysRevisionOne) {
  Commit(3);
  auto session = Open(0, /*from_oldest=*/true);
  ASSERT_TRUE(session->Position().ok());
  EXPECT_EQ(Drain(session.get()), Range(1, 3));
  Commit(1);
  EXPECT_EQ(Drain(session.get()), Range(4, 4));
}

TEST_F(WatchSessionTest, FromOldestOnAnEmptyStoreWaitsForTheFirst) {
  auto session = Open(0, /*from_oldest=*/true);
  ASSERT_TRUE(session->Position().ok());
  EXPECT_TRUE(Drain(session.get()).empty());
  Commit(1);
  EXPECT_EQ(Drain(session.get()), Range(1, 1));
}

TEST_F(WatchSessionTest, FutureRevisionIsOutOfRange) {
  Commit(2);
  auto session = Open(10);
  absl::Status s = session->Position();
  EXPECT_EQ(s.code(), absl::StatusCode::kOutOfRange);
  EXPECT_NE(std::string(s.message()).find("ahead of the latest revision 2"),
            std::string::npos)
      << s;
}

TEST_F(WatchSessionTest, ReplayThenLiveWithoutGapOrDuplicate) {
  Commit(600);  // more than two replay pages
  auto session = Open(5);
  ASSERT_TRUE(session->Position().ok());
  // Committed after the subscription, before the replay is read: both in
  // the log and in the live queue, and must be sent once.
  Commit(10);
  EXPECT_EQ(Drain(session.get()), Range(6, 610));
  Commit(3);
  EXPECT_EQ(Drain(session.get()), Range(611, 613));
}

class CompactingWatchSessionTest : public WatchSessionTest {
 protected:
  CompactingWatchSessionTest() : WatchSessionTest(/*retention=*/5) {}
};

TEST_F(CompactingWatchSessionTest, CompactedSinceIsOutOfRange) {
  Commit(20);  // keeps 16..20
  auto session = Open(3);
  absl::Status s = session->Position();
  EXPECT_EQ(s.code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(s, WatchSession::Compacted(16));
  // The oldest retained one is still served.
  auto edge = Open(15);
  ASSERT_TRUE(edge->Position().ok());
  EXPECT_EQ(Drain(edge.get()), Range(16, 20));
}

TEST_F(CompactingWatchSessionTest, FromOldestStartsAtTheOldestRetained) {
  Commit(20);
  auto session = Open(0, /*from_oldest=*/true);
  ASSERT_TRUE(session->Position().ok());
  EXPECT_EQ(Drain(session.get()), Range(16, 20));
}

TEST_F(CompactingWatchSessionTest, CompactionDuringReplayIsOutOfRange) {
  Commit(5);
  auto session = Open(0, /*from_oldest=*/true);  // replays 1..5
  ASSERT_TRUE(session->Position().ok());
  Commit(10);  // compacts 1..10 before the first page is read
  absl::Status end;
  EXPECT_TRUE(Drain(session.get(), &end).empty());
  EXPECT_EQ(end, WatchSession::Compacted(11));
}

class SmallQueueWatchSessionTest : public WatchSessionTest {
 protected:
  SmallQueueWatchSessionTest()
      : WatchSessionTest(/*retention=*/1000, /*max_queue=*/2) {}
};

TEST_F(SmallQueueWatchSessionTest, FallingBehindSaysWhereToResume) {
  auto session = Open(0);
  ASSERT_TRUE(session->Position().ok());
  Commit(1);
  EXPECT_EQ(Drain(session.get()), Range(1, 1));
  for (int i = 0; i < 4; ++i) Commit(1);  // never read: overflows
  ASSERT_TRUE(session->Interrupted().has_value());
  EXPECT_EQ(session->Interrupted()->code(),
            absl::StatusCode::kResourceExhausted);
  absl::Status end;
  EXPECT_TRUE(Drain(session.get(), &end).empty());
  EXPECT_EQ(end.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(std::string(end.message()).find("since_revision=1"),
            std::string::npos)
      << end;
}

TEST_F(WatchSessionTest, ShutdownEndsUnavailable) {
  auto session = Open(0);
  ASSERT_TRUE(session->Position().ok());
  EXPECT_FALSE(session->Interrupted().has_value());
  hub_.CloseAll();
  absl::Status end;
  Drain(session.get(), &end);
  EXPECT_EQ(end, WatchSession::ShuttingDown());
}

TEST_F(WatchSessionTest, UnsubscribedSessionIsNeverWoken) {
  auto session = Open(0);
  ASSERT_TRUE(session->Position().ok());
  session->Unsubscribe();
  EXPECT_EQ(hub_.watcher_count(), 0u);
  const int before = watcher_.wakes.load();
  Commit(1);
  EXPECT_EQ(watcher_.wakes.load(), before);
}

}  // namespace
}  // namespace users

// Group commit without gRPC: submissions share transactions, changes are
// published in revision order before they are acknowledged, replays are not
// published, and a stopped writer refuses.
#include "directory/group_commit.h"

#include <atomic>
#include <future>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "absl/synchronization/notification.h"
#include "storage/forwarding_user_store.h"
#include "storage/memory_user_store.h"

namespace users {
namespace {

Mutation NewUser(const std::string& name) {
  Mutation m;
  m.user.name = name;
  m.user.email = name + "@x.io";
  return m;
}

// Holds the first Apply until released, so that submissions made meanwhile
// are known to be queued behind it.
class HeldStore final : public ForwardingUserStore {
 public:
  explicit HeldStore(UserStore* target) : ForwardingUserStore(target) {}
  absl::Status Apply(std::span<const Mutation> mutations,
                     std::vector<absl::StatusOr<Change>>* results) override {
    if (!entered_.HasBeenNotified()) {
      entered_.Notify();
      release_.WaitForNotification();
    }
    return target()->Apply(mutations, results);
  }
  absl::Notification entered_, release_;
};

TEST(GroupCommitterTest, WhatQueuesDuringACommitSharesTheNextTransaction) {
  MemoryUserStore memory;
  HeldStore store(&memory);
  GroupCommitter writer(&store, nullptr, {});
  std::atomic<int> done{0};
  auto submit = [&](const std::string& name) {
    writer.Submit({NewUser(name)}, Deadline::max(),
                  [&](GroupCommitter::Results r) {
                    EXPECT_TRUE(r.size() == 1 && r[0].ok());
                    done.fetch_add(1);
                  });
  };
  submit("first");
  store.entered_.WaitForNotification();  // the writer is inside a commit
  for (int i = 0; i < 50; ++i) submit("queued" + std::to_string(i));
  store.release_.Notify();
  writer.Stop();  // commits what is queued, then returns
  EXPECT_EQ(done.load(), 51);
  const auto stats = writer.stats();
  EXPECT_EQ(stats.mutations, 51u);
  // One commit for the first, one for the 50 that waited behind it.
  EXPECT_EQ(stats.transactions, 2u);
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
    EXPECT_EQ(writer.stats().mutations, 1600u);
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

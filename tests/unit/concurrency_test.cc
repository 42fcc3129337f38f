// The write path wired as users-server wires it (server/server_core.cc), free
// of gRPC and driven from many threads at once: writers through the group
// committer, readers through the cache, watchers subscribing, resuming and
// unsubscribing while the change feed publishes, its tailer polls and the
// compactor trims the log. What it checks holds in any build; its purpose is
// `make test-tsan`, where ThreadSanitizer watches every one of these threads.
#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "directory/change_feed.h"
#include "directory/compactor.h"
#include "directory/directory.h"
#include "directory/group_commit.h"
#include "directory/watch_hub.h"
#include "storage/caching_user_store.h"
#include "storage/sqlite_user_store.h"
#include "tests/unit/watch_test_support.h"

namespace users {
namespace {

using std::chrono::milliseconds;

constexpr int kWriters = 4;
constexpr int kUsersPerWriter = 60;  // each created, updated twice, deleted
constexpr int kReaders = 2;
constexpr int kWatchers = 3;
constexpr int kEventsPerSession = 50;  // then the watcher resumes anew
constexpr int64_t kKeptEvents = 300;   // the compactor's retention
// Fails a stuck test instead of hanging it; never reached when it passes.
constexpr auto kPatience = std::chrono::seconds(120);

// A watch stream's thread, as the reactor is: woken by the hub under its lock,
// it only raises a flag.
class FlagWatcher : public Watcher {
 public:
  void Wake() override {
    absl::MutexLock lock(&mu_);
    woken_ = true;
  }
  // Waits until woken since the last call; false on timeout.
  bool WaitWoken(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    const bool woken = mu_.AwaitWithTimeout(absl::Condition(&woken_), timeout);
    woken_ = false;
    return woken;
  }

 private:
  absl::Mutex mu_;
  bool woken_ ABSL_GUARDED_BY(mu_) = false;
};

class ConcurrencyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("users-concurrency-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    auto sqlite = SqliteUserStore::Open((dir_ / "users.db").string());
    ASSERT_TRUE(sqlite.ok()) << sqlite.status();
    base_ = std::move(*sqlite);
    cache_ = std::make_unique<CachingUserStore>(base_.get(), 64);
    hub_ = std::make_unique<WatchHub>(0, 100000);
    Compactor::Options compactor_options;
    compactor_options.keep = kKeptEvents;
    compactor_options.interval = milliseconds(5);
    compactor_ = std::make_unique<Compactor>(cache_.get(), compactor_options);
    ChangeFeed::Options feed_options;
    feed_options.poll_interval = milliseconds(2);  // the tailer runs too
    feed_options.page = 16;
    feed_options.on_published = [this](const std::vector<Change>& changes) {
      cache_->Invalidate(changes);
      compactor_->Published(changes.back().revision);
    };
    feed_options.on_gap = [this] { cache_->InvalidateAll(); };
    feed_ =
        std::make_unique<ChangeFeed>(cache_.get(), hub_.get(), 0, feed_options);
    writer_ = std::make_unique<GroupCommitter>(cache_.get(), feed_.get(),
                                               GroupCommitter::Options{});
    directory_ = std::make_unique<Directory>(
        cache_.get(), writer_.get(), hub_.get(), Directory::Options{"key"});
  }

  void TearDown() override {
    directory_.reset();
    if (writer_) writer_->Stop();
    if (feed_) feed_->Stop();
    if (compactor_) compactor_->Stop();
    hub_.reset();
    writer_.reset();
    feed_.reset();
    compactor_.reset();
    cache_.reset();
    base_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Runs one write through the directory and waits for its answer.
  template <typename Request, typename Result>
  Result Call(void (Directory::*method)(const Request&, Deadline,
                                        std::function<void(Result)>),
              const Request& request) {
    absl::Notification done;
    Result result;
    (directory_.get()->*method)(
        request, std::chrono::system_clock::now() + kPatience, [&](Result r) {
          result = std::move(r);
          done.Notify();
        });
    done.WaitForNotification();
    return result;
  }

  // One writer's share: create, update twice (the version read back through
  // the cache must never be older than the last acknowledged one), delete.
  void Write(int writer) {
    for (int i = 0; i < kUsersPerWriter; ++i) {
      const std::string name =
          "w" + std::to_string(writer) + "u" + std::to_string(i);
      user::CreateUserRequest create;
      create.mutable_user()->set_name(name);
      create.mutable_user()->set_email(name + "@example.com");
      auto created = Call(&Directory::CreateUser, create);
      ASSERT_TRUE(created.ok()) << created.status();
      for (int v = 2; v <= 3; ++v) {
        user::UpdateUserRequest update;
        update.mutable_user()->set_id(created->id());
        update.mutable_user()->set_display_name("v" + std::to_string(v));
        update.mutable_update_mask()->add_paths("display_name");
        auto updated = Call(&Directory::UpdateUser, update);
        ASSERT_TRUE(updated.ok()) << updated.status();
        ASSERT_EQ(updated->version(), v);
        user::GetUserRequest get;
        get.set_id(created->id());
        user::User read;
        ASSERT_TRUE(directory_->GetUser(get, &read).ok());
        ASSERT_GE(read.version(), v) << "the cache served an older version";
      }
      if (i % 2 == 0) {
        user::DeleteUserRequest remove;
        remove.set_id(created->id());
        absl::Status deleted = Call(&Directory::DeleteUser, remove);
        ASSERT_TRUE(deleted.ok()) << deleted;
      }
    }
  }

  // Reads ids and pages while the writers run: only OK or NOT_FOUND.
  void Read(const std::atomic<bool>& writing) {
    int64_t id = 1;
    while (writing.load()) {
      user::GetUserRequest get;
      get.set_id(id);
      user::User out;
      absl::Status s = directory_->GetUser(get, &out);
      ASSERT_TRUE(s.ok() || absl::IsNotFound(s)) << s;
      id = id % (kWriters * kUsersPerWriter) + 1;
      user::ListUsersRequest list;
      list.set_page_size(20);
      user::ListUsersResponse page;
      ASSERT_TRUE(directory_->ListUsers(list, &page).ok());
    }
  }

  // Watches from `since`, resuming from the last revision it saw after every
  // kEventsPerSession events, until it has seen `until`. Every revision must
  // follow the one before it, across resumes, unless the resume point was
  // compacted away (OUT_OF_RANGE): then it restarts from the oldest kept.
  void Watch(int64_t until) {
    FlagWatcher watcher;
    int64_t last = 0;
    bool from_oldest = true;
    const auto deadline = std::chrono::steady_clock::now() + kPatience;
    while (last < until) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline)
          << "watcher stuck at revision " << last << " of " << until;
      auto session = directory_->NewWatchSession(&watcher);
      user::WatchUsersRequest request;
      request.set_since_revision(from_oldest ? 0 : last);
      request.set_from_oldest(from_oldest);
      ASSERT_TRUE(session->Subscribe(request).ok());
      absl::Status position = session->Position();
      if (absl::IsOutOfRange(position)) {
        from_oldest = true;
        continue;
      }
      ASSERT_TRUE(position.ok()) << position;
      const bool restarted = from_oldest;
      from_oldest = false;
      int sent = 0;
      user::UserEvent event;
      while (sent < kEventsPerSession && last < until) {
        bool more = false;
        absl::Status end;
        switch (session->Next(&event, &more, &end)) {
          case WatchSession::Step::kEvent:
            if (restarted && sent == 0) {
              ASSERT_GT(event.revision(), last);
            } else {
              ASSERT_EQ(event.revision(), last + 1) << "a gap or a duplicate";
            }
            last = event.revision();
            ++sent;
            break;
          case WatchSession::Step::kReadPage:
            session->AcceptPage(session->ReadPage(session->page_after()));
            break;
          case WatchSession::Step::kIdle:
            ASSERT_TRUE(watcher.WaitWoken(absl::Seconds(30)))
                << "no wake at revision " << last << " of " << until;
            break;
          case WatchSession::Step::kEnd:
            ASSERT_TRUE(absl::IsOutOfRange(end)) << end;
            from_oldest = true;
            sent = kEventsPerSession;  // resume anew
            break;
        }
      }
      session->Unsubscribe();
    }
  }

  std::filesystem::path dir_;
  std::unique_ptr<SqliteUserStore> base_;
  std::unique_ptr<CachingUserStore> cache_;
  std::unique_ptr<WatchHub> hub_;
  std::unique_ptr<Compactor> compactor_;
  std::unique_ptr<ChangeFeed> feed_;
  std::unique_ptr<GroupCommitter> writer_;
  std::unique_ptr<Directory> directory_;
};

TEST_F(ConcurrencyTest, WritersReadersWatchersAndTheCompactorTogether) {
  // Every user: a create, two updates, and for half of them a delete.
  constexpr int64_t kRevisions =
      kWriters * kUsersPerWriter * 3 + kWriters * kUsersPerWriter / 2;
  std::atomic<bool> writing{true};
  std::vector<std::thread> readers;
  for (int r = 0; r < kReaders; ++r) {
    readers.emplace_back([&] { Read(writing); });
  }
  std::vector<std::thread> watchers;
  for (int w = 0; w < kWatchers; ++w) {
    watchers.emplace_back([&] { Watch(kRevisions); });
  }
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] { Write(w); });
  }
  for (auto& t : writers) t.join();
  writing.store(false);
  for (auto& t : readers) t.join();
  for (auto& t : watchers) t.join();

  auto revisions = cache_->Revisions();
  ASSERT_TRUE(revisions.ok()) << revisions.status();
  EXPECT_EQ(revisions->latest, kRevisions);
  EXPECT_EQ(hub_->published(), kRevisions);
  EXPECT_EQ(feed_->published(), kRevisions);
  EXPECT_EQ(hub_->watcher_count(), 0u);
  // The compactor kept up: no more than its retention plus what arrived in
  // its last interval is still in the log.
  ASSERT_TRUE(Eventually(
      [&] {
        auto now = cache_->Revisions();
        return now.ok() &&
               now->latest - now->first_available + 1 <= kKeptEvents;
      },
      kPatience))
      << "the compactor never trimmed the log to " << kKeptEvents;
  const auto stats = writer_->stats();
  EXPECT_EQ(stats.failed_transactions, 0u);
  EXPECT_EQ(stats.mutations, static_cast<uint64_t>(kRevisions));
}

}  // namespace
}  // namespace users

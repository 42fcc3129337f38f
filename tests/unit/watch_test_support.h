// Shared by the watch hub, watch session and change feed tests.
#ifndef USERS_TESTS_UNIT_WATCH_TEST_SUPPORT_H_
#define USERS_TESTS_UNIT_WATCH_TEST_SUPPORT_H_

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "directory/watch_hub.h"
#include "storage/user_store.h"

namespace users {

// Polls `done` until it holds or `patience` has passed: the feed's tailer and
// the compactor are threads of their own.
template <typename Fn>
bool Eventually(Fn done,
                std::chrono::milliseconds patience = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + patience;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

class CountingWatcher : public Watcher {
 public:
  void Wake() override { wakes.fetch_add(1); }
  std::atomic<int> wakes{0};
};

// Commits `count` creates (user<n>, numbered from *next) to `store` in one
// transaction, as any writer of it would; returns the committed changes.
inline std::vector<Change> CommitCreates(UserStore& store, int count,
                                         int* next) {
  std::vector<Mutation> mutations(count);
  for (auto& m : mutations) {
    m.user.name = "user" + std::to_string((*next)++);
    m.user.email = m.user.name + "@example.com";
  }
  std::vector<absl::StatusOr<Change>> results;
  EXPECT_TRUE(store.Apply(mutations, &results).ok());
  std::vector<Change> changes;
  for (auto& r : results) {
    EXPECT_TRUE(r.ok()) << r.status();
    if (r.ok()) changes.push_back(*r);
  }
  return changes;
}

}  // namespace users

#endif  // USERS_TESTS_UNIT_WATCH_TEST_SUPPORT_H_

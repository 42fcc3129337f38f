// Proves that a `make test-tsan` pass means something: ThreadSanitizer must
// report an unguarded counter (`canary racy`) and must see absl::Mutex, the
// lock all our concurrent code holds, as a lock (`canary locked`: the same
// counter guarded, no report). Against Debian's uninstrumented Abseil the
// second would report a race; with TSan off, the first would report nothing.
#include <cstring>
#include <thread>

#include "absl/synchronization/mutex.h"

namespace {

constexpr int kIncrements = 100000;

int Racy() {
  int counter = 0;
  std::thread other([&] {
    for (int i = 0; i < kIncrements; ++i) ++counter;
  });
  for (int i = 0; i < kIncrements; ++i) ++counter;
  other.join();
  return counter > 0 ? 0 : 1;
}

int Locked() {
  absl::Mutex mu;
  int counter = 0;
  bool handed_over = false;
  std::thread other([&] {
    for (int i = 0; i < kIncrements; ++i) {
      absl::MutexLock lock(&mu);
      ++counter;
    }
    absl::MutexLock lock(&mu);
    handed_over = true;
  });
  for (int i = 0; i < kIncrements; ++i) {
    absl::MutexLock lock(&mu);
    ++counter;
  }
  {
    // A wait on a condition, as the group committer and the feed do.
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(&handed_over));
  }
  other.join();
  return counter == 2 * kIncrements ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::strcmp(argv[1], "racy") == 0) return Racy();
  if (argc == 2 && std::strcmp(argv[1], "locked") == 0) return Locked();
  return 2;
}

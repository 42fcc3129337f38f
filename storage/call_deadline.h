// The deadline of the call the current thread is serving, for a store that
// can stop a statement at it (PostgreSQL cancels it; an in-process store has
// nothing to cancel). The service sets it around the reads it runs inline on
// a gRPC thread; outside such a scope there is none. A thread-local, not a
// parameter of every UserStore method: only a backend that talks to a server
// uses it, and the interface stays what the other backends need.
#ifndef USERS_STORAGE_CALL_DEADLINE_H_
#define USERS_STORAGE_CALL_DEADLINE_H_

#include <chrono>
#include <optional>

namespace users {

class CallDeadline {
 public:
  using Clock = std::chrono::system_clock;

  // For the scope's lifetime; time_point::max() means none.
  explicit CallDeadline(Clock::time_point deadline) : previous_(current_) {
    current_ = deadline;
  }
  ~CallDeadline() { current_ = previous_; }
  CallDeadline(const CallDeadline&) = delete;
  CallDeadline& operator=(const CallDeadline&) = delete;

  static std::optional<Clock::time_point> Current() {
    if (current_ == Clock::time_point::max()) return std::nullopt;
    return current_;
  }

 private:
  static inline thread_local Clock::time_point current_ =
      Clock::time_point::max();
  const Clock::time_point previous_;
};

}  // namespace users

#endif  // USERS_STORAGE_CALL_DEADLINE_H_

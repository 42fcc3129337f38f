#include "directory/group_commit.h"

#include <exception>
#include <utility>

#include <spdlog/spdlog.h>

namespace users {

GroupCommitter::GroupCommitter(UserStore* store, ChangeListener* listener,
                               Options options)
    : store_(store), listener_(listener), options_(options) {
  writer_ = std::thread([this] { Run(); });
}

GroupCommitter::~GroupCommitter() { Stop(); }

void GroupCommitter::Submit(std::vector<Mutation> mutations, Deadline deadline,
                            Done done) {
  {
    absl::MutexLock lock(&mu_);
    if (!stopping_) {
      queue_.push_back({std::move(mutations), deadline, std::move(done)});
      return;
    }
  }
  Results results(mutations.size(),
                  absl::UnavailableError("the server is shutting down"));
  done(std::move(results));
}

void GroupCommitter::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (writer_.joinable()) writer_.join();
}

GroupCommitter::Stats GroupCommitter::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

void GroupCommitter::Run() {
  std::vector<Pending> batch;
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](GroupCommitter* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) {
            return !self->queue_.empty() || self->stopping_;
          },
          this));
      if (queue_.empty()) return;  // stopping, and everything is committed
      // Take whole submissions up to max_batch mutations (at least one).
      size_t taken = 0, count = 0;
      while (taken < queue_.size() &&
             (taken == 0 ||
              count + queue_[taken].mutations.size() <= options_.max_batch)) {
        count += queue_[taken].mutations.size();
        ++taken;
      }
      batch.assign(std::make_move_iterator(queue_.begin()),
                   std::make_move_iterator(queue_.begin() + taken));
      queue_.erase(queue_.begin(), queue_.begin() + taken);
    }
    CommitBatch(batch);
    batch.clear();
  }
}

void GroupCommitter::CommitBatch(std::vector<Pending>& batch) {
  // Calls whose deadline already passed are answered without touching the
  // store: their callers have given up.
  const auto now = std::chrono::system_clock::now();
  std::vector<Mutation> flat;
  std::vector<Pending*> live;
  for (auto& p : batch) {
    if (p.deadline <= now) {
      p.done(Results(p.mutations.size(),
                     absl::DeadlineExceededError(
                         "deadline passed before the write was committed")));
      continue;
    }
    live.push_back(&p);
    for (auto& m : p.mutations) flat.push_back(std::move(m));
  }
  if (flat.empty()) {
    for (Pending* p : live) p->done({});  // nothing to write, but answer
    return;
  }

  Results results;
  absl::Status status;
  try {
    status = store_->Apply(flat, &results);
  } catch (const std::exception& e) {
    // On the writer thread nothing else would catch it. A backend rolls
    // back a transaction it leaves by an exception, so nothing committed.
    spdlog::error("store write failed with an exception: {}", e.what());
    status = absl::InternalError("internal error; see the server log");
  }
  {
    absl::MutexLock lock(&mu_);
    ++stats_.transactions;
    stats_.mutations += flat.size();
    if (!status.ok()) ++stats_.failed_transactions;
  }
  // Publish before acknowledging: a caller that has its reply and then
  // starts a watch "from now on" must not receive its own write as new.
  if (listener_ != nullptr && status.ok()) {
    std::vector<Change> committed;
    committed.reserve(results.size());
    for (const auto& r : results) {
      if (r.ok() && !r->replayed) committed.push_back(*r);
    }
    if (!committed.empty()) listener_->OnCommitted(std::move(committed));
  }
  size_t offset = 0;
  for (Pending* p : live) {
    const size_t n = p->mutations.size();
    Results mine;
    mine.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      if (status.ok()) {
        mine.push_back(std::move(results[offset + i]));
      } else {
        mine.push_back(status);
      }
    }
    offset += n;
    p->done(std::move(mine));
  }
}

}  // namespace users

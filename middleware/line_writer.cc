#include "middleware/line_writer.h"

#include <unistd.h>

#include <cerrno>

#include "absl/time/time.h"

namespace users {
namespace {

std::atomic<uint64_t> next_writer_id{1};

}  // namespace

LineWriter::LineWriter(int fd, std::chrono::milliseconds interval,
                       size_t max_buffered)
    : fd_(fd),
      interval_(interval),
      max_buffered_(max_buffered),
      id_(next_writer_id.fetch_add(1)) {
  thread_ = std::thread([this] { Run(); });
}

LineWriter::~LineWriter() {
  stop_.Notify();
  thread_.join();
  Flush();
}

LineWriter::Shard& LineWriter::LocalShard() {
  // One entry per thread: the writer it belongs to, and its shard there.
  thread_local uint64_t cached_id = 0;
  thread_local Shard* cached = nullptr;
  if (cached_id == id_) return *cached;
  absl::MutexLock lock(&shards_mu_);
  shards_.push_back(std::make_unique<Shard>());
  cached = shards_.back().get();
  cached_id = id_;
  return *cached;
}

void LineWriter::Run() {
  while (!stop_.WaitForNotificationWithTimeout(absl::FromChrono(interval_))) {
    Flush();
  }
}

void LineWriter::Flush() {
  absl::MutexLock write_lock(&write_mu_);
  std::vector<Shard*> shards;
  {
    absl::MutexLock lock(&shards_mu_);
    for (auto& s : shards_) shards.push_back(s.get());
  }
  fmt::memory_buffer out;
  for (Shard* s : shards) {
    absl::MutexLock lock(&s->mu);
    if (s->buffer.size() == 0) continue;
    out.append(s->buffer.data(), s->buffer.data() + s->buffer.size());
    s->buffer.clear();
  }
  const char* p = out.data();
  size_t left = out.size();
  while (left > 0) {
    const ssize_t n = ::write(fd_, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // stderr gone: nothing better to do with log lines
    p += n;
    left -= static_cast<size_t>(n);
  }
}

}  // namespace users

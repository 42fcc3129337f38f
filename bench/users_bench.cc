// users-bench: closed-loop load against a Users server (ours or a baseline).
//
// Every connection is its own channel (own TCP connection); each keeps
// --inflight calls outstanding, issuing the next as soon as one completes.
// Only OK and correct replies count; latencies go into log-linear
// histograms, one per call slot so that no lock sits on the hot path.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "absl/synchronization/mutex.h"
#include "bench/histogram.h"
#include "client/commands.h"
#include "errors/errors.h"
#include "service_protos/user.grpc.pb.h"

namespace users::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string target = "127.0.0.1:50051";
  std::string method = "list-user";
  int connections = 4;
  int inflight = 32;
  double duration_s = 10;
  double warmup_s = 2;
  bool json = false;
  std::string token, tls_ca, tls_cert, tls_key;
  int seed_users = 1000;
  int64_t import_rows = 100000;
  int watchers = 1000;
};

struct Result {
  std::string method;
  double seconds = 0;
  uint64_t ok = 0;
  uint64_t wrong = 0;  // OK status but an incorrect reply
  std::map<std::string, uint64_t> errors;
  Histogram latency;  // nanoseconds
  std::map<std::string, double> extra;

  double rate() const { return seconds > 0 ? double(ok) / seconds : 0; }
};

std::string RandomName(std::mt19937_64& rng) {
  return fmt::format("b{:016x}", rng());
}

class Target {
 public:
  explicit Target(const Options& o) : options_(o) {
    auto credentials = client::MakeCredentials(o.tls_ca, o.tls_cert, o.tls_key);
    if (!credentials.ok()) {
      throw std::runtime_error(std::string(credentials.status().message()));
    }
    credentials_ = *std::move(credentials);
  }

  // A stub on a channel of its own: a separate TCP connection.
  std::unique_ptr<user::Users::Stub> NewStub() const {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt(GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, 64 << 20);
    return user::Users::NewStub(
        grpc::CreateCustomChannel(options_.target, credentials_, args));
  }

  void Prepare(grpc::ClientContext* ctx) const {
    if (!options_.token.empty()) {
      ctx->AddMetadata("authorization", "Bearer " + options_.token);
    }
  }

 private:
  const Options& options_;
  std::shared_ptr<grpc::ChannelCredentials> credentials_;
};

// ---- Unary closed loop ----

struct UnaryOutcome {
  grpc::Status status;
  bool correct;
};

// One kind of unary call: fills a request, starts it, checks the reply.
class UnaryCall {
 public:
  virtual ~UnaryCall() = default;
  // Starts the call on `stub`; `done` runs on a gRPC thread.
  virtual void Start(user::Users::Stub* stub, grpc::ClientContext* ctx,
                     std::mt19937_64& rng,
                     std::function<void(UnaryOutcome)> done) = 0;
};

template <typename Req, typename Resp, typename Fill, typename Check,
          typename Invoke>
class TypedCall final : public UnaryCall {
 public:
  TypedCall(Fill fill, Check check, Invoke invoke)
      : fill_(fill), check_(check), invoke_(invoke) {}
  void Start(user::Users::Stub* stub, grpc::ClientContext* ctx,
             std::mt19937_64& rng,
             std::function<void(UnaryOutcome)> done) override {
    auto req = std::make_shared<Req>();
    auto resp = std::make_shared<Resp>();
    fill_(*req, rng);
    invoke_(stub, ctx, req.get(), resp.get(),
            [this, req, resp, done = std::move(done)](grpc::Status s) {
              const bool correct = s.ok() && check_(*req, *resp);
              done({std::move(s), correct});
            });
  }

 private:
  Fill fill_;
  Check check_;
  Invoke invoke_;
};

template <typename Req, typename Resp, typename Fill, typename Check,
          typename Invoke>
std::unique_ptr<UnaryCall> MakeCall(Fill f, Check c, Invoke i) {
  return std::make_unique<TypedCall<Req, Resp, Fill, Check, Invoke>>(f, c, i);
}

Result RunUnary(const Options& o, const Target& target,
                const std::string& label,
                std::function<UnaryCall*(std::mt19937_64&)> pick) {
  struct Slot {
    user::Users::Stub* stub;
    std::unique_ptr<grpc::ClientContext> ctx;
    std::mt19937_64 rng;
    Histogram latency;
    uint64_t ok = 0, wrong = 0;
    std::map<int, uint64_t> errors;
    Clock::time_point started;
  };
  std::vector<std::unique_ptr<user::Users::Stub>> stubs;
  for (int c = 0; c < o.connections; ++c) stubs.push_back(target.NewStub());
  std::vector<std::unique_ptr<Slot>> slots;
  std::random_device seed;
  for (int c = 0; c < o.connections; ++c) {
    for (int i = 0; i < o.inflight; ++i) {
      auto s = std::make_unique<Slot>();
      s->stub = stubs[c].get();
      s->rng.seed(seed());
      slots.push_back(std::move(s));
    }
  }
  const auto start = Clock::now();
  const auto measure_from =
      start + std::chrono::duration_cast<Clock::duration>(
                  std::chrono::duration<double>(o.warmup_s));
  const auto end =
      measure_from + std::chrono::duration_cast<Clock::duration>(
                         std::chrono::duration<double>(o.duration_s));
  std::mutex mu;
  std::condition_variable cv;
  int active = static_cast<int>(slots.size());
  std::atomic<uint64_t> progress{0};

  std::function<void(Slot*)> issue = [&](Slot* s) {
    s->ctx = std::make_unique<grpc::ClientContext>();
    target.Prepare(s->ctx.get());
    s->ctx->set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(30));
    s->started = Clock::now();
    pick(s->rng)->Start(
        s->stub, s->ctx.get(), s->rng, [&, s](UnaryOutcome out) {
          const auto now = Clock::now();
          if (s->started >= measure_from && now <= end) {
            if (out.status.ok() && out.correct) {
              ++s->ok;
              s->latency.Record(
                  static_cast<uint64_t>((now - s->started).count()));
            } else if (out.status.ok()) {
              ++s->wrong;
            } else {
              ++s->errors[out.status.error_code()];
            }
          }
          progress.fetch_add(1, std::memory_order_relaxed);
          if (now < end) {
            issue(s);
          } else {
            std::lock_guard<std::mutex> lock(mu);
            if (--active == 0) cv.notify_all();
          }
        });
  };
  for (auto& s : slots) issue(s.get());

  const bool tty = isatty(STDERR_FILENO);
  {
    std::unique_lock<std::mutex> lock(mu);
    while (!cv.wait_for(lock, std::chrono::seconds(1),
                        [&] { return active == 0; })) {
      if (tty) {
        const double t =
            std::chrono::duration<double>(Clock::now() - start).count();
        std::fprintf(stderr, "\r%s: %.0fs, %llu calls", label.c_str(), t,
                     static_cast<unsigned long long>(progress.load()));
      }
    }
  }
  if (tty) std::fprintf(stderr, "\n");
  Result r;
  r.method = label;
  r.seconds = o.duration_s;
  for (auto& s : slots) {
    r.ok += s->ok;
    r.wrong += s->wrong;
    r.latency.Merge(s->latency);
    for (auto [code, n] : s->errors) {
      r.errors[std::string(
          StatusCodeName(static_cast<absl::StatusCode>(code)))] += n;
    }
  }
  return r;
}

// ---- Set-up helpers ----

// Creates `n` users through ImportUsers and returns their ids.
std::vector<int64_t> SeedUsers(const Target& target, int n,
                               std::mt19937_64& rng) {
  auto stub = target.NewStub();
  std::vector<int64_t> ids;
  {
    grpc::ClientContext ctx;
    target.Prepare(&ctx);
    user::ImportUsersResponse resp;
    auto writer = stub->ImportUsers(&ctx, &resp);
    user::ImportUsersRequest req;
    for (int i = 0; i < n; ++i) {
      const std::string name = RandomName(rng);
      req.mutable_user()->set_name(name);
      req.mutable_user()->set_email(name + "@bench.example");
      writer->Write(req, grpc::WriteOptions().set_buffer_hint());
    }
    writer->WritesDone();
    grpc::Status s = writer->Finish();
    if (!s.ok()) {
      throw std::runtime_error("seeding users failed: " + s.error_message());
    }
  }
  std::string token;
  do {
    grpc::ClientContext ctx;
    target.Prepare(&ctx);
    user::ListUsersRequest req;
    req.set_page_size(1000);
    req.set_page_token(token);
    user::ListUsersResponse resp;
    grpc::Status s = stub->ListUsers(&ctx, req, &resp);
    if (!s.ok())
      throw std::runtime_error("listing users failed: " + s.error_message());
    for (const auto& u : resp.users()) ids.push_back(u.id());
    token = resp.next_page_token();
  } while (!token.empty() && ids.size() < 100000);
  if (ids.empty()) throw std::runtime_error("no users to read");
  return ids;
}

auto ListUserCall() {
  return MakeCall<user::UserRequest, user::UserResponse>(
      [](user::UserRequest& r, std::mt19937_64& rng) {
        r.set_id(static_cast<int32_t>(1 + rng() % 1000));
        r.set_name("twtrubiks");
      },
      [](const user::UserRequest& q, const user::UserResponse& r) {
        return r.details_size() == 1 && r.details(0).id() == q.id() &&
               r.details(0).value() == q.name();
      },
      [](user::Users::Stub* s, grpc::ClientContext* c,
         const user::UserRequest* q, user::UserResponse* r,
         std::function<void(grpc::Status)> f) {
        s->async()->ListUser(c, q, r, std::move(f));
      });
}

auto GetUserCall(std::shared_ptr<std::vector<int64_t>> ids) {
  return MakeCall<user::GetUserRequest, user::User>(
      [ids](user::GetUserRequest& r, std::mt19937_64& rng) {
        r.set_id((*ids)[rng() % ids->size()]);
      },
      [](const user::GetUserRequest& q, const user::User& r) {
        return r.id() == q.id();
      },
      [](user::Users::Stub* s, grpc::ClientContext* c,
         const user::GetUserRequest* q, user::User* r,
         std::function<void(grpc::Status)> f) {
        s->async()->GetUser(c, q, r, std::move(f));
      });
}

auto CreateUserCall() {
  return MakeCall<user::CreateUserRequest, user::User>(
      [](user::CreateUserRequest& r, std::mt19937_64& rng) {
        const std::string name = RandomName(rng);
        r.mutable_user()->set_name(name);
        r.mutable_user()->set_email(name + "@bench.example");
      },
      [](const user::CreateUserRequest& q, const user::User& r) {
        return r.id() > 0 && r.name() == q.user().name();
      },
      [](user::Users::Stub* s, grpc::ClientContext* c,
         const user::CreateUserRequest* q, user::User* r,
         std::function<void(grpc::Status)> f) {
        s->async()->CreateUser(c, q, r, std::move(f));
      });
}

auto ListUsersCall() {
  return MakeCall<user::ListUsersRequest, user::ListUsersResponse>(
      [](user::ListUsersRequest& r, std::mt19937_64&) { r.set_page_size(10); },
      [](const user::ListUsersRequest&, const user::ListUsersResponse& r) {
        return r.users_size() > 0;
      },
      [](user::Users::Stub* s, grpc::ClientContext* c,
         const user::ListUsersRequest* q, user::ListUsersResponse* r,
         std::function<void(grpc::Status)> f) {
        s->async()->ListUsers(c, q, r, std::move(f));
      });
}

// ---- Streams ----

// Each connection streams --import-rows users; the rate is users committed/s.
Result RunImport(const Options& o, const Target& target) {
  Result r;
  r.method = "import";
  std::vector<std::thread> threads;
  std::mutex mu;
  const auto start = Clock::now();
  for (int c = 0; c < o.connections; ++c) {
    threads.emplace_back([&, c] {
      std::mt19937_64 rng(std::random_device{}() + c);
      auto stub = target.NewStub();
      grpc::ClientContext ctx;
      target.Prepare(&ctx);
      user::ImportUsersResponse resp;
      auto writer = stub->ImportUsers(&ctx, &resp);
      user::ImportUsersRequest req;
      for (int64_t i = 0; i < o.import_rows; ++i) {
        const std::string name = RandomName(rng);
        req.mutable_user()->set_name(name);
        req.mutable_user()->set_email(name + "@bench.example");
        if (!writer->Write(req, grpc::WriteOptions().set_buffer_hint())) break;
      }
      writer->WritesDone();
      grpc::Status s = writer->Finish();
      std::lock_guard<std::mutex> lock(mu);
      if (s.ok()) {
        r.ok += static_cast<uint64_t>(resp.created());
        if (resp.failed() > 0)
          r.errors["ROW_FAILED"] += static_cast<uint64_t>(resp.failed());
      } else {
        ++r.errors[std::string(
            StatusCodeName(static_cast<absl::StatusCode>(s.error_code())))];
      }
    });
  }
  for (auto& t : threads) t.join();
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return r;
}

// One bidi stream per connection, --inflight lookups outstanding on each.
Result RunLookupStream(const Options& o, const Target& target) {
  auto ids =
      SeedUsers(target, o.seed_users, *std::make_unique<std::mt19937_64>(42));
  Result r;
  r.method = "lookup-stream";
  std::mutex mu;
  std::vector<std::thread> threads;
  const auto warm = std::chrono::duration<double>(o.warmup_s);
  const auto total = std::chrono::duration<double>(o.warmup_s + o.duration_s);
  for (int c = 0; c < o.connections; ++c) {
    threads.emplace_back([&, c] {
      std::mt19937_64 rng(std::random_device{}() + c);
      auto stub = target.NewStub();
      grpc::ClientContext ctx;
      target.Prepare(&ctx);
      // A server that stops answering without ending the stream must not
      // hang the run: the reader gives up at this deadline.
      ctx.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::duration_cast<std::chrono::seconds>(
                           total + std::chrono::seconds(30)));
      auto stream = stub->LookupUsers(&ctx);
      const auto start = Clock::now();
      const auto measure_from =
          start + std::chrono::duration_cast<Clock::duration>(warm);
      const auto end =
          start + std::chrono::duration_cast<Clock::duration>(total);
      std::mutex window_mu;
      std::condition_variable window_cv;
      std::deque<std::pair<int64_t, Clock::time_point>> sent;
      bool reading_done = false;  // the stream ended or broke
      std::thread writer([&] {
        user::GetUserRequest req;
        while (Clock::now() < end) {
          bool more_follow;
          {
            std::unique_lock<std::mutex> lock(window_mu);
            window_cv.wait(lock, [&] {
              return reading_done || static_cast<int>(sent.size()) < o.inflight;
            });
            if (reading_done) break;
            req.set_id(ids[rng() % ids.size()]);
            sent.emplace_back(req.id(), Clock::now());
            more_follow = static_cast<int>(sent.size()) < o.inflight;
          }
          // While the window has room another write follows at once, so let
          // gRPC coalesce (buffer_hint); the write that fills it flushes.
          grpc::WriteOptions options;
          if (more_follow) options.set_buffer_hint();
          if (!stream->Write(req, options)) break;
        }
        stream->WritesDone();
      });
      Histogram latency;
      uint64_t ok = 0, wrong = 0;
      user::LookupUsersResponse resp;
      while (stream->Read(&resp)) {
        std::pair<int64_t, Clock::time_point> front;
        {
          std::lock_guard<std::mutex> lock(window_mu);
          if (sent.empty()) {  // an answer to nothing we asked
            ++wrong;
            break;
          }
          front = sent.front();
          sent.pop_front();
        }
        window_cv.notify_one();
        const auto now = Clock::now();
        if (front.second >= measure_from && now <= end) {
          if (resp.id() == front.first && resp.code() == 0 &&
              resp.user().id() == front.first) {
            ++ok;
            latency.Record(static_cast<uint64_t>((now - front.second).count()));
          } else {
            ++wrong;
          }
        }
      }
      {
        std::lock_guard<std::mutex> lock(window_mu);
        reading_done = true;
      }
      window_cv.notify_one();
      // Stopped on a stray answer, the stream is still open: cancel it, or
      // the writer could block in Write until the deadline.
      if (wrong > 0) ctx.TryCancel();
      writer.join();
      grpc::Status s = stream->Finish();
      std::lock_guard<std::mutex> lock(mu);
      r.ok += ok;
      r.wrong += wrong;
      r.latency.Merge(latency);
      if (!s.ok()) {
        ++r.errors[std::string(
            StatusCodeName(static_cast<absl::StatusCode>(s.error_code())))];
      }
    });
  }
  for (auto& t : threads) t.join();
  r.seconds = o.duration_s;
  return r;
}

// --watchers streams watch while CreateUser runs at --inflight per
// connection; reports events delivered per second and the delay from commit
// (the event's update_time) to delivery.
Result RunWatchFanout(const Options& o, const Target& target) {
  class Watcher final : public grpc::ClientReadReactor<user::UserEvent> {
   public:
    Watcher(user::Users::Stub* stub, const Target& target,
            std::atomic<int>* ready)
        : ready_(ready) {
      target.Prepare(&ctx_);
      stub->async()->WatchUsers(&ctx_, &req_, this);
      StartCall();
      StartRead(&event_);
    }
    void OnReadInitialMetadataDone(bool ok) override {
      if (ok) ready_->fetch_add(1);
    }
    void OnReadDone(bool ok) override {
      if (!ok) return;
      const auto now_us =
          std::chrono::duration_cast<std::chrono::microseconds>(
              std::chrono::system_clock::now().time_since_epoch())
              .count();
      const int64_t commit_us =
          event_.user().update_time().seconds() * 1000000 +
          event_.user().update_time().nanos() / 1000;
      if (measuring_.load(std::memory_order_relaxed)) {
        absl::MutexLock lock(&mu_);
        delay_.Record(
            static_cast<uint64_t>(std::max<int64_t>(0, now_us - commit_us)) *
            1000);
        ++events_;
      }
      StartRead(&event_);
    }
    void OnDone(const grpc::Status& status) override {
      absl::MutexLock lock(&mu_);
      code_ = status.error_code();
      done_ = true;
    }
    void Stop() { ctx_.TryCancel(); }
    // How the stream ended: CANCELLED when Stop ended it.
    grpc::StatusCode WaitDone() {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(&done_));
      return code_;
    }
    void Measure(bool on) { measuring_.store(on); }
    uint64_t events() {
      absl::MutexLock lock(&mu_);
      return events_;
    }
    absl::Mutex mu_;
    Histogram delay_;
    uint64_t events_ = 0;
    grpc::StatusCode code_ = grpc::StatusCode::OK;

   private:
    grpc::ClientContext ctx_;
    user::WatchUsersRequest req_;
    user::UserEvent event_;
    std::atomic<int>* ready_;
    std::atomic<bool> measuring_{false};
    bool done_ = false;
  };

  std::vector<std::unique_ptr<user::Users::Stub>> stubs;
  for (int c = 0; c < o.connections; ++c) stubs.push_back(target.NewStub());
  std::atomic<int> ready{0};
  std::vector<std::unique_ptr<Watcher>> watchers;
  for (int i = 0; i < o.watchers; ++i) {
    watchers.push_back(std::make_unique<Watcher>(stubs[i % stubs.size()].get(),
                                                 target, &ready));
  }
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (ready.load() < o.watchers && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (auto& w : watchers) w->Measure(true);
  auto create = CreateUserCall();
  Options writers = o;
  writers.warmup_s = 0;
  Result writes = RunUnary(writers, target, "watch-fanout writes",
                           [&](std::mt19937_64&) { return create.get(); });
  // Let delivery catch up: every watcher must get at least one event per
  // counted write (a few more may come from writes still in flight at the
  // end, or failed on our side after committing), checked per watcher so
  // that one's surplus cannot hide another's loss. Then stop.
  const uint64_t expected = writes.ok * static_cast<uint64_t>(o.watchers);
  auto behind = [&] {
    for (auto& w : watchers) {
      if (w->events() < writes.ok) return true;
    }
    return false;
  };
  const auto catch_up = Clock::now() + std::chrono::seconds(10);
  while (behind() && Clock::now() < catch_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  Result r;
  r.method = "watch-fanout";
  r.seconds = o.duration_s;
  r.errors = writes.errors;
  for (auto& w : watchers) {
    w->Measure(false);
    w->Stop();
  }
  for (auto& w : watchers) {
    // A watcher the server ended (cut off, refused) is an error; the
    // events it missed show as wrong below.
    if (const auto code = w->WaitDone();
        code != grpc::StatusCode::OK && code != grpc::StatusCode::CANCELLED) {
      ++r.errors[std::string(
          StatusCodeName(static_cast<absl::StatusCode>(code)))];
    }
    absl::MutexLock lock(&w->mu_);
    r.latency.Merge(w->delay_);
    r.ok += w->events_;
    // Events this watcher never got.
    if (w->events_ < writes.ok) r.wrong += writes.ok - w->events_;
  }
  r.extra["watchers_ready"] = ready.load();
  r.extra["writes_per_s"] = writes.rate();
  r.extra["expected_events"] = double(expected);
  return r;
}

// Opens --watchers idle watch streams (watch-idle) or --connections
// connections with one finished call each (connect-idle), prints a JSON line
// {"ready": n} once all are open, and holds them for --duration seconds: the
// caller samples the server's memory meanwhile.
Result RunIdle(const Options& o, const Target& target) {
  std::vector<std::unique_ptr<user::Users::Stub>> stubs;
  for (int c = 0; c < o.connections; ++c) stubs.push_back(target.NewStub());
  Result r;
  r.method = o.method;
  if (o.method == "connect-idle") {
    for (auto& stub : stubs) {
      grpc::ClientContext ctx;
      target.Prepare(&ctx);
      user::UserRequest req;
      req.set_id(1);
      user::UserResponse resp;
      if (stub->ListUser(&ctx, req, &resp).ok()) ++r.ok;
    }
  } else {
    std::atomic<int> ready{0};
    class Idle final : public grpc::ClientReadReactor<user::UserEvent> {
     public:
      Idle(user::Users::Stub* stub, const Target& target,
           std::atomic<int>* ready)
          : ready_(ready) {
        target.Prepare(&ctx_);
        stub->async()->WatchUsers(&ctx_, &req_, this);
        StartCall();
      }
      void OnReadInitialMetadataDone(bool ok) override {
        if (ok) ready_->fetch_add(1);
      }
      void OnDone(const grpc::Status&) override {
        absl::MutexLock lock(&mu_);
        done_ = true;
      }
      void Stop() { ctx_.TryCancel(); }
      // The reactor must outlive OnDone.
      void WaitDone() {
        absl::MutexLock lock(&mu_);
        mu_.Await(absl::Condition(&done_));
      }

     private:
      grpc::ClientContext ctx_;
      user::WatchUsersRequest req_;
      std::atomic<int>* ready_;
      absl::Mutex mu_;
      bool done_ = false;
    };
    std::vector<std::unique_ptr<Idle>> idle;
    for (int i = 0; i < o.watchers; ++i) {
      idle.push_back(std::make_unique<Idle>(stubs[i % stubs.size()].get(),
                                            target, &ready));
    }
    const auto deadline = Clock::now() + std::chrono::seconds(120);
    while (ready.load() < o.watchers && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    r.ok = static_cast<uint64_t>(ready.load());
    std::cout << nlohmann::json({{"ready", r.ok}}).dump() << std::endl;
    std::this_thread::sleep_for(std::chrono::duration<double>(o.duration_s));
    for (auto& w : idle) w->Stop();
    for (auto& w : idle) w->WaitDone();
    idle.clear();
    r.seconds = o.duration_s;
    return r;
  }
  std::cout << nlohmann::json({{"ready", r.ok}}).dump() << std::endl;
  std::this_thread::sleep_for(std::chrono::duration<double>(o.duration_s));
  r.seconds = o.duration_s;
  return r;
}

void Print(const Result& r, const Options& o) {
  if (o.json) {
    nlohmann::json j;
    j["method"] = r.method;
    j["target"] = o.target;
    j["connections"] = o.connections;
    j["inflight"] = o.inflight;
    j["seconds"] = r.seconds;
    j["ok"] = r.ok;
    j["wrong"] = r.wrong;
    j["rate"] = r.rate();
    j["errors"] = r.errors;
    auto us = [](uint64_t ns) { return double(ns) / 1000.0; };
    j["latency_us"] = {{"p50", us(r.latency.Percentile(0.50))},
                       {"p90", us(r.latency.Percentile(0.90))},
                       {"p99", us(r.latency.Percentile(0.99))},
                       {"p999", us(r.latency.Percentile(0.999))},
                       {"max", us(r.latency.max())},
                       {"mean", r.latency.mean() / 1000.0}};
    for (const auto& [k, v] : r.extra) j[k] = v;
    std::cout << j.dump() << std::endl;
    return;
  }
  std::cout << fmt::format("{}: {:.0f}/s ({} ok in {:.1f}s, {} wrong)\n",
                           r.method, r.rate(), r.ok, r.seconds, r.wrong);
  std::cout << fmt::format(
      "  latency us: p50 {:.1f}  p90 {:.1f}  p99 {:.1f}  p99.9 {:.1f}  max "
      "{:.1f}\n",
      r.latency.Percentile(0.5) / 1e3, r.latency.Percentile(0.9) / 1e3,
      r.latency.Percentile(0.99) / 1e3, r.latency.Percentile(0.999) / 1e3,
      r.latency.max() / 1e3);
  for (const auto& [code, n] : r.errors)
    std::cout << "  errors " << code << ": " << n << "\n";
  for (const auto& [k, v] : r.extra)
    std::cout << "  " << k << ": " << v << "\n";
}

}  // namespace
}  // namespace users::bench

int main(int argc, char** argv) {
  using namespace users::bench;
  Options o;
  CLI::App app{"users-bench: closed-loop load against a Users gRPC server"};
  app.option_defaults()->always_capture_default();
  app.add_option("--target", o.target, "host:port");
  app.add_option("--method", o.method)
      ->check(CLI::IsMember({"list-user", "get-user", "create-user", "mixed",
                             "import", "lookup-stream", "watch-fanout",
                             "watch-idle", "connect-idle"}));
  app.add_option("--connections", o.connections,
                 "Distinct channels (TCP connections)")
      ->check(CLI::Range(1, 1024));
  app.add_option("--inflight", o.inflight, "Calls in flight per connection")
      ->check(CLI::Range(1, 100000));
  app.add_option("--duration", o.duration_s, "Measured seconds")
      ->check(CLI::PositiveNumber);
  app.add_option("--warmup", o.warmup_s, "Unmeasured seconds first")
      ->check(CLI::NonNegativeNumber);
  app.add_flag("--json", o.json,
               "One JSON object on stdout, last (watch-idle and connect-idle "
               "first print {\"ready\": n} once their streams are open)");
  app.add_option("--token", o.token, "Bearer token")->envname("USERS_TOKEN");
  app.add_option("--tls-ca", o.tls_ca, "CA (PEM) for TLS");
  app.add_option("--tls-cert", o.tls_cert, "Client certificate (PEM) for mTLS");
  app.add_option("--tls-key", o.tls_key, "Client key (PEM) for mTLS");
  app.add_option("--seed-users", o.seed_users,
                 "get-user/mixed/lookup: users to create first");
  app.add_option("--import-rows", o.import_rows,
                 "import: users per connection");
  app.add_option("--watchers", o.watchers, "watch-fanout: watch streams");
  CLI11_PARSE(app, argc, argv);
  if (!std::isfinite(o.duration_s) || !std::isfinite(o.warmup_s)) {
    return app.exit(CLI::ValidationError("--duration/--warmup",
                                         "must be a number of seconds"));
  }
  // Each unary call slot keeps its own histogram (no lock on the hot path),
  // ~30 KB; cap the slots so a typo cannot allocate gigabytes.
  constexpr int64_t kMaxSlots = 16384;
  const bool unary = o.method == "list-user" || o.method == "get-user" ||
                     o.method == "create-user" || o.method == "mixed" ||
                     o.method == "watch-fanout";
  if (unary && int64_t{o.connections} * o.inflight > kMaxSlots) {
    std::cerr << "users-bench: --connections x --inflight is at most "
              << kMaxSlots << " for " << o.method << "\n";
    return 2;
  }

  try {
    Target target(o);
    std::mt19937_64 rng(std::random_device{}());
    Result r;
    if (o.method == "list-user") {
      auto call = ListUserCall();
      r = RunUnary(o, target, o.method,
                   [&](std::mt19937_64&) { return call.get(); });
    } else if (o.method == "get-user") {
      auto ids = std::make_shared<std::vector<int64_t>>(
          SeedUsers(target, o.seed_users, rng));
      auto call = GetUserCall(ids);
      r = RunUnary(o, target, o.method,
                   [&](std::mt19937_64&) { return call.get(); });
    } else if (o.method == "create-user") {
      auto call = CreateUserCall();
      r = RunUnary(o, target, o.method,
                   [&](std::mt19937_64&) { return call.get(); });
    } else if (o.method == "mixed") {
      auto ids = std::make_shared<std::vector<int64_t>>(
          SeedUsers(target, o.seed_users, rng));
      auto get = GetUserCall(ids);
      auto list = ListUsersCall();
      auto create = CreateUserCall();
      // 80% GetUser, 10% ListUsers, 10% CreateUser.
      r = RunUnary(o, target, o.method, [&](std::mt19937_64& g) -> UnaryCall* {
        const auto x = g() % 10;
        return x < 8 ? get.get() : x == 8 ? list.get() : create.get();
      });
    } else if (o.method == "import") {
      r = RunImport(o, target);
    } else if (o.method == "lookup-stream") {
      r = RunLookupStream(o, target);
    } else if (o.method == "watch-fanout") {
      r = RunWatchFanout(o, target);
    } else {
      r = RunIdle(o, target);
    }
    Print(r, o);
    return r.ok > 0 && r.wrong == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "users-bench: " << e.what() << "\n";
    return 2;
  }
}

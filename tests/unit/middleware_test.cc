#include <unistd.h>

#include <cstdio>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "middleware/access_log.h"
#include "middleware/admission.h"
#include "middleware/auth.h"
#include "middleware/call_scope.h"
#include "middleware/error_boundary.h"
#include "middleware/line_writer.h"
#include "middleware/metrics.h"
#include "middleware/request_id.h"

namespace users {
namespace {

TEST(RequestIdTest, AcceptsSafeIds) {
  EXPECT_TRUE(IsAcceptableRequestId("abc-123_x.y:z"));
  EXPECT_TRUE(IsAcceptableRequestId(std::string(128, 'a')));
}

TEST(RequestIdTest, RejectsUnsafeIds) {
  EXPECT_FALSE(IsAcceptableRequestId(""));
  EXPECT_FALSE(IsAcceptableRequestId(std::string(129, 'a')));
  EXPECT_FALSE(IsAcceptableRequestId("a b"));
  EXPECT_FALSE(IsAcceptableRequestId("a\"b"));
  EXPECT_FALSE(IsAcceptableRequestId("a\nb"));
}

TEST(RequestIdTest, NewIdsAreDistinctAndAcceptable) {
  const std::string a = NewRequestId();
  const std::string b = NewRequestId();
  EXPECT_EQ(a.size(), static_cast<size_t>(kNewRequestIdLength));
  EXPECT_NE(a, b);
  EXPECT_TRUE(IsAcceptableRequestId(a));
  // Inline in std::string: no allocation to make, keep or echo it.
  EXPECT_LE(a.size(), std::string().capacity());
}

TEST(AccessLineTest, TextHasMethodPeerCodeDurationAndId) {
  CallRecord r;
  r.method = "/user.Users/ListUser";
  r.peer = "ipv4:127.0.0.1:5000";
  r.request_id = "rid";
  r.code = absl::StatusCode::kNotFound;
  r.duration = std::chrono::microseconds(1500);
  fmt::memory_buffer out;
  FormatAccessLine(r, LogFormat::kText,
                   std::chrono::system_clock::time_point(
                       std::chrono::microseconds(1764033711152336)),
                   out);
  EXPECT_EQ(fmt::to_string(out),
            "2025-11-25T01:21:51.152336Z access /user.Users/ListUser "
            "peer=ipv4:127.0.0.1:5000 code=NOT_FOUND duration_ms=1.500 "
            "request_id=rid");
}

TEST(AccessLineTest, JsonHasTheSameFields) {
  CallRecord r;
  r.method = "/user.Users/GetUser";
  r.peer = "ipv6:[::1]:1";
  r.request_id = "x";
  r.duration = std::chrono::milliseconds(2);
  fmt::memory_buffer out;
  FormatAccessLine(r, LogFormat::kJson, std::chrono::system_clock::now(), out);
  const std::string line = fmt::to_string(out);
  EXPECT_NE(line.find(R"("method":"/user.Users/GetUser")"), std::string::npos)
      << line;
  EXPECT_NE(line.find(R"("peer":"ipv6:[::1]:1")"), std::string::npos) << line;
  EXPECT_NE(line.find(R"("code":"OK")"), std::string::npos) << line;
  EXPECT_NE(line.find(R"("duration_ms":2.000)"), std::string::npos) << line;
  r.duration = std::chrono::nanoseconds(12345678);  // rounds to 12.346
  out.clear();
  FormatAccessLine(r, LogFormat::kJson, std::chrono::system_clock::now(), out);
  EXPECT_NE(fmt::to_string(out).find(R"("duration_ms":12.346,)"),
            std::string::npos)
      << fmt::to_string(out);
  EXPECT_EQ(line.front(), '{');
  EXPECT_EQ(line.back(), '}');
}

TEST(AccessLineTest, ExactJsonLineWithPaddedFractions) {
  CallRecord r;
  r.method = "/user.Users/GetUser";
  r.peer = "ipv6:[::1]:1";
  r.request_id = "abc";
  r.code = absl::StatusCode::kOk;
  r.duration = std::chrono::microseconds(12007);  // 12.007 ms
  fmt::memory_buffer out;
  FormatAccessLine(r, LogFormat::kJson,
                   std::chrono::system_clock::time_point(
                       std::chrono::microseconds(1764033711000042)),
                   out);
  EXPECT_EQ(fmt::to_string(out),
            R"({"time":"2025-11-25T01:21:51.000042Z","level":"info",)"
            R"("log":"access","method":"/user.Users/GetUser",)"
            R"("peer":"ipv6:[::1]:1","code":"OK","duration_ms":12.007,)"
            R"("request_id":"abc"})");
  r.duration = std::chrono::nanoseconds(400);  // rounds to 0.000
  out.clear();
  FormatAccessLine(r, LogFormat::kText,
                   std::chrono::system_clock::time_point(
                       std::chrono::microseconds(1764033711000000)),
                   out);
  EXPECT_EQ(fmt::to_string(out),
            "2025-11-25T01:21:51.000000Z access /user.Users/GetUser "
            "peer=ipv6:[::1]:1 code=OK duration_ms=0.000 request_id=abc");
}

TEST(LineWriterTest, WritesEveryLineFromManyThreadsWhole) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  std::string got;
  std::thread reader([&] {
    char buf[4096];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof(buf))) > 0) got.append(buf, n);
  });
  {
    LineWriter writer(fds[1], std::chrono::milliseconds(5));
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 1000; ++i) {
          writer.Append([&](fmt::memory_buffer& out) {
            fmt::format_to(std::back_inserter(out), "t{}-{}", t, i);
          });
        }
      });
    }
    for (auto& th : threads) th.join();
  }  // the destructor writes the rest
  close(fds[1]);
  reader.join();
  close(fds[0]);
  std::vector<int> next(4, 0);
  size_t lines = 0;
  for (size_t start = 0; start < got.size();) {
    const size_t end = got.find('\n', start);
    ASSERT_NE(end, std::string::npos);
    const std::string line = got.substr(start, end - start);
    int t = -1, i = -1;
    ASSERT_EQ(std::sscanf(line.c_str(), "t%d-%d", &t, &i), 2) << line;
    EXPECT_EQ(i, next[t]++) << "lines of one thread stay in order";
    ++lines;
    start = end + 1;
  }
  EXPECT_EQ(lines, 4000u);
}

// Counters are sharded by thread; a scrape must still see every call once,
// and calls that start on one thread and end on another (writes finish on
// the writer thread) must leave nothing in flight.
TEST(MetricsTest, ShardedCountsAddUpAcrossThreads) {
  Metrics metrics({"/user.Users/GetUser"});
  constexpr int kThreads = 12, kCalls = 1000;
  // Calls start on one set of threads and end on another.
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&metrics] {
      for (int i = 0; i < kCalls; ++i)
        metrics.OnCallStart("/user.Users/GetUser");
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(metrics.inflight(), kThreads * kCalls);
  threads.clear();
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&metrics, t] {
      for (int i = 0; i < kCalls; ++i) {
        CallRecord r;
        r.method = t % 2 ? "/user.Users/GetUser" : "/not.Known/Method";
        r.code = i % 4 ? absl::StatusCode::kOk : absl::StatusCode::kNotFound;
        r.duration = std::chrono::microseconds(300);
        metrics.OnCallEnd(r);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(metrics.inflight(), 0);
  const std::string text = metrics.Render();
  auto value = [&](const std::string& series) {
    const std::string key = "\n" + series + " ";
    const size_t at = text.find(key);
    return at == std::string::npos ? -1.0
                                   : std::stod(text.substr(at + key.size()));
  };

  const double half = kThreads / 2 * kCalls;
  EXPECT_EQ(
      value(
          R"(users_requests_total{service="user.Users",method="GetUser",code="OK"})"),
      half * 3 / 4);
  EXPECT_EQ(
      value(
          R"(users_requests_total{service="user.Users",method="GetUser",code="NOT_FOUND"})"),
      half / 4);
  EXPECT_EQ(
      value(
          R"(users_request_duration_seconds_count{service="user.Users",method="GetUser"})"),
      half);
  EXPECT_EQ(
      value(
          R"(users_request_duration_seconds_bucket{service="user.Users",method="GetUser",le="0.00025"})"),
      0);
  EXPECT_EQ(
      value(
          R"(users_request_duration_seconds_bucket{service="user.Users",method="GetUser",le="0.0005"})"),
      half);
  EXPECT_EQ(
      value(
          R"(users_request_duration_seconds_count{service="",method="other"})"),
      half);
  EXPECT_EQ(value("users_inflight_requests"), 0);
}

// Admission and the boundary are the transport-free parts of every call:
// any front end (grpc++ today) asks them and only maps the status.
TEST(AdmissionTest, TheInflightLimitComesBeforeAuth) {
  Metrics metrics({"/user.Users/GetUser"});
  auto auth = TokenAuthenticator::Parse("r-token reader\nw-token writer\n");
  ASSERT_TRUE(auth.ok());
  Admission admission({&*auth, &metrics, /*max_inflight=*/2});
  metrics.OnCallStart("/user.Users/GetUser");  // the call being admitted
  EXPECT_TRUE(admission.Admit("Bearer r-token", Access::kRead).ok());
  EXPECT_EQ(admission.Admit("Bearer r-token", Access::kWrite).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(admission.Admit("", Access::kRead).code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(admission.Admit("Bearer w-token", Access::kWrite).ok());
  metrics.OnCallStart("/user.Users/GetUser");
  metrics.OnCallStart("/user.Users/GetUser");  // 3 in flight, limit 2
  const absl::Status over = admission.Admit("", Access::kRead);
  EXPECT_EQ(over.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(over.message().find("limit of 2"), std::string_view::npos);
}

TEST(TokenAuthenticatorTest, TheSchemeIsCaseInsensitiveTheTokenIsNot) {
  auto auth = TokenAuthenticator::Parse("r-token reader\n");
  ASSERT_TRUE(auth.ok());
  for (const char* value :
       {"Bearer r-token", "bearer r-token", "BEARER r-token", "bEaReR r-token"}) {
    EXPECT_TRUE(auth->Authorize(value, Access::kRead).ok()) << value;
  }
  for (const char* value : {"Bearer R-TOKEN", "Bearer r-token ", "Basic r-token",
                            "Bearerr-token", "bearer", "Bearer "}) {
    EXPECT_EQ(auth->Authorize(value, Access::kRead).code(),
              absl::StatusCode::kUnauthenticated)
        << value;
  }
}

TEST(AdmissionTest, WithNeitherLimitNorAuthEveryCallIsAdmitted) {
  Admission admission({});
  EXPECT_TRUE(admission.Admit("", Access::kWrite).ok());
  EXPECT_TRUE(admission.Admit("Bearer anything", Access::kRead).ok());
}

TEST(ErrorBoundaryAbslTest, ExceptionsBecomeStatusesWithoutTheirText) {
  ErrorBoundary boundary;
  EXPECT_EQ(boundary.Run("M", [] { throw NotFound("no 7"); }),
            absl::NotFoundError("no 7"));
  const absl::Status unknown =
      boundary.Run("M", [] { throw std::runtime_error("secret"); });
  EXPECT_EQ(unknown.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(unknown.message().find("secret"), std::string_view::npos);
  EXPECT_EQ(boundary.Run("M", [] { return absl::AbortedError("v"); }),
            absl::AbortedError("v"));
}

class RecordingObserver : public CallObserver {
 public:
  void OnCallStart(std::string_view method) override {
    started.emplace_back(method);
  }
  void OnCallEnd(const CallRecord& r) override {
    ended.push_back({std::string(r.method), std::string(r.peer),
                     std::string(r.request_id), r.code});
  }
  struct Ended {
    std::string method, peer, request_id;
    absl::StatusCode code;
  };
  std::vector<std::string> started;
  std::vector<Ended> ended;
};

TEST(CallScopeTest, RecordsTheCallOnceWithTheCallersOrANewRequestId) {
  RecordingObserver observer;
  CallObserver* observers[] = {&observer};
  {
    CallScope scope(observers, "/user.Users/GetUser", "ipv4:127.0.0.1:5",
                    "trace-42");
    EXPECT_EQ(scope.request_id(), "trace-42");
    EXPECT_EQ(observer.started,
              std::vector<std::string>{"/user.Users/GetUser"});
    scope.End(absl::StatusCode::kNotFound);
    scope.End(absl::StatusCode::kOk);  // only the first end counts
  }
  ASSERT_EQ(observer.ended.size(), 1u);
  EXPECT_EQ(observer.ended[0].method, "/user.Users/GetUser");
  EXPECT_EQ(observer.ended[0].peer, "ipv4:127.0.0.1:5");
  EXPECT_EQ(observer.ended[0].request_id, "trace-42");
  EXPECT_EQ(observer.ended[0].code, absl::StatusCode::kNotFound);

  CallScope unsafe(observers, "/user.Users/GetUser", "", "bad id\n");
  EXPECT_NE(unsafe.request_id(), "bad id\n");
  EXPECT_TRUE(IsAcceptableRequestId(unsafe.request_id()));
  CallScope none(observers, "/user.Users/GetUser", "", "");
  EXPECT_TRUE(IsAcceptableRequestId(none.request_id()));
  EXPECT_NE(none.request_id(), unsafe.request_id());
}

}  // namespace
}  // namespace users

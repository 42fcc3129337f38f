#include <unistd.h>

#include <cstdio>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "middleware/access_log.h"
#include "middleware/line_writer.h"
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
  EXPECT_EQ(a.size(), 16u);
  EXPECT_NE(a, b);
  EXPECT_TRUE(IsAcceptableRequestId(a));
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
  EXPECT_EQ(line.front(), '{');
  EXPECT_EQ(line.back(), '}');
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

}  // namespace
}  // namespace users

#include "client/stream_commands.h"

#include "client/text_output.h"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "client/import_reader.h"
#include "errors/errors.h"

namespace users::client {
namespace {

// The server's initial metadata on a watch "from now": the revision it
// starts after (service/stream_reactors.h, docs/api.md).
constexpr char kWatchStartRevisionHeader[] = "x-watch-start-revision";

// The non-blank lines of `in`, read on a thread of their own. std::istream has
// no way to interrupt a getline, and a lookup stream that fails (an error, the
// deadline) must not then wait for the next line of an input that stays open
// (`tail -f ids | users-client lookup`). Stop() lets the consumer go at
// once; the reading thread is left blocked on `in` and ends with the process.
// Once Next() has returned false for the input's end, it touches `in` no more.
class LineFeed {
 public:
  explicit LineFeed(std::istream& in) : state_(std::make_shared<State>()) {
    std::thread([state = state_, &in] {
      std::string line;
      while (std::getline(in, line)) {
        // Skipped here, not by the consumer, so that Buffered() never
        // promises a line that will not be sent (an id corked behind a
        // blank line would wait for the next id).
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        std::unique_lock lock(state->mu);
        // Bounded, so that a large file is not read ahead of a slow stream.
        state->changed.wait(lock, [&] {
          return state->stopped || state->lines.size() < kMaxBuffered;
        });
        if (state->stopped) return;
        state->lines.push_back(std::move(line));
        state->changed.notify_all();
      }
      std::lock_guard lock(state->mu);
      state->ended = true;
      state->changed.notify_all();
    }).detach();
  }
  LineFeed(const LineFeed&) = delete;
  LineFeed& operator=(const LineFeed&) = delete;
  ~LineFeed() { Stop(); }

  // Whether lines are waiting to be taken by Next() right now.
  bool Buffered() {
    std::lock_guard lock(state_->mu);
    return !state_->lines.empty();
  }

  // The next non-blank line; false at the end of the input or after Stop().
  bool Next(std::string* line) {
    std::unique_lock lock(state_->mu);
    state_->changed.wait(lock, [&] {
      return state_->stopped || state_->ended || !state_->lines.empty();
    });
    if (state_->stopped || state_->lines.empty()) return false;
    *line = std::move(state_->lines.front());
    state_->lines.pop_front();
    state_->changed.notify_all();
    return true;
  }

  void Stop() {
    std::lock_guard lock(state_->mu);
    state_->stopped = true;
    state_->changed.notify_all();
  }

 private:
  static constexpr size_t kMaxBuffered = 1024;
  struct State {
    std::mutex mu;
    std::condition_variable changed;
    std::deque<std::string> lines;
    bool ended = false;
    bool stopped = false;
  };
  // Shared with the reading thread, which may outlive this object.
  std::shared_ptr<State> state_;
};

}  // namespace

int WatchUsers(user::Users::StubInterface& stub,
               const user::WatchUsersRequest& request,
               std::chrono::milliseconds resume_for, const CallOptions& options,
               std::ostream& out, std::ostream& err) {
  CallOptions no_deadline = options;
  no_deadline.timeout = std::chrono::milliseconds(0);
  user::WatchUsersRequest next = request;
  auto backoff = std::chrono::milliseconds(100);
  auto failing_since = std::chrono::steady_clock::now();
  bool connected = false;
  for (;;) {
    auto context = MakeContext(no_deadline);
    auto reader = stub.WatchUsers(context.get(), next);
    reader->WaitForInitialMetadata();
    const auto& headers = context->GetServerInitialMetadata();
    if (auto it = headers.find(kWatchStartRevisionHeader);
        it != headers.end() && next.since_revision() == 0 &&
        !next.from_oldest()) {
      // Subscribed "from now": a resume must start right after this.
      int64_t start = 0;
      if (absl::SimpleAtoi(
              absl::string_view(it->second.data(), it->second.size()),
              &start)) {
        next.set_since_revision(start);
      }
    }
    const bool taken = !headers.empty();  // a server took the stream
    if (taken) {
      connected = true;
      backoff = std::chrono::milliseconds(100);
    }
    user::UserEvent event;
    while (reader->Read(&event)) {
      if (options.json) {
        PrintMessage(event, /*json=*/true, out);
      } else {
        PrintEvent(event, out);
      }
      out.flush();
      next.set_since_revision(event.revision());
      next.set_from_oldest(false);
    }
    grpc::Status status = reader->Finish();
    if (status.ok()) return 0;
    // The time without a server counts from the end of the last stream a
    // server took, however long that stream lasted.
    if (taken) failing_since = std::chrono::steady_clock::now();
    // Only a stream that a server once took is resumed: a first attempt
    // that fails (a wrong address, nothing listening) is reported at once.
    // CANCELLED counts: this client never cancels its watch, so it is a
    // server's (grpc-core cancels a stream that reaches a server as it
    // shuts down).
    const bool resumable =
        connected && (status.error_code() == grpc::UNAVAILABLE ||
                      status.error_code() == grpc::UNKNOWN ||
                      status.error_code() == grpc::CANCELLED);
    if (!resumable || resume_for.count() == 0 ||
        std::chrono::steady_clock::now() - failing_since > resume_for) {
      return PrintError(status, options, err);
    }
    err << "watch: "
        << StatusCodeName(static_cast<absl::StatusCode>(status.error_code()))
        << ": " << status.error_message() << "; resuming after revision "
        << next.since_revision() << "\n"
        << std::flush;
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
  }
}

int ImportUsers(user::Users::StubInterface& stub, std::istream& in,
                bool progress, const CallOptions& options, std::ostream& out,
                std::ostream& err) {
  CallOptions no_deadline = options;
  no_deadline.timeout =
      std::chrono::milliseconds(0);  // imports take their time
  auto context = MakeContext(no_deadline);
  user::ImportUsersResponse response;
  auto writer = stub.ImportUsers(context.get(), &response);
  ImportReader reader(in);
  user::ImportUsersRequest request;
  int64_t sent = 0;
  auto last_draw = std::chrono::steady_clock::now();
  absl::Status read_error;
  for (;;) {
    auto next = reader.Next();
    if (!next.ok()) {
      read_error = next.status();
      break;
    }
    if (!next->has_value()) break;
    *request.mutable_user() = std::move(**next);
    // buffer_hint lets gRPC coalesce many small messages into one send:
    // about 6x the rate of plain writes (docs/performance.md, "Measured
    // before the code").
    if (!writer->Write(request, grpc::WriteOptions().set_buffer_hint())) break;
    ++sent;
    if (progress && (sent & 1023) == 0) {
      auto now = std::chrono::steady_clock::now();
      if (now - last_draw > std::chrono::milliseconds(200)) {
        err << "\rimporting: " << sent << " users sent" << std::flush;
        last_draw = now;
      }
    }
  }
  // Also on a bad input line: end the stream cleanly so that every row sent
  // before it is committed (a cancel would drop the client's buffered rows).
  writer->WritesDone();
  grpc::Status status = writer->Finish();
  if (progress) err << "\rimporting: " << sent << " users sent\n";
  if (!status.ok()) {
    return PrintError(status, options, err);
  }
  if (response.created() + response.failed() != sent) {
    // Every user sent is either created or failed: a server that answers
    // for fewer stopped reading early (older users-server did on a row it
    // could not parse), and the rest were silently dropped.
    PrintMessage(response, options.json, out);
    err << "DATA_LOSS: the server answered for "
        << response.created() + response.failed() << " of the " << sent
        << " users sent; the rest were not imported\n";
    return 1;
  }
  if (!read_error.ok()) {
    PrintMessage(response, options.json, out);
    err << "INVALID_ARGUMENT: " << read_error.message()
        << " (import stopped there; the rows before it were committed)\n";
    return 1;
  }
  PrintMessage(response, options.json, out);
  return response.failed() == 0 ? 0 : 1;
}

int LookupUsers(user::Users::StubInterface& stub,
                const std::vector<int64_t>& ids, std::istream& in,
                const CallOptions& options, std::ostream& out,
                std::ostream& err) {
  auto context = MakeContext(options);
  auto stream = stub.LookupUsers(context.get());
  bool input_ok = true;
  std::string bad_line;
  std::unique_ptr<LineFeed> lines;
  if (ids.empty()) lines = std::make_unique<LineFeed>(in);
  std::thread writer([&] {
    user::GetUserRequest request;
    // Corked only while more ids are at hand to follow at once: an id typed
    // or tailed in is sent (and answered) without waiting for the next.
    auto send = [&](int64_t id, bool more_follow) {
      request.set_id(id);
      grpc::WriteOptions write_options;
      if (more_follow) write_options.set_buffer_hint();
      return stream->Write(request, write_options);
    };
    if (!ids.empty()) {
      for (size_t i = 0; i < ids.size(); ++i) {
        if (!send(ids[i], i + 1 < ids.size())) break;
      }
    } else {
      std::string line;
      while (lines->Next(&line)) {
        try {
          size_t used = 0;
          int64_t id = std::stoll(line, &used);
          if (line.find_first_not_of(" \t\r", used) != std::string::npos) {
            throw std::invalid_argument(line);
          }
          if (!send(id, lines->Buffered())) break;
        } catch (const std::exception&) {
          input_ok = false;
          bad_line = line;
          break;
        }
      }
    }
    stream->WritesDone();
  });
  user::LookupUsersResponse response;
  bool all_found = true;
  while (stream->Read(&response)) {
    if (response.code() != 0) all_found = false;
    if (options.json) {
      PrintMessage(response, /*json=*/true, out);
    } else {
      PrintLookup(response, out);
    }
    // Ids arriving a few at a time (a terminal, a pipe) see each answer as
    // it comes; a file of ids is printed in blocks.
    if (lines && !lines->Buffered()) out.flush();
  }
  // The stream is over. On success the input had ended already; on a
  // failure the writer must not wait for more of it.
  if (lines) lines->Stop();
  writer.join();
  grpc::Status status = stream->Finish();
  if (!input_ok) {
    err << "INVALID_ARGUMENT: not an id: " << bad_line << "\n";
    return 1;
  }
  if (!status.ok()) {
    return PrintError(status, options, err);
  }
  return all_found ? 0 : 1;
}

}  // namespace users::client

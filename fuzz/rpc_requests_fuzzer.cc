// Any bytes as the request messages of every RPC, sent to a whole
// users-server (SQLite in memory) started inside the fuzzer and called over
// loopback with grpc++'s generic stub, so that each byte goes through the
// same transport, pipeline and handlers as a client's. Every call must end
// with a status the service documents for a request (the same list as
// tests/e2e/test_directory.py's seeded junk): never UNKNOWN or INTERNAL (an
// exception that escaped a handler), UNAVAILABLE (the server gone), a hang,
// or UNIMPLEMENTED but from the two typed reads; and every import row and
// every lookup must be answered.
#include <grpcpp/alarm.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "server/config.h"
#include "server/users_server.h"
#include "service/raw_messages.h"
#include "service_protos/user.pb.h"

namespace {

struct Method {
  std::string_view path;
  bool streams_requests;  // ImportUsers, LookupUsers
  bool streams_answers;   // WatchUsers: the client ends it (kWatchFor)
  bool typed;             // GetUser, ListUser: not registered raw
};

// How long a watch is read once its headers (sent when it is subscribed)
// have come, before the client cancels it. A watch that neither sends its
// headers nor ends within the call's deadline is then a hang the fuzzer
// reports; when the deadline was how every watch ended, it passed unseen.
constexpr auto kWatchFor = std::chrono::milliseconds(2);

constexpr std::string_view kImport = "/user.Users/ImportUsers";
constexpr std::string_view kLookup = "/user.Users/LookupUsers";

constexpr Method kMethods[] = {
    {"/user.Users/ListUser", false, false, true},
    {"/user.Users/CreateUser", false, false, false},
    {"/user.Users/GetUser", false, false, true},
    {"/user.Users/UpdateUser", false, false, false},
    {"/user.Users/DeleteUser", false, false, false},
    {"/user.Users/ListUsers", false, false, false},
    {"/user.Users/WatchUsers", false, true, false},
    {kImport, true, false, false},
    {kLookup, true, false, false},
};

struct Fixture {
  std::unique_ptr<users::UsersServer> server;
  std::unique_ptr<grpc::GenericStub> stub;
  grpc::CompletionQueue queue;
};

Fixture* fixture = nullptr;

// One step of the call: the completion queue's next event must be ours.
bool Step(void* tag) {
  void* got = nullptr;
  bool ok = false;
  if (!fixture->queue.Next(&got, &ok) || got != tag) std::abort();
  return ok;
}

// The next event, which must be one of the two tags.
void* StepEither(void* a, void* b, bool* ok) {
  void* got = nullptr;
  if (!fixture->queue.Next(&got, ok) || (got != a && got != b)) std::abort();
  return got;
}

[[noreturn]] void Fail(const Method& method, std::string_view what) {
  std::fprintf(stderr, "%.*s: %.*s\n", static_cast<int>(method.path.size()),
               method.path.data(), static_cast<int>(what.size()), what.data());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  users::ServerConfig config;
  config.host = "127.0.0.1";
  config.port = 0;
  config.db = ":memory:";
  fixture = new Fixture;
  fixture->server = std::make_unique<users::UsersServer>(config, -1);
  if (auto s = fixture->server->Start(); !s.ok()) {
    std::fprintf(stderr, "cannot start: %s\n", s.ToString().c_str());
    std::abort();
  }
  fixture->stub = std::make_unique<grpc::GenericStub>(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(fixture->server->port()),
      grpc::InsecureChannelCredentials()));
  // Stopped before the statics grpc++ uses are destroyed, so that the
  // process exits cleanly (and leak checking runs) when the time is up.
  std::atexit([] {
    fixture->stub.reset();
    fixture->server->Shutdown(std::chrono::milliseconds(0));
    fixture->server->Wait();
    fixture->queue.Shutdown();
    void* tag = nullptr;
    bool ok = false;
    while (fixture->queue.Next(&tag, &ok)) {
    }
    delete fixture;
  });
  return 0;
}

// An input is the method's index (one byte), then its request messages: for
// ImportUsers and LookupUsers, each but the last after a two-byte length.
// A unary method is sent exactly one message, as any client does.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const Method& method = kMethods[data[0] % std::size(kMethods)];
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  std::vector<std::string> messages;
  while (method.streams_requests && rest.size() >= 2 && messages.size() < 8) {
    const size_t length = std::min<size_t>(
        rest.size() - 2,
        static_cast<uint8_t>(rest[0]) | static_cast<uint8_t>(rest[1]) << 8);
    messages.emplace_back(rest.substr(2, length));
    rest.remove_prefix(2 + length);
  }
  messages.emplace_back(rest);

  grpc::ClientContext context;
  // Any call still open after this is a hang: the fuzzer aborts on it.
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(10));
  auto call = fixture->stub->PrepareCall(&context, std::string(method.path),
                                         &fixture->queue);
  call->StartCall(call.get());
  size_t answers = 0;
  bool cancelled = false;
  if (Step(call.get())) {
    for (const std::string& bytes : messages) {
      grpc::Slice slice(bytes);
      grpc::ByteBuffer buffer(&slice, 1);
      call->Write(buffer, &buffer);
      if (!Step(&buffer)) break;
    }
    call->WritesDone(&context);
    Step(&context);
    grpc::ByteBuffer answer;
    if (method.streams_answers) {
      // Headers come once the server has parsed and subscribed the request
      // (or with its refusal); the replay is read until the alarm, then
      // the watch is cancelled as a client that is done would.
      call->ReadInitialMetadata(&context);
      Step(&context);
      grpc::Alarm alarm;
      alarm.Set(&fixture->queue, std::chrono::system_clock::now() + kWatchFor,
                &alarm);
      bool ok = false;
      for (;; ++answers) {
        call->Read(&answer, &answer);
        if (StepEither(&answer, &alarm, &ok) == &alarm) {
          cancelled = true;
          context.TryCancel();
          Step(&answer);
          break;
        }
        if (!ok) break;
      }
      if (!cancelled) {
        alarm.Cancel();
        Step(&alarm);
      }
    } else {
      for (; answers < 1000; ++answers) {
        call->Read(&answer, &answer);
        if (!Step(&answer)) break;
        if (method.path == kImport) {
          user::ImportUsersResponse reply;
          if (!users::ParseByteBuffer(answer, &reply)) {
            Fail(method, "no reply");
          }
          if (reply.created() + reply.failed() !=
              static_cast<int64_t>(messages.size())) {
            Fail(method, "rows unaccounted for");
          }
        }
      }
    }
  }
  grpc::Status status;
  call->Finish(&status, &status);
  Step(&status);

  switch (status.error_code()) {
    case grpc::StatusCode::OK:
      // LookupUsers answers every request message, even one it cannot read.
      if (method.path == kLookup && answers != messages.size()) {
        Fail(method, "a lookup went unanswered");
      }
      return 0;
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::NOT_FOUND:
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::ABORTED:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::OUT_OF_RANGE:
      return 0;
    case grpc::StatusCode::UNIMPLEMENTED:
      // The two hot reads are typed: grpc++ parses their requests itself.
      if (method.typed) return 0;
      break;
    case grpc::StatusCode::CANCELLED:
      if (cancelled) return 0;
      break;
    default:
      break;
  }
  Fail(method, status.error_message());
}

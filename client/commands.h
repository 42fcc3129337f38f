// The client's commands as functions of a stub and two streams, so they are
// tested against the generated mock stub without a server.
#ifndef USERS_CLIENT_COMMANDS_H_
#define USERS_CLIENT_COMMANDS_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>

#include <grpcpp/client_context.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/status.h>

#include "absl/status/statusor.h"

#include "grpc/health/v1/health.grpc.pb.h"
#include "service_protos/user.grpc.pb.h"

namespace users::client {

struct CallOptions {
  std::chrono::milliseconds timeout{10000};  // the call's deadline; 0 = none
  bool json = false;                         // protobuf JSON instead of text
  std::string token;                         // bearer token, if any
  std::string request_id;                    // x-request-id, if any
  // The request_id field of create, update and delete (AIP-155), which lets
  // the channel retry them safely; main sets a fresh NewUuid() per run.
  std::string idempotency_key;
  // For error messages: where and how the call went, and whether to show
  // grpc's own detail beside our explanation.
  std::string target;
  bool tls = false;
  bool client_certificate = false;
  bool verbose = false;
};

// Exit statuses, the same for every command (docs/cli.md).
inline constexpr int kExitOk = 0;
inline constexpr int kExitCallFailed = 1;    // the server answered an error
inline constexpr int kExitUsage = 2;         // bad command, option or input
inline constexpr int kExitNoConnection = 3;  // the server was never reached
inline constexpr int kExitNotServing = 4;    // health: not SERVING

// Channel credentials: insecure when all three are empty, otherwise TLS
// verifying the server with `tls_ca` (the system roots if empty), presenting
// `tls_cert`/`tls_key` for mutual TLS when given. INVALID_ARGUMENT for a
// certificate without its key (or the reverse) or a file that cannot be read.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeCredentials(
    const std::string& tls_ca, const std::string& tls_cert,
    const std::string& tls_key);

// A random (version 4) UUID in its 36-character text form.
std::string NewUuid();

// A fresh context carrying the deadline and metadata of `options`.
std::unique_ptr<grpc::ClientContext> MakeContext(const CallOptions& options);

// Prints `message` as protobuf text format or JSON (one object, newline).
void PrintMessage(const google::protobuf::Message& message, bool json,
                  std::ostream& out);

// Prints "<CODE_NAME>: <message>" and any field violations on `err`; for a
// cause the caller can fix (connection, TLS, token), our explanation and a
// hint instead of grpc's message, which --verbose adds. Returns the exit
// status: kExitNoConnection or kExitCallFailed.
int PrintError(const grpc::Status& status, const CallOptions& options,
               std::ostream& err);

// The tutorial's call: ListUser and "client received: <text>". Returns the
// process exit code.
int ListUser(user::Users::StubInterface& stub, int32_t id,
             const std::string& name, const CallOptions& options,
             std::ostream& out, std::ostream& err);

// Prints `response` on success (text or JSON) or the error; returns the exit
// code. Shared by every unary command.
int Report(const grpc::Status& status,
           const google::protobuf::Message& response,
           const CallOptions& options, std::ostream& out, std::ostream& err);

struct UserFields {
  std::optional<std::string> name, email, display_name;
};

int CreateUser(user::Users::StubInterface& stub, const UserFields& fields,
               const CallOptions& options, std::ostream& out,
               std::ostream& err);
int GetUser(user::Users::StubInterface& stub, int64_t id,
            const CallOptions& options, std::ostream& out, std::ostream& err);
// Sends only the given fields, with an update_mask naming them.
int UpdateUser(user::Users::StubInterface& stub, int64_t id,
               const UserFields& fields, int64_t if_version,
               const CallOptions& options, std::ostream& out,
               std::ostream& err);
int DeleteUser(user::Users::StubInterface& stub, int64_t id, int64_t if_version,
               const CallOptions& options, std::ostream& out,
               std::ostream& err);
// With `all`, follows next_page_token to the end and prints one merged
// response.
int ListUsers(user::Users::StubInterface& stub, const std::string& prefix,
              int32_t page_size, const std::string& page_token, bool all,
              const CallOptions& options, std::ostream& out, std::ostream& err);

// grpc.health.v1: prints SERVING, NOT_SERVING, ... for `service` ("" is the
// whole server); kExitOk only when SERVING, kExitNotServing otherwise. With
// `watch`, prints every change until the stream ends (or the deadline, if
// any), and exits with the status of the last one printed.
int Health(grpc::health::v1::Health::StubInterface& stub,
           const std::string& service, bool watch, const CallOptions& options,
           std::ostream& out, std::ostream& err);

}  // namespace users::client

#endif  // USERS_CLIENT_COMMANDS_H_

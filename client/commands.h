// The client's commands as functions of a stub and two streams, so they are
// tested against the generated mock stub without a server.
#ifndef USERS_CLIENT_COMMANDS_H_
#define USERS_CLIENT_COMMANDS_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include <grpcpp/client_context.h>
#include <grpcpp/support/status.h>

#include "service_protos/user.grpc.pb.h"

namespace users::client {

struct CallOptions {
  std::chrono::milliseconds timeout{10000};  // the call's deadline; 0 = none
  bool json = false;                         // protobuf JSON instead of text
  std::string token;                         // bearer token, if any
  std::string request_id;                    // x-request-id, if any
};

// A fresh context carrying the deadline and metadata of `options`.
std::unique_ptr<grpc::ClientContext> MakeContext(const CallOptions& options);

// Prints `message` as protobuf text format or JSON (one object, newline).
void PrintMessage(const google::protobuf::Message& message, bool json,
                  std::ostream& out);

// Prints "<CODE_NAME>: <message>" and any field violations on `err`.
void PrintError(const grpc::Status& status, std::ostream& err);

// The tutorial's call: ListUser and "client received: <text>". Returns the
// process exit code.
int ListUser(user::Users::StubInterface& stub, int32_t id,
             const std::string& name, const CallOptions& options,
             std::ostream& out, std::ostream& err);

}  // namespace users::client

#endif  // USERS_CLIENT_COMMANDS_H_

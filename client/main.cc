// users-client: the tutorial's client, grown into a CLI for every RPC.
// With no arguments it calls ListUser(id=2, name="twtrubiks") on
// localhost:50051 and prints the reply, as the tutorial's client.py does.
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include "client/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"users-client: call the Users gRPC service"};
  app.option_defaults()->always_capture_default();
  std::string target = "localhost:50051";
  int32_t id = 2;
  std::string name = "twtrubiks";
  double timeout_s = 10;
  users::client::CallOptions options;
  app.add_option("--target", target, "Server address host:port")
      ->envname("USERS_TARGET");
  app.add_option("--id", id, "ListUser: the id to send");
  app.add_option("--name", name, "ListUser: the name to send");
  app.add_option("--timeout", timeout_s, "Deadline of each call, in seconds (0: none)")
      ->check(CLI::NonNegativeNumber);
  app.add_flag("--json", options.json, "Print protobuf's JSON mapping");
  app.add_option("--request-id", options.request_id, "x-request-id to send");
  CLI11_PARSE(app, argc, argv);
  options.timeout = std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000));

  auto channel = grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
  auto stub = user::Users::NewStub(channel);
  return users::client::ListUser(*stub, id, name, options, std::cout, std::cerr);
}

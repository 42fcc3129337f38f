// users-client: the tutorial's client, grown into a CLI for every RPC.
// With no subcommand it calls ListUser(id=2, name="twtrubiks") on
// localhost:50051 and prints the reply, as the tutorial's client.py does.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>
#include <CLI/CLI.hpp>

#include <unistd.h>
#include <fstream>
#include <sstream>

#include <grpc/support/log.h>

#include "client/commands.h"
#include "client/service_config.h"
#include "client/stream_commands.h"
#include "client/usage.h"
#include "version/version.h"

namespace {

bool verbose_grpc_logs = false;

// grpc core logs its own errors (a failed TLS handshake, say) to stderr;
// users-client explains the failure itself, so core's lines show only with
// --verbose.
void LogFromGrpc(gpr_log_func_args* args) {
  if (!verbose_grpc_logs) return;
  std::fprintf(stderr, "grpc: %s:%d] %s\n", args->file, args->line,
               args->message);
}

// Adds --name/--email/--display-name, remembering which were given.
void AddUserFields(CLI::App* cmd, users::client::UserFields* fields) {
  cmd->add_option_function<std::string>(
      "--name", [fields](const std::string& v) { fields->name = v; },
      "User name (handle)");
  cmd->add_option_function<std::string>(
      "--email", [fields](const std::string& v) { fields->email = v; },
      "Email address");
  cmd->add_option_function<std::string>(
      "--display-name",
      [fields](const std::string& v) { fields->display_name = v; },
      "Display name");
}

}  // namespace

int main(int argc, char** argv) {
  gpr_set_log_function(&LogFromGrpc);
  CLI::App app{
      "users-client: call the Users gRPC service.\n"
      "Without a subcommand: the tutorial's ListUser call.\n"
      "Exit status: 0 ok; 1 the call failed; 2 usage error; 3 the server "
      "could not be reached; 4 health: not SERVING.",
      "users-client"};
  app.option_defaults()->always_capture_default();
  app.set_version_flag("--version", users::VersionLine("users-client"),
                       "Print the version and exit");
  std::string target = "localhost:50051";
  int32_t id = 2;
  std::string name = "twtrubiks";
  double timeout_s = 10;
  users::client::CallOptions options;
  app.add_option("--target", target,
                 "Server address host:port; several servers: "
                 "ipv4:HOST:PORT,HOST:PORT or a DNS name with several "
                 "records (calls are spread round robin)")
      ->envname("USERS_TARGET");
  app.add_option("--id", id, "ListUser: the id to send");
  app.add_option("--name", name, "ListUser: the name to send");
  app.add_option("--timeout", timeout_s,
                 "Deadline of each call, in seconds (0: none)")
      ->check(CLI::NonNegativeNumber);
  app.add_flag("--json", options.json, "Print protobuf's JSON mapping");
  app.add_flag("--verbose", options.verbose,
               "On a failure, also print grpc's own detail");
  app.add_option("--request-id", options.request_id, "x-request-id to send");
  app.add_option("--idempotency-key", options.idempotency_key,
                 "create/update/delete: the request_id the write carries "
                 "(a UUID; default: a fresh one), so that a retry of it is "
                 "never applied twice; give the same one to retry by hand");
  app.add_option("--token", options.token,
                 "Bearer token sent as 'authorization'")
      ->envname("USERS_TOKEN");
  std::string tls_ca, tls_cert, tls_key;
  app.add_option("--tls-ca", tls_ca,
                 "CA bundle (PEM) to verify the server; enables TLS")
      ->envname("USERS_TLS_CA")
      ->check(CLI::ExistingFile);
  app.add_option("--tls-cert", tls_cert,
                 "Client certificate (PEM) for mutual TLS")
      ->envname("USERS_TLS_CLIENT_CERT")
      ->check(CLI::ExistingFile);
  app.add_option("--tls-key", tls_key,
                 "Client private key (PEM) for mutual TLS")
      ->envname("USERS_TLS_CLIENT_KEY")
      ->check(CLI::ExistingFile);

  users::client::UserFields create_fields;
  auto* create = app.add_subcommand("create", "CreateUser");
  AddUserFields(create, &create_fields);

  int64_t get_id = 0;
  auto* get = app.add_subcommand("get", "GetUser");
  get->add_option("ID", get_id, "User id")->required();

  int64_t update_id = 0, update_version = 0;
  users::client::UserFields update_fields;
  auto* update =
      app.add_subcommand("update", "UpdateUser: changes only the fields given");
  update->add_option("ID", update_id, "User id")->required();
  AddUserFields(update, &update_fields);
  update->add_option("--if-version", update_version,
                     "Fail with ABORTED unless the stored version is this");

  int64_t delete_id = 0, delete_version = 0;
  auto* del = app.add_subcommand("delete", "DeleteUser");
  del->add_option("ID", delete_id, "User id")->required();
  del->add_option("--if-version", delete_version,
                  "Fail with ABORTED unless the stored version is this");

  std::string prefix, page_token;
  int32_t page_size = 0;
  bool all = false;
  auto* list = app.add_subcommand("list", "ListUsers");
  list->add_option("--prefix", prefix,
                   "Only names starting with this (case-insensitive)");
  list->add_option("--page-size", page_size,
                   "Users per page (0: server default 50)");
  list->add_option("--page-token", page_token, "Continue from this token");
  list->add_flag("--all", all, "Follow page tokens to the end");

  int64_t since = 0;
  bool from_oldest = false;
  auto* watch = app.add_subcommand(
      "watch", "WatchUsers: print changes until interrupted");
  auto* since_option = watch->add_option(
      "--since", since,
      "Replay changes after this revision first (0: from now on)");
  watch
      ->add_flag("--from-oldest", from_oldest,
                 "Replay from the oldest revision still kept, then go on")
      ->excludes(since_option);
  double resume_for_s = 30;
  watch
      ->add_option("--resume-for", resume_for_s,
                   "When the stream breaks (its server went away), open it "
                   "again after the last revision printed, for up to this "
                   "many seconds without a server; 0: do not resume")
      ->check(CLI::Range(0.0, 365.0 * 86400));

  std::string import_file;
  auto* import = app.add_subcommand(
      "import",
      "ImportUsers from CSV (header name,email,display_name) or JSON Lines");
  import->add_option("FILE", import_file, "Input file; - for stdin")
      ->required();

  std::vector<int64_t> lookup_ids;
  auto* lookup =
      app.add_subcommand("lookup", "LookupUsers: ids as arguments or on stdin");
  lookup->add_option("ID", lookup_ids,
                     "User ids (default: read from stdin, one a line)");

  std::string health_service = "user.Users";
  bool health_watch = false;
  auto* health = app.add_subcommand(
      "health",
      "grpc.health.v1: print SERVING or NOT_SERVING; exit 0 only when "
      "serving");
  health->add_option("--service", health_service,
                     "Service to ask about ('' for the whole server)");
  health->add_flag("--watch", health_watch,
                   "Print every change until the server ends the stream "
                   "(no deadline unless --timeout is given)");

  // Options such as --target and --json also work after the subcommand.
  for (auto* sub :
       {create, get, update, del, list, watch, import, lookup, health}) {
    sub->fallthrough();
  }
  app.require_subcommand(0, 1);
  try {
    app.parse(argc, argv);
    // CLI11's range checks let "nan" and "inf" through.
    if (!std::isfinite(timeout_s)) {
      throw CLI::ValidationError("--timeout", "must be a number of seconds");
    }
  } catch (const CLI::ParseError& e) {
    return users::client::ReportParseError(app, e, std::cerr);
  }
  verbose_grpc_logs = options.verbose;
  // Rounded up: a tiny timeout must not become 0, which means no deadline;
  // capped at a year, past which the conversion would overflow.
  options.timeout = std::chrono::milliseconds(static_cast<int64_t>(
      std::ceil(std::min(timeout_s, 365.0 * 86400) * 1000)));

  auto credentials = users::client::MakeCredentials(tls_ca, tls_cert, tls_key);
  if (!credentials.ok()) {
    std::cerr << "users-client: " << credentials.status().message() << "\n";
    return users::client::kExitUsage;
  }
  if (options.idempotency_key.empty()) {
    options.idempotency_key = users::client::NewUuid();
  }
  options.target = target;
  options.tls = !tls_ca.empty() || !tls_cert.empty();
  options.client_certificate = !tls_cert.empty();
  // Round robin over every address the target names, and reads retried on
  // UNAVAILABLE (deploy/grpc-service-config.json).
  grpc::ChannelArguments channel_args;
  channel_args.SetServiceConfigJSON(users::client::kServiceConfigJson);
  auto channel = grpc::CreateCustomChannel(target, *credentials, channel_args);
  auto stub = user::Users::NewStub(channel);
  auto& out = std::cout;
  auto& err = std::cerr;
  if (*create)
    return users::client::CreateUser(*stub, create_fields, options, out, err);
  if (*get) return users::client::GetUser(*stub, get_id, options, out, err);
  if (*update) {
    return users::client::UpdateUser(*stub, update_id, update_fields,
                                     update_version, options, out, err);
  }
  if (*del) {
    return users::client::DeleteUser(*stub, delete_id, delete_version, options,
                                     out, err);
  }
  if (*list) {
    return users::client::ListUsers(*stub, prefix, page_size, page_token, all,
                                    options, out, err);
  }
  if (*watch) {
    user::WatchUsersRequest request;
    request.set_since_revision(since);
    request.set_from_oldest(from_oldest);
    return users::client::WatchUsers(
        *stub, request,
        std::chrono::milliseconds(static_cast<int64_t>(resume_for_s * 1000)),
        options, out, err);
  }
  if (*import) {
    std::ifstream file;
    std::istream* in = &std::cin;
    if (import_file != "-") {
      file.open(import_file);
      if (!file) {
        err << "users-client import: cannot open " << import_file << ": "
            << std::strerror(errno) << "\n";
        return users::client::kExitUsage;
      }
      in = &file;
    }
    return users::client::ImportUsers(*stub, *in, isatty(STDERR_FILENO) != 0,
                                      options, out, err);
  }
  if (*health) {
    // A watch lasts until the server ends it, unless a timeout was given.
    users::client::CallOptions health_options = options;
    if (health_watch && app.get_option("--timeout")->count() == 0) {
      health_options.timeout = std::chrono::milliseconds(0);
    }
    auto health_stub = grpc::health::v1::Health::NewStub(channel);
    return users::client::Health(*health_stub, health_service, health_watch,
                                 health_options, out, err);
  }
  if (*lookup) {
    return users::client::LookupUsers(*stub, lookup_ids, std::cin, options, out,
                                      err);
  }
  return users::client::ListUser(*stub, id, name, options, std::cout,
                                 std::cerr);
}

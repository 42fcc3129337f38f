#include "client/commands.h"

#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include <google/protobuf/text_format.h>
#include <google/protobuf/util/json_util.h>

#include "absl/status/status.h"
#include "client/diagnosis.h"
#include "client/text_output.h"
#include "errors/errors.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace users::client {

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeCredentials(
    const std::string& tls_ca, const std::string& tls_cert,
    const std::string& tls_key) {
  // Half a client identity would otherwise fall back to a plain-text
  // channel, and send any bearer token in the clear.
  if (tls_cert.empty() != tls_key.empty()) {
    return absl::InvalidArgumentError(
        "--tls-cert and --tls-key go together (mutual TLS needs both)");
  }
  if (tls_ca.empty() && tls_cert.empty()) {
    return grpc::InsecureChannelCredentials();
  }
  grpc::SslCredentialsOptions ssl;
  for (auto [path, pem] : {std::pair{&tls_ca, &ssl.pem_root_certs},
                           std::pair{&tls_cert, &ssl.pem_cert_chain},
                           std::pair{&tls_key, &ssl.pem_private_key}}) {
    if (path->empty()) continue;  // no CA: the system's roots
    std::ifstream in(*path);
    std::stringstream buffer;
    buffer << in.rdbuf();
    if (!in || buffer.str().empty()) {
      return absl::InvalidArgumentError("cannot read " + *path);
    }
    *pem = buffer.str();
  }
  return grpc::SslCredentials(ssl);
}

std::string NewUuid() {
  std::random_device random;  // the kernel's generator: ids must not repeat
  unsigned char bytes[16];
  for (size_t i = 0; i < sizeof(bytes); i += 4) {
    const uint32_t r = random();
    std::memcpy(bytes + i, &r, 4);
  }
  bytes[6] = (bytes[6] & 0x0f) | 0x40;  // version 4
  bytes[8] = (bytes[8] & 0x3f) | 0x80;  // RFC 4122 variant
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < sizeof(bytes); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[bytes[i] >> 4]);
    out.push_back(kHex[bytes[i] & 0x0f]);
  }
  return out;
}

std::unique_ptr<grpc::ClientContext> MakeContext(const CallOptions& options) {
  auto context = std::make_unique<grpc::ClientContext>();
  if (options.timeout.count() > 0) {
    context->set_deadline(std::chrono::system_clock::now() + options.timeout);
  }
  if (!options.token.empty()) {
    context->AddMetadata("authorization", "Bearer " + options.token);
  }
  if (!options.request_id.empty()) {
    context->AddMetadata("x-request-id", options.request_id);
  }
  return context;
}

void PrintMessage(const google::protobuf::Message& message, bool json,
                  std::ostream& out) {
  std::string text;
  if (json) {
    google::protobuf::util::JsonPrintOptions json_options;
    json_options.preserve_proto_field_names = false;
    // A stable shape: every field always present (an empty list is
    // {"users": []}), so scripts index it without a guard.
    json_options.always_print_primitive_fields = true;
    (void)google::protobuf::util::MessageToJsonString(message, &text,
                                                      json_options);
    out << text << "\n";
  } else {
    google::protobuf::TextFormat::PrintToString(message, &text);
    out << text;
  }
}

int PrintError(const grpc::Status& status, const CallOptions& options,
               std::ostream& err) {
  CallSetting setting;
  setting.target = options.target;
  setting.tls = options.tls;
  setting.client_certificate = options.client_certificate;
  setting.token = !options.token.empty();
  setting.timeout_s = static_cast<double>(options.timeout.count()) / 1000;
  const Diagnosis diagnosis = Diagnose(status, setting);
  err << StatusCodeName(static_cast<absl::StatusCode>(status.error_code()))
      << ": "
      << (diagnosis.recognised ? diagnosis.summary : status.error_message())
      << "\n";
  if (diagnosis.recognised) {
    err << "  " << diagnosis.hint << "\n";
    if (options.verbose && diagnosis.summary != status.error_message()) {
      err << "  detail: " << status.error_message() << "\n";
    }
  }
  const int exit_status =
      diagnosis.no_connection ? kExitNoConnection : kExitCallFailed;
  if (status.error_details().empty()) return exit_status;
  google::rpc::Status rich;
  if (!rich.ParseFromString(status.error_details())) return exit_status;
  for (const auto& detail : rich.details()) {
    google::rpc::BadRequest bad_request;
    if (detail.UnpackTo(&bad_request)) {
      for (const auto& v : bad_request.field_violations()) {
        err << "  " << v.field() << ": " << v.description() << "\n";
      }
    }
  }
  return exit_status;
}

int ListUser(user::Users::StubInterface& stub, int32_t id,
             const std::string& name, const CallOptions& options,
             std::ostream& out, std::ostream& err) {
  user::UserRequest request;
  request.set_id(id);
  request.set_name(name);
  user::UserResponse response;
  auto context = MakeContext(options);
  grpc::Status status = stub.ListUser(context.get(), request, &response);
  if (!status.ok()) {
    return PrintError(status, options, err);
  }
  out << "client received: ";
  PrintMessage(response, options.json, out);
  return 0;
}

int Report(const grpc::Status& status,
           const google::protobuf::Message& response,
           const CallOptions& options, std::ostream& out, std::ostream& err) {
  if (!status.ok()) {
    return PrintError(status, options, err);
  }
  if (options.json) {
    PrintMessage(response, /*json=*/true, out);
  } else if (const auto* u = dynamic_cast<const user::User*>(&response)) {
    PrintUser(*u, out);
  } else {
    PrintMessage(response, /*json=*/false, out);
  }
  return kExitOk;
}

int CreateUser(user::Users::StubInterface& stub, const UserFields& fields,
               const CallOptions& options, std::ostream& out,
               std::ostream& err) {
  user::CreateUserRequest request;
  auto* u = request.mutable_user();
  u->set_name(fields.name.value_or(""));
  u->set_email(fields.email.value_or(""));
  u->set_display_name(fields.display_name.value_or(""));
  request.set_request_id(options.idempotency_key);
  user::User response;
  auto context = MakeContext(options);
  return Report(stub.CreateUser(context.get(), request, &response), response,
                options, out, err);
}

int GetUser(user::Users::StubInterface& stub, int64_t id,
            const CallOptions& options, std::ostream& out, std::ostream& err) {
  user::GetUserRequest request;
  request.set_id(id);
  user::User response;
  auto context = MakeContext(options);
  return Report(stub.GetUser(context.get(), request, &response), response,
                options, out, err);
}

int UpdateUser(user::Users::StubInterface& stub, int64_t id,
               const UserFields& fields, int64_t if_version,
               const CallOptions& options, std::ostream& out,
               std::ostream& err) {
  user::UpdateUserRequest request;
  auto* u = request.mutable_user();
  u->set_id(id);
  u->set_version(if_version);
  auto* mask = request.mutable_update_mask();
  if (fields.name) u->set_name(*fields.name), mask->add_paths("name");
  if (fields.email) u->set_email(*fields.email), mask->add_paths("email");
  if (fields.display_name) {
    u->set_display_name(*fields.display_name);
    mask->add_paths("display_name");
  }
  if (mask->paths_size() == 0) {
    err << "update: give at least one of --name, --email, --display-name\n";
    return kExitUsage;
  }
  request.set_request_id(options.idempotency_key);
  user::User response;
  auto context = MakeContext(options);
  return Report(stub.UpdateUser(context.get(), request, &response), response,
                options, out, err);
}

int DeleteUser(user::Users::StubInterface& stub, int64_t id, int64_t if_version,
               const CallOptions& options, std::ostream& out,
               std::ostream& err) {
  user::DeleteUserRequest request;
  request.set_id(id);
  request.set_version(if_version);
  request.set_request_id(options.idempotency_key);
  google::protobuf::Empty response;
  auto context = MakeContext(options);
  const grpc::Status status =
      stub.DeleteUser(context.get(), request, &response);
  if (!status.ok() || options.json) {
    return Report(status, response, options, out, err);
  }
  out << "deleted user " << id << "\n";
  return kExitOk;
}

int ListUsers(user::Users::StubInterface& stub, const std::string& prefix,
              int32_t page_size, const std::string& page_token, bool all,
              const CallOptions& options, std::ostream& out,
              std::ostream& err) {
  user::ListUsersRequest request;
  request.set_name_prefix(prefix);
  request.set_page_size(page_size);
  request.set_page_token(page_token);
  user::ListUsersResponse merged;
  for (;;) {
    user::ListUsersResponse page;
    auto context = MakeContext(options);
    grpc::Status status = stub.ListUsers(context.get(), request, &page);
    if (!status.ok()) {
      return PrintError(status, options, err);
    }
    for (auto& u : *page.mutable_users()) merged.add_users()->Swap(&u);
    merged.set_next_page_token(page.next_page_token());
    if (!all || page.next_page_token().empty()) break;
    request.set_page_token(page.next_page_token());
  }
  if (options.json) {
    PrintMessage(merged, /*json=*/true, out);
  } else {
    PrintUsers(merged, out);
  }
  return kExitOk;
}

int Health(grpc::health::v1::Health::StubInterface& stub,
           const std::string& service, bool watch, const CallOptions& options,
           std::ostream& out, std::ostream& err) {
  using grpc::health::v1::HealthCheckResponse;
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  auto name = [](HealthCheckResponse::ServingStatus s) {
    return HealthCheckResponse::ServingStatus_Name(s);
  };
  if (!watch) {
    HealthCheckResponse response;
    auto context = MakeContext(options);
    grpc::Status status = stub.Check(context.get(), request, &response);
    if (!status.ok()) return PrintError(status, options, err);
    out << name(response.status()) << "\n";
    return response.status() == HealthCheckResponse::SERVING ? kExitOk
                                                             : kExitNotServing;
  }
  auto context = MakeContext(options);
  auto reader = stub.Watch(context.get(), request);
  HealthCheckResponse response;
  int last = kExitNotServing;
  while (reader->Read(&response)) {
    out << name(response.status()) << std::endl;
    last = response.status() == HealthCheckResponse::SERVING ? kExitOk
                                                             : kExitNotServing;
  }
  grpc::Status status = reader->Finish();
  // A deadline ends a watch that was asked to last that long.
  if (status.ok() ||
      status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    return last;
  }
  // The server went away (a shutdown ends the stream): it is not serving.
  const int failed = PrintError(status, options, err);
  return last == kExitOk ? failed : kExitNotServing;
}

}  // namespace users::client

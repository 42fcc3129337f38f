// Server reflection: the answers (network-free), then both versions over a
// real loopback server, several requests on one stream.
#include "service/reflection_service.h"

#include <initializer_list>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/server_builder.h>
#include <gtest/gtest.h>

#include "grpc/health/v1/health.pb.h"
#include "service_protos/user.pb.h"

namespace users {
namespace {

namespace pb = google::protobuf;
namespace v1 = grpc::reflection::v1;
namespace v1alpha = grpc::reflection::v1alpha;

const std::vector<std::string> kServices = {
    "user.Users", "grpc.reflection.v1.ServerReflection"};

// Builds a fresh pool from a file_descriptor_response, as a client does: it
// must hold every file the first one needs, in some order.
template <typename FileResponse>
const pb::FileDescriptor* BuildFirst(const FileResponse& files,
                                     pb::DescriptorPool* pool) {
  std::vector<pb::FileDescriptorProto> protos(
      files.file_descriptor_proto_size());
  for (int i = 0; i < files.file_descriptor_proto_size(); ++i)
    EXPECT_TRUE(protos[i].ParseFromString(files.file_descriptor_proto(i)));
  std::set<std::string> built;
  for (size_t round = 0; round < protos.size(); ++round) {
    for (const auto& proto : protos) {
      if (built.count(proto.name())) continue;
      bool ready = true;
      for (const auto& dep : proto.dependency())
        ready = ready && built.count(dep);
      if (ready && pool->BuildFile(proto) != nullptr)
        built.insert(proto.name());
    }
  }
  EXPECT_EQ(built.size(), protos.size()) << "a dependency is missing";
  return protos.empty() ? nullptr : pool->FindFileByName(protos[0].name());
}

template <typename Api>
class AnswerTest : public ::testing::Test {};

struct V1 {
  using Request = v1::ServerReflectionRequest;
  using Response = v1::ServerReflectionResponse;
};
struct V1Alpha {
  using Request = v1alpha::ServerReflectionRequest;
  using Response = v1alpha::ServerReflectionResponse;
};
using Versions = ::testing::Types<V1, V1Alpha>;
TYPED_TEST_SUITE(AnswerTest, Versions);

TYPED_TEST(AnswerTest, ListsTheServicesItWasGiven) {
  typename TypeParam::Request request;
  request.set_list_services("*");
  request.set_host("users.example:50051");
  typename TypeParam::Response response;
  AnswerReflection(kServices, request, &response);
  ASSERT_TRUE(response.has_list_services_response());
  std::vector<std::string> names;
  for (const auto& s : response.list_services_response().service())
    names.push_back(s.name());
  EXPECT_EQ(names, kServices);
  EXPECT_EQ(response.valid_host(), "users.example:50051");
  EXPECT_EQ(response.original_request().list_services(), "*");
}

TYPED_TEST(AnswerTest, SymbolGivesItsFileWithEveryDependency) {
  // Linked in, as users-server does, so that the pool holds health.proto.
  (void)grpc::health::v1::HealthCheckRequest::descriptor();
  for (const std::string symbol :
       {"user.Users", "user.Users.ListUser", "user.UserResponse",
        "grpc.health.v1.Health"}) {
    typename TypeParam::Request request;
    request.set_file_containing_symbol(symbol);
    typename TypeParam::Response response;
    AnswerReflection(kServices, request, &response);
    ASSERT_TRUE(response.has_file_descriptor_response()) << symbol;
    pb::DescriptorPool pool;
    const pb::FileDescriptor* file =
        BuildFirst(response.file_descriptor_response(), &pool);
    ASSERT_NE(file, nullptr) << symbol;
    EXPECT_EQ(pool.FindFileContainingSymbol(symbol), file) << symbol;
  }
}

TYPED_TEST(AnswerTest, TheServiceSchemaRebuiltFromReflectionMatches) {
  typename TypeParam::Request request;
  request.set_file_by_filename(user::UserRequest::descriptor()->file()->name());
  typename TypeParam::Response response;
  AnswerReflection(kServices, request, &response);
  pb::DescriptorPool pool;
  const pb::FileDescriptor* file =
      BuildFirst(response.file_descriptor_response(), &pool);
  ASSERT_NE(file, nullptr);
  const pb::ServiceDescriptor* users = file->FindServiceByName("Users");
  ASSERT_NE(users, nullptr);
  const pb::MethodDescriptor* list_user = users->FindMethodByName("ListUser");
  ASSERT_NE(list_user, nullptr);
  EXPECT_EQ(list_user->input_type()->full_name(), "user.UserRequest");
  EXPECT_EQ(list_user->output_type()->full_name(), "user.UserResponse");
  EXPECT_EQ(
      users->method_count(),
      user::UserRequest::descriptor()->file()->service(0)->method_count());
}

TYPED_TEST(AnswerTest, UnknownNamesAreNotFoundAndEchoTheRequest) {
  typename TypeParam::Request by_symbol;
  by_symbol.set_file_containing_symbol("user.NoSuchThing");
  typename TypeParam::Request by_file;
  by_file.set_file_by_filename("nowhere.proto");
  typename TypeParam::Request numbers;
  numbers.set_all_extension_numbers_of_type("user.NoSuchType");
  typename TypeParam::Request extension;
  extension.mutable_file_containing_extension()->set_containing_type(
      "user.UserRequest");
  extension.mutable_file_containing_extension()->set_extension_number(100);
  for (const auto* request : {&by_symbol, &by_file, &numbers, &extension}) {
    typename TypeParam::Response response;
    AnswerReflection(kServices, *request, &response);
    ASSERT_TRUE(response.has_error_response()) << request->DebugString();
    EXPECT_EQ(response.error_response().error_code(),
              static_cast<int>(grpc::StatusCode::NOT_FOUND));
    EXPECT_FALSE(response.error_response().error_message().empty());
    EXPECT_EQ(response.original_request().SerializeAsString(),
              request->SerializeAsString());
  }
}

TYPED_TEST(AnswerTest, ExtensionNumbersOfATypeWithoutExtensions) {
  typename TypeParam::Request request;
  request.set_all_extension_numbers_of_type("user.UserRequest");
  typename TypeParam::Response response;
  AnswerReflection(kServices, request, &response);
  ASSERT_TRUE(response.has_all_extension_numbers_response());
  EXPECT_EQ(response.all_extension_numbers_response().base_type_name(),
            "user.UserRequest");
  EXPECT_EQ(response.all_extension_numbers_response().extension_number_size(),
            0);
}

TYPED_TEST(AnswerTest, ARequestOfNoKnownKindIsUnimplemented) {
  typename TypeParam::Request request;  // message_request unset
  typename TypeParam::Response response;
  AnswerReflection(kServices, request, &response);
  ASSERT_TRUE(response.has_error_response());
  EXPECT_EQ(response.error_response().error_code(),
            static_cast<int>(grpc::StatusCode::UNIMPLEMENTED));
}

// `services` on a free loopback port, and a channel to them (null if the
// server could not start).
struct LoopbackServer {
  explicit LoopbackServer(std::initializer_list<grpc::Service*> services) {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    for (grpc::Service* service : services) builder.RegisterService(service);
    server = builder.BuildAndStart();
    if (port == 0) return;
    channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                  grpc::InsecureChannelCredentials());
  }
  std::unique_ptr<grpc::Server> server;
  std::shared_ptr<grpc::Channel> channel;
};

// Both versions registered on one server, as users-server does; each stream
// answers in order and ends OK when the client half-closes.
TEST(ReflectionStream, BothVersionsAnswerSeveralRequestsOnOneStream) {
  ReflectionV1Service service_v1(kServices);
  ReflectionV1AlphaService service_v1alpha(kServices);
  LoopbackServer loopback({&service_v1, &service_v1alpha});
  ASSERT_NE(loopback.channel, nullptr);
  const auto& channel = loopback.channel;

  auto v1_stub = v1::ServerReflection::NewStub(channel);
  grpc::ClientContext v1_context;
  auto stream = v1_stub->ServerReflectionInfo(&v1_context);
  v1::ServerReflectionRequest list;
  list.set_list_services("");
  v1::ServerReflectionRequest missing;
  missing.set_file_containing_symbol("user.Nope");
  v1::ServerReflectionRequest found;
  found.set_file_containing_symbol("user.Users");
  for (const auto* request : {&list, &missing, &found})
    ASSERT_TRUE(stream->Write(*request));
  ASSERT_TRUE(stream->WritesDone());
  v1::ServerReflectionResponse response;
  ASSERT_TRUE(stream->Read(&response));
  EXPECT_EQ(response.list_services_response().service_size(),
            static_cast<int>(kServices.size()));
  ASSERT_TRUE(stream->Read(&response));
  EXPECT_EQ(response.error_response().error_code(),
            static_cast<int>(grpc::StatusCode::NOT_FOUND));
  ASSERT_TRUE(stream->Read(&response));
  EXPECT_GE(response.file_descriptor_response().file_descriptor_proto_size(),
            1);
  EXPECT_FALSE(stream->Read(&response));
  EXPECT_TRUE(stream->Finish().ok());

  auto v1alpha_stub = v1alpha::ServerReflection::NewStub(channel);
  grpc::ClientContext v1alpha_context;
  auto old_stream = v1alpha_stub->ServerReflectionInfo(&v1alpha_context);
  v1alpha::ServerReflectionRequest old_list;
  old_list.set_list_services("");
  ASSERT_TRUE(old_stream->Write(old_list));
  v1alpha::ServerReflectionResponse old_response;
  ASSERT_TRUE(old_stream->Read(&old_response));
  EXPECT_EQ(old_response.list_services_response().service(0).name(),
            kServices[0]);
  old_stream->WritesDone();
  EXPECT_TRUE(old_stream->Finish().ok());
  loopback.server->Shutdown();
}

// A client that goes away mid-stream does not leave the server hanging on
// shutdown.
TEST(ReflectionStream, ACancelledStreamEnds) {
  ReflectionV1Service service(kServices);
  LoopbackServer loopback({&service});
  ASSERT_NE(loopback.channel, nullptr);
  auto stub = v1::ServerReflection::NewStub(loopback.channel);
  grpc::ClientContext context;
  auto stream = stub->ServerReflectionInfo(&context);
  v1::ServerReflectionRequest list;
  list.set_list_services("");
  ASSERT_TRUE(stream->Write(list));
  v1::ServerReflectionResponse response;
  ASSERT_TRUE(stream->Read(&response));
  context.TryCancel();
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::CANCELLED);
  // Returns only once every call has ended: a reactor that never finished
  // would hang here (and the test time out).
  loopback.server->Shutdown();
}

}  // namespace
}  // namespace users

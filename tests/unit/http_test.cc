// The HTTP/JSON API without a socket: the route table against the service's
// descriptor, the status mapping, query and body mapping, timeouts, CORS, and
// JsonApi serving requests over an in-memory directory.
#include <future>
#include <set>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "directory/import_rows.h"
#include "http/cors.h"
#include "http/json_api.h"
#include "http/json_mapping.h"
#include "http/openapi.h"
#include "http/routes.h"
#include "http/status_mapping.h"
#include "middleware/metrics.h"
#include "storage/memory_user_store.h"

namespace users {
namespace {

using ::testing::HasSubstr;

TEST(HttpRoutesTest, EveryRpcOfTheServiceHasARoute) {
  std::set<std::string> routed;
  for (const RouteInfo& info : AllRoutes()) {
    if (!info.rpc.empty()) routed.insert(std::string(info.rpc));
  }
  const auto* service = user::User::descriptor()->file()->service(0);
  std::set<std::string> rpcs;
  for (int i = 0; i < service->method_count(); ++i) {
    rpcs.insert("/" + service->full_name() + "/" + service->method(i)->name());
  }
  EXPECT_EQ(routed, rpcs);
}

TEST(HttpRoutesTest, EachRouteMatchesItsOwnTemplate) {
  for (const RouteInfo& info : AllRoutes()) {
    std::string path(info.template_);
    if (auto p = path.find("{id}"); p != std::string::npos) {
      path.replace(p, 4, "42");
    }
    auto route = MatchRoute(info.method, path);
    ASSERT_TRUE(route.ok())
        << info.method << " " << path << ": " << route.status();
    EXPECT_EQ(route->info->kind, info.kind) << path;
    if (path.find("42") != std::string::npos) {
      EXPECT_EQ(route->id, 42);
    }
  }
}

TEST(HttpRoutesTest, WrongMethodNamesTheAllowedOnes) {
  auto route = MatchRoute("PUT", "/v1/users/7");
  EXPECT_EQ(route.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(AllowedMethods("/v1/users/7"), "GET, PATCH, DELETE");
  EXPECT_EQ(AllowedMethods("/v1/users"), "GET, POST");
}

TEST(HttpRoutesTest, BadIdsAndUnknownPaths) {
  EXPECT_EQ(MatchRoute("GET", "/v1/users/abc").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MatchRoute("GET", "/v1/users/99999999999999999999").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MatchRoute("GET", "/v1/users/1/x").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(MatchRoute("GET", "/v1/nothing").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(MatchRoute("GET", "/app.js")->info->kind, RouteKind::kAdminPage);
  EXPECT_EQ(MatchRoute("POST", "/").status().code(),
            absl::StatusCode::kUnimplemented);
}

TEST(HttpStatusTest, GoogleApiMapping) {
  using C = absl::StatusCode;
  const std::pair<C, int> expected[] = {{C::kOk, 200},
                                        {C::kCancelled, 499},
                                        {C::kUnknown, 500},
                                        {C::kInvalidArgument, 400},
                                        {C::kDeadlineExceeded, 504},
                                        {C::kNotFound, 404},
                                        {C::kAlreadyExists, 409},
                                        {C::kPermissionDenied, 403},
                                        {C::kResourceExhausted, 429},
                                        {C::kFailedPrecondition, 400},
                                        {C::kAborted, 409},
                                        {C::kOutOfRange, 400},
                                        {C::kUnimplemented, 501},
                                        {C::kInternal, 500},
                                        {C::kUnavailable, 503},
                                        {C::kDataLoss, 500},
                                        {C::kUnauthenticated, 401}};
  for (auto [code, http] : expected) {
    EXPECT_EQ(HttpStatusFromCode(code), http) << static_cast<int>(code);
  }
}

TEST(HttpStatusTest, BodyIsARpcStatusWithFieldViolations) {
  auto json = nlohmann::json::parse(StatusToJson(InvalidArgumentError(
      "invalid user", {{"user.email", "must be an address"}})));
  EXPECT_EQ(json["code"], 3);
  EXPECT_EQ(json["message"], "invalid user");
  ASSERT_EQ(json["details"].size(), 1u);
  EXPECT_EQ(json["details"][0]["@type"],
            "type.googleapis.com/google.rpc.BadRequest");
  EXPECT_EQ(json["details"][0]["fieldViolations"][0]["field"], "user.email");
}

TEST(HttpMappingTest, QueryDecodesAndMapsByJsonOrProtoName) {
  auto params = ParseQuery("pageSize=5&name_prefix=a%20b+c&&pageToken=");
  ASSERT_TRUE(params.ok());
  user::ListUsersRequest request;
  ASSERT_TRUE(MergeQuery(*params, &request).ok());
  EXPECT_EQ(request.page_size(), 5);
  EXPECT_EQ(request.name_prefix(), "a b c");
}

TEST(HttpMappingTest, QueryRefusesWhatIsNotTheRequests) {
  user::ListUsersRequest request;
  EXPECT_THAT(std::string(MergeQuery({{"bogus", "1"}}, &request).message()),
              HasSubstr("bogus"));
  EXPECT_EQ(GetFieldViolations(MergeQuery({{"bogus", "1"}}, &request))[0].field,
            "bogus");
  EXPECT_FALSE(MergeQuery({{"pageSize", "x"}}, &request).ok());
  EXPECT_FALSE(
      MergeQuery({{"pageSize", "1"}, {"pageSize", "2"}}, &request).ok());
  EXPECT_FALSE(MergeQuery({{"namePrefix", "\xff"}}, &request).ok());
  EXPECT_FALSE(ParseQuery("a=%zz").ok());
  EXPECT_FALSE(ParseQuery("a=%4").ok());
}

TEST(HttpMappingTest, WhatTheFuzzersFound) {
  // A number past a double: nlohmann throws out_of_range, not parse_error.
  user::User u;
  auto overflow = ParseJsonBody(R"({"name": 1e999})", &u);
  EXPECT_EQ(overflow.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(overflow.message()), HasSubstr("overflow"));
  // A parameter name that is not UTF-8 is not echoed into the status.
  user::ListUsersRequest request;
  auto bad_name = MergeQuery({{"\xff\xfe", "1"}}, &request);
  ASSERT_EQ(bad_name.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NO_THROW((void)nlohmann::json(std::string(bad_name.message())).dump());
  EXPECT_NO_THROW(
      (void)nlohmann::json(GetFieldViolations(bad_name)[0].field).dump());
}

TEST(HttpMappingTest, FieldMaskAndBoolFromTheQuery) {
  user::UpdateUserRequest update;
  ASSERT_TRUE(MergeQuery({{"updateMask", "email,displayName"}}, &update).ok());
  EXPECT_THAT(update.update_mask().paths(),
              ::testing::ElementsAre("email", "display_name"));
  user::WatchUsersRequest watch;
  ASSERT_TRUE(MergeQuery({{"fromOldest", "true"}}, &watch).ok());
  EXPECT_TRUE(watch.from_oldest());
  EXPECT_FALSE(MergeQuery({{"fromOldest", "yes"}}, &watch).ok());
}

TEST(HttpMappingTest, BodyErrorsSayWhat) {
  user::User u;
  EXPECT_THAT(std::string(ParseJsonBody("", &u).message()),
              HasSubstr("required"));
  EXPECT_THAT(std::string(ParseJsonBody("{\"name\":", &u).message()),
              HasSubstr("malformed JSON body at byte"));
  EXPECT_THAT(std::string(ParseJsonBody("{\"nmae\":\"x\"}", &u).message()),
              HasSubstr("nmae"));
  EXPECT_FALSE(ParseJsonBody("{\"name\":5}", &u).ok());
  EXPECT_FALSE(ParseJsonBody("{\"name\":\"\xc3\x28\"}", &u).ok());
  ASSERT_TRUE(
      ParseJsonBody("{\"name\":\"ann\",\"displayName\":\"A\"}", &u).ok());
  EXPECT_EQ(u.display_name(), "A");
}

TEST(ImportRowsTest, ANumberPastADoubleFailsItsRowAlone) {
  ImportRows rows;
  auto row = rows.Line(R"({"name": "a", "n": 888888e888})");
  ASSERT_TRUE(row.ok());
  EXPECT_EQ(row->error.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(row->error.message()), HasSubstr("line 1"));
}

TEST(HttpTimeoutTest, Forms) {
  EXPECT_EQ(*ParseTimeout("250ms"), std::chrono::milliseconds(250));
  EXPECT_EQ(*ParseTimeout("2s"), std::chrono::seconds(2));
  EXPECT_EQ(*ParseTimeout("3"), std::chrono::seconds(3));
  EXPECT_EQ(*ParseTimeout("1.5m"), std::chrono::seconds(90));
  for (const char* bad : {"", "0", "-1s", "1d", "s", "nan", "1e9"}) {
    EXPECT_FALSE(ParseTimeout(bad).ok()) << bad;
  }
}

TEST(HttpCorsTest, OffUnlessTheOriginIsListed) {
  CorsPolicy off({});
  std::vector<std::pair<std::string, std::string>> headers;
  off.AddHeaders("https://a.example", &headers);
  EXPECT_TRUE(headers.empty());
  EXPECT_EQ(off.Preflight("https://a.example").status, 403);

  CorsPolicy on({"https://a.example"});
  on.AddHeaders("https://a.example", &headers);
  ASSERT_FALSE(headers.empty());
  EXPECT_EQ(headers[0].second, "https://a.example");
  EXPECT_EQ(on.Preflight("https://a.example").status, 204);
  EXPECT_EQ(on.Preflight("https://b.example").status, 403);
}

TEST(HttpOpenApiTest, DocumentsEveryRouteAndOnlyRealParameters) {
  const auto doc = nlohmann::json::parse(OpenApiDocument("9.9.9"));
  EXPECT_EQ(doc["openapi"], "3.0.3");
  EXPECT_EQ(doc["info"]["version"], "9.9.9");
  size_t operations = 0;
  for (const auto& [path, methods] : doc["paths"].items()) {
    operations += methods.size();
  }
  EXPECT_EQ(operations, AllRoutes().size());
  for (const RouteInfo& info : AllRoutes()) {
    std::string method(info.method);
    for (char& c : method) c = static_cast<char>(std::tolower(c));
    const std::string path(info.template_);
    ASSERT_TRUE(doc["paths"].contains(path)) << path;
    ASSERT_TRUE(doc["paths"][path].contains(method)) << method << " " << path;
    const auto& operation = doc["paths"][path][method];
    // Every query parameter it names is one the server takes.
    for (const auto& parameter :
         operation.value("parameters", nlohmann::json::array())) {
      const std::string name = parameter["name"];
      if (parameter["in"] == "path") {
        EXPECT_NE(path.find("{" + name + "}"), std::string::npos) << path;
      }
      if (parameter["in"] != "query") continue;
      std::string value = "1";
      const auto& schema = parameter["schema"];
      if (schema.value("type", "") == "boolean") value = "true";
      if (schema.value("type", "") == "array") {
        EXPECT_EQ(info.kind, RouteKind::kBatchGetUsers) << name;
        continue;
      }
      const auto* type = google::protobuf::DescriptorPool::generated_pool()
                             ->FindMessageTypeByName(std::string(info.request));
      ASSERT_NE(type, nullptr) << info.request;
      std::unique_ptr<google::protobuf::Message> request(
          google::protobuf::MessageFactory::generated_factory()
              ->GetPrototype(type)
              ->New());
      EXPECT_TRUE(MergeQuery({{name, value}}, request.get()).ok())
          << path << " ?" << name;
    }
    if (!info.response.empty() && info.kind != RouteKind::kWatchUsers) {
      const std::string ref =
          operation["responses"]["200"]["content"]["application/json"]["schema"]
              .value("$ref", "");
      if (info.response != "google.protobuf.Empty") {
        EXPECT_EQ(ref, "#/components/schemas/" + std::string(info.response));
        EXPECT_TRUE(
            doc["components"]["schemas"].contains(std::string(info.response)));
      }
    }
  }
  // The parameters each GET takes, as a client would read them.
  const auto& list = doc["paths"]["/v1/users"]["get"]["parameters"];
  std::set<std::string> names;
  for (const auto& p : list) {
    if (p["in"] == "query") names.insert(p["name"]);
  }
  EXPECT_EQ(names,
            (std::set<std::string>{"pageSize", "pageToken", "namePrefix"}));
}

class JsonApiTest : public ::testing::Test {
 protected:
  HttpResponse Call(std::string_view method, std::string_view path,
                    std::string_view query = "", std::string_view body = "",
                    std::string_view authorization = "") {
    auto route = MatchRoute(method, path);
    if (!route.ok()) return ErrorResponse(route.status());
    HttpRequest request;
    request.method = method;
    request.path = path;
    request.query = query;
    request.body = body;
    request.authorization = authorization;
    request.peer = "ipv4:127.0.0.1:1";
    std::promise<HttpResponse> answered;
    api_->Serve(request, *route,
                [&](HttpResponse r) { answered.set_value(std::move(r)); });
    return answered.get_future().get();
  }
  void MakeApi(const TokenAuthenticator* auth = nullptr) {
    api_ = std::make_unique<JsonApi>(
        JsonApi::Options{.directory = &directory_,
                         .admission = {.auth = auth, .metrics = &metrics_},
                         .observers = {&metrics_}});
  }
  void SetUp() override { MakeApi(); }

  MemoryUserStore store_;
  GroupCommitter writer_{&store_, nullptr, {}};
  Directory directory_{&store_, &writer_, nullptr, {}};
  Metrics metrics_{{"/user.Users/GetUser", "/user.Users/CreateUser"}};
  std::unique_ptr<JsonApi> api_;
};

TEST_F(JsonApiTest, CreateGetUpdateDelete) {
  HttpResponse created = Call("POST", "/v1/users",
                              "requestId=3f1c1d2e-52c1-4f39-8a0e-9f6c1b1e0a11",
                              R"({"name":"ann","email":"ann@example.com"})");
  ASSERT_EQ(created.status, 200) << created.body;
  auto user = nlohmann::json::parse(created.body);
  const std::string id = user["id"];
  EXPECT_EQ(user["version"], "1");

  EXPECT_EQ(Call("GET", "/v1/users/" + id).status, 200);
  HttpResponse updated = Call("PATCH", "/v1/users/" + id, "updateMask=email",
                              R"({"email":"a2@example.com","version":"1"})");
  ASSERT_EQ(updated.status, 200) << updated.body;
  EXPECT_EQ(nlohmann::json::parse(updated.body)["email"], "a2@example.com");
  // The whole request as the body, mask inside.
  updated = Call("PATCH", "/v1/users/" + id, "",
                 R"({"user":{"displayName":"A","version":"2"},
                     "updateMask":"displayName"})");
  ASSERT_EQ(updated.status, 200) << updated.body;
  EXPECT_EQ(Call("PATCH", "/v1/users/" + id, "updateMask=email",
                 R"({"email":"x@example.com","version":"1"})")
                .status,
            409);
  EXPECT_EQ(Call("PATCH", "/v1/users/" + id, "updateMask=email",
                 R"({"id":"999","email":"x@example.com","version":"3"})")
                .status,
            400);
  EXPECT_EQ(Call("DELETE", "/v1/users/" + id, "version=1").status, 409);
  HttpResponse deleted = Call("DELETE", "/v1/users/" + id, "version=3");
  EXPECT_EQ(deleted.status, 200) << deleted.body;
  EXPECT_EQ(deleted.body, "{}");
  EXPECT_EQ(Call("GET", "/v1/users/" + id).status, 404);
}

TEST_F(JsonApiTest, EveryAnswerCarriesItsRequestId) {
  HttpResponse r = Call("GET", "/v1/users/1");
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].first, "x-request-id");
  EXPECT_FALSE(r.headers[0].second.empty());
}

TEST_F(JsonApiTest, TutorialAndBatchGet) {
  HttpResponse zero = Call("GET", "/v1/tutorial/users/0");
  EXPECT_EQ(zero.status, 404);
  EXPECT_EQ(nlohmann::json::parse(zero.body)["message"],
            "Sorry, id is not allowed 0");
  HttpResponse one = Call("GET", "/v1/tutorial/users/1", "name=ann");
  EXPECT_EQ(nlohmann::json::parse(one.body)["details"][0]["value"], "ann");
  EXPECT_EQ(Call("GET", "/v1/tutorial/users/4294967296").status, 400);

  HttpResponse batch = Call("GET", "/v1/users:batchGet", "ids=5&ids=6");
  ASSERT_EQ(batch.status, 200);
  auto answers = nlohmann::json::parse(batch.body)["responses"];
  ASSERT_EQ(answers.size(), 2u);
  EXPECT_EQ(answers[1]["id"], "6");
  EXPECT_EQ(answers[1]["code"], 5);
  EXPECT_EQ(Call("GET", "/v1/users:batchGet").status, 400);
  EXPECT_EQ(Call("GET", "/v1/users:batchGet", "ids=x").status, 400);
  EXPECT_EQ(Call("GET", "/v1/users:batchGet", "id=1").status, 400);
}

TEST_F(JsonApiTest, AuthAndRolesAsOverGrpc) {
  auto auth = TokenAuthenticator::Parse("rtok reader\nwtok writer\n");
  ASSERT_TRUE(auth.ok());
  MakeApi(&*auth);
  EXPECT_EQ(Call("GET", "/v1/users/1").status, 401);
  EXPECT_EQ(Call("GET", "/v1/users/1", "", "", "Bearer nope").status, 401);
  EXPECT_EQ(Call("GET", "/v1/users/1", "", "", "Bearer rtok").status, 404);
  const std::string body = R"({"name":"ann","email":"ann@example.com"})";
  EXPECT_EQ(Call("POST", "/v1/users", "", body, "Bearer rtok").status, 403);
  EXPECT_EQ(Call("POST", "/v1/users", "", body, "Bearer wtok").status, 200);
}

TEST_F(JsonApiTest, CallsAreCountedInTheSameMetrics) {
  Call("GET", "/v1/users/1");
  EXPECT_THAT(metrics_.Render(),
              HasSubstr("method=\"GetUser\",code=\"NOT_FOUND\""));
}

TEST_F(JsonApiTest, AnExpiredTimeoutIsDeadlineExceeded) {
  auto route = MatchRoute("GET", "/v1/users/1");
  HttpRequest request;
  request.method = "GET";
  request.path = "/v1/users/1";
  request.timeout = "0.000001ms";  // a nanosecond: over before it is read
  HttpResponse answer;
  api_->Serve(request, *route, [&](HttpResponse r) { answer = std::move(r); });
  EXPECT_EQ(answer.status, 504) << answer.body;
}

}  // namespace
}  // namespace users

#include "http/openapi.h"

#include <google/protobuf/descriptor.h>

#include <nlohmann/json.hpp>

#include "http/json_api.h"
#include "http/routes.h"
#include "service_protos/http_api.pb.h"
#include "service_protos/user.pb.h"

namespace users {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using nlohmann::json;

const Descriptor* Message(std::string_view full_name) {
  // Linked in: the generated pool knows a message once its file is.
  (void)user::User::descriptor();
  (void)user::http::ServerStatus::descriptor();
  return google::protobuf::DescriptorPool::generated_pool()
      ->FindMessageTypeByName(std::string(full_name));
}

std::string Ref(const Descriptor* type) {
  return "#/components/schemas/" + type->full_name();
}

class SchemaBuilder {
 public:
  // A reference to `type`'s schema, added with the schemas it uses.
  json RefTo(const Descriptor* type) {
    if (const auto special = WellKnown(type); !special.is_null()) {
      return special;
    }
    if (!schemas_.contains(type->full_name())) {
      schemas_[type->full_name()] = json::object();  // recursion guard
      json properties = json::object();
      for (int i = 0; i < type->field_count(); ++i) {
        properties[type->field(i)->json_name()] = Field(type->field(i));
      }
      schemas_[type->full_name()] = {{"type", "object"},
                                     {"properties", properties}};
    }
    return {{"$ref", Ref(type)}};
  }

  json Field(const FieldDescriptor* field) {
    json schema = Scalar(field);
    if (field->is_repeated()) return {{"type", "array"}, {"items", schema}};
    return schema;
  }

  const json& schemas() const { return schemas_; }

 private:
  static json WellKnown(const Descriptor* type) {
    const std::string& name = type->full_name();
    if (name == "google.protobuf.Timestamp") {
      return {{"type", "string"}, {"format", "date-time"}};
    }
    if (name == "google.protobuf.FieldMask") {
      return {{"type", "string"},
              {"description",
               "field paths, comma-separated: \"email,displayName\""}};
    }
    if (name == "google.protobuf.Empty") return {{"type", "object"}};
    if (name == "google.protobuf.Any") {
      return {{"type", "object"},
              {"properties", {{"@type", {{"type", "string"}}}}},
              {"additionalProperties", true}};
    }
    return nullptr;
  }

  json Scalar(const FieldDescriptor* field) {
    switch (field->cpp_type()) {
      case FieldDescriptor::CPPTYPE_INT32:
        return {{"type", "integer"}, {"format", "int32"}};
      case FieldDescriptor::CPPTYPE_UINT32:
        return {{"type", "integer"}, {"format", "uint32"}};
      // Protobuf's JSON mapping writes 64-bit integers as strings.
      case FieldDescriptor::CPPTYPE_INT64:
        return {{"type", "string"}, {"format", "int64"}};
      case FieldDescriptor::CPPTYPE_UINT64:
        return {{"type", "string"}, {"format", "uint64"}};
      case FieldDescriptor::CPPTYPE_DOUBLE:
      case FieldDescriptor::CPPTYPE_FLOAT:
        return {{"type", "number"}};
      case FieldDescriptor::CPPTYPE_BOOL:
        return {{"type", "boolean"}};
      case FieldDescriptor::CPPTYPE_ENUM: {
        json names = json::array();
        for (int i = 0; i < field->enum_type()->value_count(); ++i) {
          names.push_back(field->enum_type()->value(i)->name());
        }
        return {{"type", "string"}, {"enum", names}};
      }
      case FieldDescriptor::CPPTYPE_STRING:
        return {{"type", "string"}};
      case FieldDescriptor::CPPTYPE_MESSAGE:
        return RefTo(field->message_type());
    }
    return json::object();
  }

  json schemas_ = json::object();
};

json JsonContent(json schema) {
  return {{"application/json", {{"schema", std::move(schema)}}}};
}

}  // namespace

std::string OpenApiDocument(std::string_view version) {
  SchemaBuilder schemas;
  json paths = json::object();
  const json error = {
      {"description",
       "A google.rpc.Status; the HTTP status maps its gRPC code "
       "(docs/http.md)"},
      {"content", JsonContent(schemas.RefTo(Message("google.rpc.Status")))}};
  // BadRequest is what an Any in the details holds for field violations.
  (void)schemas.RefTo(Message("google.rpc.BadRequest"));

  for (const RouteInfo& route : AllRoutes()) {
    json operation = {{"summary", route.summary}};
    if (!route.rpc.empty()) {
      operation["operationId"] =
          std::string(route.rpc.substr(route.rpc.rfind('/') + 1));
    } else {
      operation["operationId"] =
          route.kind == RouteKind::kAdminPage ? "AdminPage"
          : route.kind == RouteKind::kOpenApi ? "OpenApi"
                                              : "GetStatus";
    }
    json parameters = json::array();
    const bool has_id = std::string_view(route.template_).find("{id}") !=
                        std::string_view::npos;
    if (has_id) {
      parameters.push_back(
          {{"name", "id"},
           {"in", "path"},
           {"required", true},
           {"schema", {{"type", "integer"}, {"format", "int64"}}}});
    }
    if (const Descriptor* request = Message(route.request)) {
      for (int i = 0; i < request->field_count(); ++i) {
        const FieldDescriptor* field = request->field(i);
        if (field->name() == route.body) continue;
        if (has_id && field->name() == "id") continue;
        parameters.push_back({{"name", field->json_name()},
                              {"in", "query"},
                              {"schema", schemas.Field(field)}});
      }
    }
    if (route.kind == RouteKind::kBatchGetUsers) {
      const json ids = {{"type", "integer"}, {"format", "int64"}};
      const json schema = {
          {"type", "array"}, {"maxItems", kMaxPageSize}, {"items", ids}};
      parameters.push_back({{"name", "ids"},
                            {"in", "query"},
                            {"required", true},
                            {"style", "form"},
                            {"explode", true},
                            {"schema", schema}});
    }
    if (route.kind == RouteKind::kWatchUsers) {
      parameters.push_back(
          {{"name", "Last-Event-ID"},
           {"in", "header"},
           {"description", "resume after this revision (EventSource sets it)"},
           {"schema", {{"type", "integer"}, {"format", "int64"}}}});
    }
    if (!route.rpc.empty()) {
      parameters.push_back({{"name", std::string(kTimeoutHeader)},
                            {"in", "header"},
                            {"description", "deadline: 250ms, 2s, 1.5m, 1h"},
                            {"schema", {{"type", "string"}}}});
      parameters.push_back({{"name", "x-request-id"},
                            {"in", "header"},
                            {"schema", {{"type", "string"}}}});
    }
    if (!parameters.empty()) operation["parameters"] = parameters;

    if (!route.body.empty()) {
      const Descriptor* request = Message(route.request);
      const FieldDescriptor* body =
          request->FindFieldByName(std::string(route.body));
      json schema = schemas.RefTo(body->message_type());
      if (route.kind == RouteKind::kUpdateUser) {
        // Or the whole request, mask inside.
        schema = {{"oneOf", {schema, schemas.RefTo(request)}}};
      }
      operation["requestBody"] = {{"required", true},
                                  {"content", JsonContent(schema)}};
    }
    if (route.kind == RouteKind::kImportUsers) {
      const json text = {{"schema", {{"type", "string"}}}};
      operation["requestBody"] = {
          {"required", true},
          {"description",
           "CSV with a header row naming name,email[,display_name], or JSON "
           "Lines; streamed, any size"},
          {"content", {{"text/csv", text}, {"application/x-ndjson", text}}}};
    }

    json ok = {{"description", "OK"}};
    if (route.kind == RouteKind::kWatchUsers) {
      ok["description"] =
          "Server-Sent Events: each `id` a revision, each `data` a UserEvent; "
          "an `end` event carries the google.rpc.Status the stream ended with";
      ok["content"] = {{"text/event-stream",
                        {{"schema", schemas.RefTo(Message(route.response))}}}};
    } else if (route.kind == RouteKind::kAdminPage) {
      ok["content"] = {{"text/html", {{"schema", {{"type", "string"}}}}}};
    } else if (route.kind == RouteKind::kOpenApi) {
      ok["content"] = JsonContent({{"type", "object"}});
    } else {
      ok["content"] = JsonContent(schemas.RefTo(Message(route.response)));
    }
    operation["responses"] = {{"200", ok}, {"default", error}};
    std::string method(route.method);
    for (char& c : method) c = static_cast<char>(std::tolower(c));
    paths[std::string(route.template_)][method] = operation;
  }

  json document = {
      {"openapi", "3.0.3"},
      {"info",
       {{"title", "users-server HTTP/JSON API"},
        {"version", std::string(version)},
        {"description",
         "The user.Users gRPC service over HTTP/1.1 and JSON "
         "(protobuf's JSON mapping); see docs/http.md"}}},
      {"paths", paths},
      {"components",
       {{"schemas", schemas.schemas()},
        {"securitySchemes",
         {{"bearer", {{"type", "http"}, {"scheme", "bearer"}}}}}}},
      {"security", json::array({json::object(), {{"bearer", json::array()}}})}};
  return document.dump(2);
}

}  // namespace users

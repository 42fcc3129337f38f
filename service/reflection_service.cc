#include "service/reflection_service.h"

#include <string>
#include <unordered_set>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>

namespace users {
namespace {

namespace pb = google::protobuf;

// The file first, then each dependency not yet in this response, depth first:
// the order grpc++'s plugin uses, which clients resolve without a second trip.
template <typename FileResponse>
void AddFile(const pb::FileDescriptor* file, FileResponse* out,
             std::unordered_set<std::string>* seen) {
  if (!seen->insert(file->name()).second) return;
  pb::FileDescriptorProto proto;
  file->CopyTo(&proto);
  proto.SerializeToString(out->add_file_descriptor_proto());
  for (int i = 0; i < file->dependency_count(); ++i)
    AddFile(file->dependency(i), out, seen);
}

template <typename Request, typename Response>
class ReflectionReactor final
    : public grpc::ServerBidiReactor<Request, Response> {
 public:
  explicit ReflectionReactor(const std::vector<std::string>* services)
      : services_(services) {
    this->StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the client half-closed, or the call is gone
      this->Finish(grpc::Status::OK);
      return;
    }
    response_.Clear();
    AnswerReflection(*services_, request_, &response_);
    this->StartWrite(&response_);
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      this->Finish(grpc::Status(grpc::StatusCode::CANCELLED,
                                "the reflection stream is gone"));
      return;
    }
    this->StartRead(&request_);
  }

  void OnDone() override { delete this; }

 private:
  const std::vector<std::string>* const services_;
  Request request_;
  Response response_;
};

}  // namespace

template <typename Request, typename Response>
void AnswerReflection(const std::vector<std::string>& services,
                      const Request& request, Response* response) {
  const pb::DescriptorPool* pool = pb::DescriptorPool::generated_pool();
  const pb::FileDescriptor* file = nullptr;
  grpc::Status error;
  switch (request.message_request_case()) {
    case Request::kFileByFilename:
      file = pool->FindFileByName(request.file_by_filename());
      if (file == nullptr) {
        error = grpc::Status(grpc::StatusCode::NOT_FOUND,
                             "no file named '" + request.file_by_filename() +
                                 "' is compiled into this server");
      }
      break;
    case Request::kFileContainingSymbol:
      file = pool->FindFileContainingSymbol(request.file_containing_symbol());
      if (file == nullptr) {
        error = grpc::Status(grpc::StatusCode::NOT_FOUND,
                             "no symbol named '" +
                                 request.file_containing_symbol() +
                                 "' is compiled into this server");
      }
      break;
    case Request::kFileContainingExtension: {
      const auto& ext = request.file_containing_extension();
      const pb::Descriptor* type =
          pool->FindMessageTypeByName(ext.containing_type());
      const pb::FieldDescriptor* field =
          type == nullptr
              ? nullptr
              : pool->FindExtensionByNumber(type, ext.extension_number());
      if (field != nullptr) {
        file = field->file();
      } else {
        error = grpc::Status(
            grpc::StatusCode::NOT_FOUND,
            type == nullptr
                ? "no message type named '" + ext.containing_type() + "'"
                : "'" + ext.containing_type() + "' has no extension numbered " +
                      std::to_string(ext.extension_number()));
      }
      break;
    }
    case Request::kAllExtensionNumbersOfType: {
      const std::string& name = request.all_extension_numbers_of_type();
      const pb::Descriptor* type = pool->FindMessageTypeByName(name);
      if (type == nullptr) {
        error = grpc::Status(grpc::StatusCode::NOT_FOUND,
                             "no message type named '" + name + "'");
        break;
      }
      std::vector<const pb::FieldDescriptor*> extensions;
      pool->FindAllExtensions(type, &extensions);
      auto* out = response->mutable_all_extension_numbers_response();
      out->set_base_type_name(name);
      for (const auto* field : extensions)
        out->add_extension_number(field->number());
      break;
    }
    case Request::kListServices: {
      auto* out = response->mutable_list_services_response();
      for (const auto& name : services) out->add_service()->set_name(name);
      break;
    }
    default:  // none set, or a kind newer than this server
      error = grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                           "unknown reflection request");
  }
  if (file != nullptr) {
    std::unordered_set<std::string> seen;
    AddFile(file, response->mutable_file_descriptor_response(), &seen);
  }
  if (!error.ok()) {
    auto* out = response->mutable_error_response();
    out->set_error_code(error.error_code());
    out->set_error_message(error.error_message());
  }
  response->set_valid_host(request.host());
  *response->mutable_original_request() = request;
}

template <typename Base, typename Request, typename Response>
grpc::ServerBidiReactor<Request, Response>*
ReflectionService<Base, Request, Response>::ServerReflectionInfo(
    grpc::CallbackServerContext* /*context*/) {
  return new ReflectionReactor<Request, Response>(&services_);
}

template void AnswerReflection(
    const std::vector<std::string>&,
    const grpc::reflection::v1::ServerReflectionRequest&,
    grpc::reflection::v1::ServerReflectionResponse*);
template void AnswerReflection(
    const std::vector<std::string>&,
    const grpc::reflection::v1alpha::ServerReflectionRequest&,
    grpc::reflection::v1alpha::ServerReflectionResponse*);
template class ReflectionService<
    grpc::reflection::v1::ServerReflection::CallbackService,
    grpc::reflection::v1::ServerReflectionRequest,
    grpc::reflection::v1::ServerReflectionResponse>;
template class ReflectionService<
    grpc::reflection::v1alpha::ServerReflection::CallbackService,
    grpc::reflection::v1alpha::ServerReflectionRequest,
    grpc::reflection::v1alpha::ServerReflectionResponse>;

}  // namespace users

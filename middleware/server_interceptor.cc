#include "middleware/server_interceptor.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string>
#include <utility>

#include <grpcpp/server_context.h>

#include "middleware/request_id.h"

namespace users {
namespace {

using grpc::experimental::InterceptionHookPoints;

class ObservingInterceptor final : public grpc::experimental::Interceptor {
 public:
  ObservingInterceptor(grpc::experimental::ServerRpcInfo* info,
                       const std::vector<CallObserver*>* observers)
      : info_(info), observers_(observers), start_(std::chrono::steady_clock::now()) {
    // Copied now: for unregistered (generic) methods the string belongs to
    // the server context, which is gone by the time this object is destroyed.
    // A fixed buffer, because a heap copy per call would cost more.
    const char* method = info->method();
    method_length_ = std::min(std::strlen(method), sizeof(method_) - 1);
    std::memcpy(method_, method, method_length_);
    method_[method_length_] = '\0';
    for (auto* o : *observers_) o->OnCallStart(method_view());
  }

  // Runs inside ~ServerContextBase: touch only this object's own members.
  ~ObservingInterceptor() override {
    if (!status_sent_) end_ = std::chrono::steady_clock::now();
    CallRecord record;
    record.method = method_view();
    record.peer = peer_;
    record.request_id = request_id_;
    record.code = code_;
    record.duration = end_ - start_;
    for (auto* o : *observers_) o->OnCallEnd(record);
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      if (auto* ctx = info_->server_context()) peer_ = ctx->peer();
      auto* md = methods->GetRecvInitialMetadata();
      auto it = md->find(grpc::string_ref(kRequestIdHeader.data(),
                                          kRequestIdHeader.size()));
      if (it != md->end()) {
        std::string_view id(it->second.data(), it->second.size());
        if (IsAcceptableRequestId(id)) request_id_.assign(id);
      }
      if (request_id_.empty()) request_id_ = NewRequestId();
    }
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      if (request_id_.empty()) request_id_ = NewRequestId();
      methods->GetSendInitialMetadata()->emplace(std::string(kRequestIdHeader),
                                                 request_id_);
    }
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_STATUS)) {
      code_ = static_cast<absl::StatusCode>(methods->GetSendStatus().error_code());
      status_sent_ = true;
      end_ = std::chrono::steady_clock::now();
    }
    methods->Proceed();
  }

 private:
  std::string_view method_view() const { return {method_, method_length_}; }

  grpc::experimental::ServerRpcInfo* info_;  // valid only during hooks
  const std::vector<CallObserver*>* observers_;
  char method_[96];
  size_t method_length_ = 0;
  std::string peer_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point end_;
  std::string request_id_;
  // A call that ends without sending a status was cancelled or broke.
  absl::StatusCode code_ = absl::StatusCode::kCancelled;
  bool status_sent_ = false;
};

}  // namespace

ObservingInterceptorFactory::ObservingInterceptorFactory(
    std::vector<CallObserver*> observers)
    : observers_(std::move(observers)) {}

grpc::experimental::Interceptor*
ObservingInterceptorFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  return new ObservingInterceptor(info, &observers_);
}

std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
MakeInterceptorCreators(std::vector<CallObserver*> observers) {
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
      creators;
  creators.push_back(
      std::make_unique<ObservingInterceptorFactory>(std::move(observers)));
  return creators;
}

}  // namespace users

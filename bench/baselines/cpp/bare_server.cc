// Bare grpc++ ListUser servers for comparison with users-server: the
// tutorial's ListUser and nothing else (no middleware, no storage).
//   bare-server callback HOST PORT   callback API, untuned
//   bare-server tuned HOST PORT      callback API with the settings that
//                                    helped (docs/performance.md, "Measured
//                                    before the code")
//   bare-server cq HOST PORT         completion queues, one per CPU the
//                                    process may run on, each with its own
//                                    thread and calls pre-posted
//   bare-server hybrid HOST PORT     ListUser as in cq, plus a callback
//                                    method (an experiment: a users-server
//                                    with its hot path on cqs and its
//                                    streams on callbacks)
#include <pthread.h>
#include <sched.h>
#include <signal.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/synchronization/mutex.h"
#include "service/recycling_allocator.h"
#include "service_protos/user.grpc.pb.h"

namespace {

grpc::Status Answer(const user::UserRequest& req, user::UserResponse* resp) {
  if (req.id() == 0) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        "Sorry, id is not allowed 0");
  }
  auto* d = resp->add_details();
  d->set_id(req.id());
  d->set_value(req.name());
  return grpc::Status::OK;
}

// ListUser on completion queues, GetUser on the callback API. Async must be
// marked before callback: grpc++ only drops a method's handler when a sync
// method turns async.
class HybridService final
    : public user::Users::WithCallbackMethod_GetUser<
          user::Users::WithAsyncMethod_ListUser<user::Users::Service>> {
  grpc::ServerUnaryReactor* GetUser(grpc::CallbackServerContext* ctx,
                                    const user::GetUserRequest*,
                                    user::User*) override {
    auto* reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

class CallbackService final : public user::Users::CallbackService {
  grpc::ServerUnaryReactor* ListUser(grpc::CallbackServerContext* ctx,
                                     const user::UserRequest* req,
                                     user::UserResponse* resp) override {
    auto* reactor = ctx->DefaultReactor();
    reactor->Finish(Answer(*req, resp));
    return reactor;
  }
};

// Classic async server: each CallData waits for one ListUser, answers it and
// re-posts itself.
template <typename Service>
class CallData {
 public:
  CallData(Service* service, grpc::ServerCompletionQueue* cq)
      : service_(service), cq_(cq), responder_(&ctx_) {
    service_->RequestListUser(&ctx_, &req_, &responder_, cq_, cq_, this);
  }
  void Proceed() {
    if (!finished_) {
      new CallData(service_, cq_);
      grpc::Status s = Answer(req_, &resp_);
      finished_ = true;
      responder_.Finish(resp_, s, this);
    } else {
      delete this;
    }
  }

 private:
  Service* service_;
  grpc::ServerCompletionQueue* cq_;
  grpc::ServerContext ctx_;
  user::UserRequest req_;
  user::UserResponse resp_;
  grpc::ServerAsyncResponseWriter<user::UserResponse> responder_;
  bool finished_ = false;
};

int WaitForSignal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  int sig = 0;
  sigwait(&set, &sig);
  return sig;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s callback|tuned|cq|hybrid HOST PORT\n",
                 argv[0]);
    return 2;
  }
  const std::string mode = argv[1];
  const std::string address = std::string(argv[2]) + ":" + argv[3];
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &port);
  CallbackService callback_service;
  users::RecyclingAllocator<user::UserRequest, user::UserResponse> allocator;
  user::Users::AsyncService async_service;
  HybridService hybrid_service;
  std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> cqs;
  if (mode == "callback") {
    builder.RegisterService(&callback_service);
  } else if (mode == "tuned") {
    absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
    callback_service.SetMessageAllocatorFor_ListUser(&allocator);
    builder.RegisterService(&callback_service);
    builder.AddChannelArgument("grpc.minimal_stack", 1);
    builder.AddChannelArgument(GRPC_ARG_ENABLE_CHANNELZ, 0);
    builder.AddChannelArgument(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  } else if (mode == "cq" || mode == "hybrid") {
    absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
    if (mode == "hybrid") {
      builder.RegisterService(&hybrid_service);
    } else {
      builder.RegisterService(&async_service);
    }
    builder.AddChannelArgument("grpc.minimal_stack", 1);
    builder.AddChannelArgument(GRPC_ARG_ENABLE_CHANNELZ, 0);
    builder.AddChannelArgument(GRPC_ARG_HTTP2_BDP_PROBE, 0);
    // Pinned to one CPU, a second cq thread only adds context switches
    // (113k vs 121k calls/s, 3 interleaved runs).
    cpu_set_t cpus;
    int n = static_cast<int>(std::thread::hardware_concurrency());
    if (sched_getaffinity(0, sizeof(cpus), &cpus) == 0) n = CPU_COUNT(&cpus);
    n = std::max(1, n);
    for (int i = 0; i < n; ++i) cqs.push_back(builder.AddCompletionQueue());
  } else {
    std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
    return 2;
  }
  auto server = builder.BuildAndStart();
  if (!server || port == 0) {
    std::fprintf(stderr, "cannot listen on %s\n", address.c_str());
    return 1;
  }
  std::vector<std::thread> threads;
  for (auto& cq : cqs) {
    auto serve = [](auto* svc, grpc::ServerCompletionQueue* cq) {
      using Data = CallData<std::remove_pointer_t<decltype(svc)>>;
      for (int i = 0; i < 256; ++i) new Data(svc, cq);
      void* tag;
      bool ok;
      while (cq->Next(&tag, &ok)) {
        if (ok) {
          static_cast<Data*>(tag)->Proceed();
        } else {
          delete static_cast<Data*>(tag);
        }
      }
    };
    if (mode == "hybrid") {
      threads.emplace_back(serve, &hybrid_service, cq.get());
    } else {
      threads.emplace_back(serve, &async_service, cq.get());
    }
  }
  std::printf("Server started, listening on %d\n", port);
  std::fflush(stdout);
  WaitForSignal();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  for (auto& cq : cqs) cq->Shutdown();
  for (auto& t : threads) t.join();
  return 0;
}

#include "server/http_front_end.h"

#include <atomic>
#include <limits>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "admin/assets.h"
#include "directory/import_rows.h"
#include "directory/import_session.h"
#include "http/cors.h"
#include "http/json_api.h"
#include "http/json_mapping.h"
#include "http/openapi.h"
#include "http/routes.h"
#include "server/secret_file.h"
#include "server/tls_files.h"
#include "service_protos/http_api.pb.h"
#include "version/version.h"

namespace users {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
// Bound to one io_context's executor, not Beast's type-erased default.
using TcpStream = beast::basic_stream<tcp, net::io_context::executor_type,
                                      beast::unlimited_rate_policy>;
using Socket =
    tcp::socket::rebind_executor<net::io_context::executor_type>::other;
using namespace std::chrono_literals;

// An SSE stream with nothing to say sends a comment this often, so that
// proxies keep it open and a vanished client is noticed.
constexpr auto kHeartbeat = 15s;
constexpr uint32_t kHeaderLimit = 16 * 1024;
constexpr size_t kReadChunk = 64 * 1024;
// What a closing connection reads and drops before it closes (Linger).
constexpr size_t kMaxLinger = 1 << 20;
// Not boost::none: Beast 1.74 compares a Content-Length with the optional
// limit itself, and any length is greater than none.
constexpr uint64_t kNoBodyLimit = std::numeric_limits<uint64_t>::max();
// An import row longer than this is refused alone (and skipped), so that a
// body without newlines cannot make a line of any size.
constexpr size_t kMaxImportLine = 64 * 1024;
// SSE events coalesced into one chunk, up to this many bytes.
constexpr size_t kSseChunk = 64 * 1024;

std::string PeerOf(const tcp::endpoint& endpoint) {
  auto address = endpoint.address();
  // A dual-stack socket sees IPv4 callers as ::ffff:a.b.c.d.
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    address = net::ip::make_address_v4(net::ip::v4_mapped, address.to_v6());
  }
  const std::string port = std::to_string(endpoint.port());
  if (address.is_v4()) return "ipv4:" + address.to_string() + ":" + port;
  return "ipv6:[" + address.to_string() + "]:" + port;
}

std::string_view View(beast::string_view s) { return {s.data(), s.size()}; }

std::chrono::nanoseconds Seconds(double s) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
      std::chrono::duration<double>(s));
}

bool Quiet(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == net::error::eof ||
         ec == net::error::operation_aborted || ec == beast::error::timeout ||
         ec == net::error::connection_reset || ec == net::error::broken_pipe ||
         ec == ssl::error::stream_truncated;
}

}  // namespace

class HttpFrontEnd::Impl {
 public:
  Impl(const ServerConfig& config, ServerCore* core,
       std::function<bool()> serving)
      : config_(config),
        core_(core),
        serving_(std::move(serving)),
        cors_(config.http_cors_origins),
        contexts_(MakeContexts(config.http_threads)),
        acceptor_(*contexts_[0]),
        accept_retry_(*contexts_[0]) {}

  absl::Status Start();
  void StopAccepting();
  void Shutdown(std::chrono::milliseconds grace);
  void Wait();
  int port() const { return port_; }

  // What connections share.
  const ServerConfig& config() const { return config_; }
  ServerCore* core() const { return core_; }
  const JsonApi& api() const { return *api_; }
  const CorsPolicy& cors() const { return cors_; }

  // An event's SSE frame ("id: R\ndata: {...}\n\n"), printed once however
  // many watchers send it: protobuf's JSON printer costs more than the rest
  // of a delivery (measured: 13.7 us of CPU per delivered event with a
  // print per watcher, against 3.5 us over gRPC). A revision names one
  // change, so a frame is the same for every watcher.
  std::shared_ptr<const std::string> SseFrame(const user::UserEvent& event) {
    Frame& slot = frames_[static_cast<uint64_t>(event.revision()) % kFrames];
    {
      absl::MutexLock lock(&frames_mu_);
      if (slot.revision == event.revision()) return slot.text;
    }
    auto text = std::make_shared<const std::string>(
        "id: " + std::to_string(event.revision()) + "\ndata: " + ToJson(event) +
        "\n\n");
    absl::MutexLock lock(&frames_mu_);
    slot.revision = event.revision();
    slot.text = text;
    return text;
  }
  std::span<CallObserver* const> observers() const { return observers_; }
  // The routes that are not RPCs: GET /v1/status, the OpenAPI document and
  // the admin page.
  HttpResponse ServeLocal(const Route& route) const;
  bool stopping() const { return stopping_; }
  // To read one request or write one answer (--http-request-timeout); a
  // slow or stalled client is disconnected then.
  std::chrono::nanoseconds request_timeout() const {
    return Seconds(config_.http_request_timeout_s);
  }

  class ConnectionBase {
   public:
    virtual ~ConnectionBase() = default;
    // On the connection's strand: close if waiting for a request (drain),
    // or at once (`force`).
    virtual void Stop(bool force) = 0;
  };
  void Register(ConnectionBase* c, std::weak_ptr<ConnectionBase> weak) {
    absl::MutexLock lock(&mu_);
    live_.emplace(c, std::move(weak));
  }
  void Unregister(ConnectionBase* c) {
    absl::MutexLock lock(&mu_);
    live_.erase(c);
  }

 private:
  void Accept();
  void OnAccept(beast::error_code ec, Socket socket);
  void CloseAcceptor();  // on the acceptor's loop
  void StopAll(bool force);

  const ServerConfig& config_;
  ServerCore* const core_;
  const std::function<bool()> serving_;
  std::optional<JsonApi> api_;  // from Start: the core is open then
  std::vector<CallObserver*> observers_;
  const std::string openapi_ = OpenApiDocument(ProjectVersion());
  const CorsPolicy cors_;
  // Destroyed after the loops below (declared first): a connection freed
  // with its loop still unregisters itself and uses the TLS context.
  std::optional<ssl::context> ssl_;
  absl::Mutex mu_;
  absl::flat_hash_map<ConnectionBase*, std::weak_ptr<ConnectionBase>> live_
      ABSL_GUARDED_BY(mu_);
  std::chrono::steady_clock::time_point drain_deadline_ ABSL_GUARDED_BY(mu_);

  struct Frame {
    int64_t revision = -1;
    std::shared_ptr<const std::string> text;
  };
  static constexpr size_t kFrames = 4096;  // recent events, by revision
  absl::Mutex frames_mu_;
  std::vector<Frame> frames_ = std::vector<Frame>(kFrames);

  // One event loop per thread, each connection on one of them: a
  // connection's handlers never run concurrently, so they need no strand
  // (whose lock and type-erased executor cost ~10% of a GetUser, measured
  // with perf), and posts from other threads go to the connection's loop.
  static std::vector<std::unique_ptr<net::io_context>> MakeContexts(int n) {
    std::vector<std::unique_ptr<net::io_context>> contexts;
    for (int i = 0; i < n; ++i) {
      contexts.push_back(std::make_unique<net::io_context>(1));
    }
    return contexts;
  }
  std::vector<std::unique_ptr<net::io_context>> contexts_;
  size_t next_context_ = 0;  // the acceptor's loop only
  // Keep each loop running while it has no connection; released by Shutdown
  // so that each returns once its last connection has closed.
  std::vector<net::executor_work_guard<net::io_context::executor_type>>
      idle_guards_;
  tcp::acceptor acceptor_;
  net::steady_timer accept_retry_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stopping_{false};
  int port_ = 0;
  bool waited_ = false;
};

namespace {

using Impl = HttpFrontEnd::Impl;

// One HTTP/1.1 connection, plain or TLS: reads a request, answers it, and
// reads the next while the client keeps the connection alive. Every step runs
// on the connection's strand, so its members need no lock; completions from
// other threads (a write's commit, the change feed's Wake) are posted to it.
template <typename Stream>
class Connection final
    : public Impl::ConnectionBase,
      public Watcher,
      public std::enable_shared_from_this<Connection<Stream>> {
 public:
  template <typename... Args>
  Connection(Impl* impl, std::string peer, Args&&... args)
      : impl_(impl),
        stream_(std::forward<Args>(args)...),
        peer_(std::move(peer)),
        heartbeat_(stream_.get_executor()) {}

  ~Connection() override {
    if (session_ != nullptr) session_->Unsubscribe();
    if (scope_ != nullptr) scope_->End(absl::StatusCode::kCancelled);
    impl_->Unregister(this);
  }

  void Start() {
    impl_->Register(this, this->weak_from_this());
    // The first step on the connection's own loop too, as every later one:
    // Start runs on the acceptor's thread, and a shutdown's Stop, posted to
    // this loop, found no read to cancel yet and the read then started
    // anyway: the server waited out its whole --shutdown-grace (seen under
    // ASan, 1 shutdown in 40 with connections arriving).
    net::dispatch(stream_.get_executor(),
                  [self = this->shared_from_this()] { self->Begin(); });
  }

  void Stop(bool force) override {
    net::post(stream_.get_executor(), [self = this->shared_from_this(), force] {
      if (force) return self->Close(/*hard=*/true);
      if (self->waiting_) self->Lowest().cancel();
    });
  }

  // From the change feed's thread, under the hub's lock: only posts.
  void Wake() override {
    if (auto self = this->weak_from_this().lock()) {
      net::post(stream_.get_executor(), [self] { self->PumpWatch(); });
    }
  }

 private:
  TcpStream& Lowest() { return beast::get_lowest_layer(stream_); }

  void Begin() {
    if constexpr (std::is_same_v<Stream, TcpStream>) {
      ReadRequest();
    } else {
      if (impl_->stopping()) return Close();
      // A drain cancels a handshake as it does a wait for a request.
      waiting_ = true;
      Lowest().expires_after(Seconds(impl_->config().handshake_timeout_s));
      stream_.async_handshake(
          ssl::stream_base::server,
          [self = this->shared_from_this()](beast::error_code ec) {
            self->waiting_ = false;
            if (ec) return self->Close();
            self->ReadRequest();
          });
    }
  }

  void ReadRequest() {
    if (impl_->stopping()) return Close();
    // They point into the parser's last request, which emplace frees.
    origin_ = path_ = query_ = {};
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    // No limit while the header is read: Beast would check a Content-Length
    // against it there, before the route (an import has none) is known.
    // RouteRequest sets each route's.
    parser_->body_limit(kNoBodyLimit);
    body_.clear();
    waiting_ = true;
    Lowest().expires_after(impl_->request_timeout());
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code ec, size_t) {
          self->waiting_ = false;
          self->OnHeader(ec);
        });
  }

  // Answers a request that could not be read, then closes.
  void Refuse(int status, const std::string& message) {
    keep_alive_ = false;
    HttpResponse response = ErrorResponse(absl::InvalidArgumentError(message));
    response.status = status;
    Respond(std::move(response));
  }

  void OnHeader(beast::error_code ec) {
    if (ec) {
      if (Quiet(ec)) return Close();
      if (ec == http::error::header_limit) {
        return Refuse(431, "request header over " +
                               std::to_string(kHeaderLimit) + " bytes");
      }
      return Refuse(400, "malformed HTTP request: " + ec.message());
    }
    auto& request = parser_->get();
    keep_alive_ = request.keep_alive();
    origin_ = View(request[http::field::origin]);
    const std::string_view target = View(request.target());
    const size_t q = target.find('?');
    path_ = target.substr(0, q);
    query_ =
        q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
    const std::string_view method = View(request.method_string());

    if (method == "OPTIONS" && !origin_.empty() &&
        !request[http::field::access_control_request_method].empty()) {
      HttpResponse preflight = impl_->cors().Preflight(origin_);
      if (!parser_->is_done()) keep_alive_ = false;
      return Respond(std::move(preflight));
    }
    auto route = MatchRoute(method, path_);
    if (!route.ok()) {
      if (!parser_->is_done()) keep_alive_ = false;
      HttpResponse response = ErrorResponse(route.status());
      if (route.status().code() == absl::StatusCode::kUnimplemented) {
        response.status = 405;
        response.headers.emplace_back("allow", AllowedMethods(path_));
      }
      return RespondRecorded("(no route)", route.status().code(),
                             std::move(response));
    }
    route_ = *route;
    // curl asks before sending a body over 1 MB. Said only once the request
    // is known to be taken (its size, its admission), so that a refused one
    // is answered before its body is sent.
    expect_continue_ =
        beast::iequals(request[http::field::expect], "100-continue") &&
        !parser_->is_done();
    RouteRequest();
  }

  // Runs `next` (which reads the body), after a 100 Continue if the client
  // waits for one.
  template <typename Next>
  void ContinueThen(Next next) {
    if (!expect_continue_) return next();
    expect_continue_ = false;
    auto go_on = std::make_shared<http::response<http::empty_body>>(
        http::status::continue_, parser_->get().version());
    Lowest().expires_after(impl_->request_timeout());
    http::async_write(stream_, *go_on,
                      [self = this->shared_from_this(), go_on,
                       next = std::move(next)](beast::error_code ec, size_t) {
                        if (ec) return self->Close();
                        next();
                      });
  }

  void RouteRequest() {
    switch (route_.info->kind) {
      case RouteKind::kWatchUsers:
        if (!parser_->is_done()) {
          return Refuse(400, "GET /v1/users:watch takes no body");
        }
        return StartWatch();
      case RouteKind::kImportUsers:
        return StartImport();
      default:
        // Beast checks a Content-Length against its limit only while it
        // reads the header, when there was none: checked here.

        if (const auto length = parser_->content_length();
            length.has_value() &&
            *length >
                static_cast<uint64_t>(impl_->config().max_message_bytes)) {
          return TooLarge();
        }
        parser_->body_limit(impl_->config().max_message_bytes);
        // The body gets the request timeout from here, not what the header
        // left of it.
        return ContinueThen([this] {
          Lowest().expires_after(impl_->request_timeout());
          ReadBody();
        });
    }
  }

  // Reads the body's next piece, up to a chunk, into chunk_; then
  // (this->*on_read)(ec, bytes read) on this connection's loop. A full chunk
  // is not an error here (Beast says need_buffer).
  void ReadBodyChunk(void (Connection::*on_read)(beast::error_code, size_t)) {
    auto& body = parser_->get().body();
    body.data = chunk_;
    body.size = sizeof(chunk_);
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this(), on_read](
                         beast::error_code ec, size_t) {
                       if (ec == http::error::need_buffer) ec = {};
                       const size_t n = sizeof(self->chunk_) -
                                        self->parser_->get().body().size;
                       ((*self).*on_read)(ec, n);
                     });
  }

  void ReadBody() {
    if (parser_->is_done()) return Serve();
    ReadBodyChunk(&Connection::OnBodyRead);
  }

  void OnBodyRead(beast::error_code ec, size_t n) {
    if (ec == http::error::body_limit) return TooLarge();
    if (ec) {
      if (Quiet(ec)) return Close();
      return Refuse(400, "malformed HTTP request body: " + ec.message());
    }
    body_.append(chunk_, n);
    ReadBody();
  }

  void TooLarge() {
    Refuse(413, "request body over " +
                    std::to_string(impl_->config().max_message_bytes) +
                    " bytes (--max-message-bytes)");
  }

  HttpRequest ApiRequest() const {
    const auto& request = parser_->get();
    HttpRequest r;
    r.method = View(request.method_string());
    r.path = path_;
    r.query = query_;
    r.body = body_;
    r.authorization = View(request[http::field::authorization]);
    r.request_id = View(request["x-request-id"]);
    r.timeout = View(request[beast::string_view(kTimeoutHeader.data(),
                                                kTimeoutHeader.size())]);
    r.peer = peer_;
    return r;
  }

  void Serve() {
    const RouteKind kind = route_.info->kind;
    if (kind == RouteKind::kOpenApi || kind == RouteKind::kStatus ||
        kind == RouteKind::kAdminPage) {
      HttpResponse response = impl_->ServeLocal(route_);
      return RespondRecorded(RecordedName(route_),
                             response.status == 200
                                 ? absl::StatusCode::kOk
                                 : absl::StatusCode::kNotFound,
                             std::move(response));
    }
    request_ = ApiRequest();
    // A read answers on this thread, inside Serve: answered at once. A write
    // answers on the writer thread: posted to the strand. Whichever of the
    // two sides comes second sends it.
    served_.store(kServing);
    auto self = this->shared_from_this();
    impl_->api().Serve(
        request_, route_,
        [self, guard = net::make_work_guard(stream_.get_executor())](
            HttpResponse response) {
          self->answer_ = std::move(response);
          if (self->served_.exchange(kAnswered) == kReturned) {
            net::post(self->stream_.get_executor(),
                      [self] { self->Respond(std::move(self->answer_)); });
          }
        });
    if (served_.exchange(kReturned) == kAnswered) Respond(std::move(answer_));
  }

  // What the access log calls a route that is no RPC: its path, for the
  // page's files (static strings, as a call's method must be).
  static std::string_view RecordedName(const Route& route) {
    if (route.info->kind != RouteKind::kAdminPage) return route.info->template_;
    const AdminAsset* asset = FindAdminAsset(route.asset);
    return asset != nullptr ? asset->path : std::string_view("(no such page)");
  }

  // An answer made here, not by an RPC (the page, the status, a path no
  // route has), recorded like a call: an access-log line and a count.
  void RespondRecorded(std::string_view method, absl::StatusCode code,
                       HttpResponse response) {
    CallScope scope(impl_->observers(), method, peer_,
                    View(parser_->get()["x-request-id"]));
    response.headers.emplace_back("x-request-id", scope.request_id());
    scope.End(code);
    Respond(std::move(response));
  }

  void Respond(HttpResponse answer) {
    auto response = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(answer.status), parser_->get().version());
    response->set(http::field::server, "users-server");
    response->set(http::field::content_type, answer.content_type);
    impl_->cors().AddHeaders(origin_, &answer.headers);
    for (auto& [name, value] : answer.headers) response->set(name, value);
    response->body() = std::move(answer.body);
    response->keep_alive(keep_alive_ && !impl_->stopping());
    response->prepare_payload();
    Lowest().expires_after(impl_->request_timeout());
    http::async_write(stream_, *response,
                      [self = this->shared_from_this(), response](
                          beast::error_code ec, size_t) {
                        if (ec || !response->keep_alive()) return self->Close();
                        self->ReadRequest();
                      });
  }

  // ---- GET /v1/users:watch, as Server-Sent Events ----

  void StartWatch() {
    request_ = ApiRequest();
    JsonApi::Admitted admitted = impl_->api().Admit(request_, route_);
    scope_ = std::move(admitted.scope);
    auto fail = [this](const absl::Status& status) {
      HttpResponse response = ErrorResponse(status);
      response.headers.emplace_back("x-request-id", scope_->request_id());
      scope_->End(status.code());
      scope_.reset();
      Respond(std::move(response));
    };
    if (!admitted.status.ok()) return fail(admitted.status);
    Directory* directory = impl_->api().directory();
    if (!directory->has_change_feed()) {
      return fail(absl::UnimplementedError("this server has no change feed"));
    }
    user::WatchUsersRequest watch;
    auto query = ParseQuery(query_);
    if (!query.ok()) return fail(query.status());
    if (auto s = MergeQuery(*query, &watch); !s.ok()) return fail(s);
    // An EventSource that reconnects says where it was.
    if (const auto last = parser_->get()["last-event-id"]; !last.empty()) {
      user::GetUserRequest revision;
      if (!MergeQuery({{"id", std::string(View(last))}}, &revision).ok() ||
          revision.id() < 0) {
        return fail(InvalidArgumentError(
            "Last-Event-ID must be a revision",
            {{"Last-Event-ID", "must be a non-negative integer"}}));
      }
      watch.set_since_revision(revision.id());
      watch.set_from_oldest(revision.id() == 0);
    }
    session_ = directory->NewWatchSession(this);
    absl::Status started =
        impl_->api().boundary().Run(route_.info->rpc, [&]() -> absl::Status {
          if (auto s = session_->Subscribe(watch); !s.ok()) return s;
          return session_->Position();
        });
    if (!started.ok()) {
      // Gone for good: a Wake already posted must find no session, or it
      // would write SSE bytes into the keep-alive connection's next answer.
      session_->Unsubscribe();
      session_.reset();
      return fail(started);
    }
    watch_started_ = true;
    auto header = std::make_shared<http::response<http::empty_body>>(
        http::status::ok, parser_->get().version());
    header->set(http::field::server, "users-server");
    header->set(http::field::content_type, "text/event-stream");
    header->set(http::field::cache_control, "no-cache");
    header->set("x-request-id", scope_->request_id());
    // nginx would otherwise hold events back in its buffers.
    header->set("x-accel-buffering", "no");
    if (watch.since_revision() == 0 && !watch.from_oldest()) {
      header->set(kWatchStartRevisionHeader,
                  std::to_string(session_->subscribed_at()));
    }
    std::vector<std::pair<std::string, std::string>> cors;
    impl_->cors().AddHeaders(origin_, &cors);
    for (auto& [name, value] : cors) header->set(name, value);
    header->chunked(true);
    header->keep_alive(false);
    auto serializer =
        std::make_shared<http::response_serializer<http::empty_body>>(*header);
    watch_writing_ = true;
    Lowest().expires_after(impl_->request_timeout());
    http::async_write_header(
        stream_, *serializer,
        [self = this->shared_from_this(), header, serializer](
            beast::error_code ec, size_t) { self->OnWatchWritten(ec); });
  }

  void OnWatchWritten(beast::error_code ec) {
    watch_writing_ = false;
    sending_.clear();
    if (ec) return EndWatch(absl::CancelledError("the client went away"));
    if (watch_ended_) return Close();
    Lowest().expires_never();
    if (!watching_for_hang_up_) {
      watching_for_hang_up_ = true;
      WatchForHangUp();
    }
    PumpWatch();
  }

  // An SSE client sends nothing after its request, so a read that ends means
  // it closed the connection: the watch ends now, not at the next
  // heartbeat's failed write (up to 30 s of a dead subscription, measured).
  void WatchForHangUp() {
    stream_.async_read_some(
        net::buffer(hang_up_probe_),
        [self = this->shared_from_this()](beast::error_code ec, size_t n) {
          if (self->watch_ended_) return;
          if (!ec && n > 0) return self->WatchForHangUp();  // stray bytes
          self->EndWatch(absl::CancelledError("the client went away"));
        });
  }

  // Sends what the session has, coalesced into chunks; ends the stream with
  // an `end` event carrying its google.rpc.Status.
  void PumpWatch() {
    if (!watch_started_ || watch_writing_ || watch_ended_) return;
    std::optional<absl::Status> end = session_->Interrupted();
    thread_local user::UserEvent event;
    while (!end.has_value() && pending_.size() < kSseChunk) {
      bool more = false;
      absl::Status ended;
      const auto step = session_->Next(&event, &more, &ended);
      if (step == WatchSession::Step::kEvent) {
        pending_ += *impl_->SseFrame(event);
        continue;
      }
      if (step == WatchSession::Step::kReadPage) {
        // A store read on this I/O thread: the replay of a page of the log
        // (256 events), as the gRPC reactor does it on its own.
        session_->AcceptPage(session_->ReadPage(session_->page_after()));
        continue;
      }
      if (step == WatchSession::Step::kEnd) end = ended;
      break;  // kIdle: until woken
    }
    if (end.has_value()) {
      pending_ += "event: end\ndata: " + StatusToJsonText(*end) + "\n\n";
      FinishWatchScope(end->code());
    }
    if (pending_.empty()) return ArmHeartbeat();
    WriteWatchChunk(std::move(pending_));
    pending_.clear();
  }

  static std::string StatusToJsonText(const absl::Status& status) {
    return ErrorResponse(status).body;
  }

  void FinishWatchScope(absl::StatusCode code) {
    watch_ended_ = true;
    heartbeat_.cancel();
    session_->Unsubscribe();
    if (scope_ != nullptr) {
      scope_->End(code);
      scope_.reset();
    }
  }

  void EndWatch(const absl::Status& status) {
    if (!watch_ended_) FinishWatchScope(status.code());
    Close();
  }

  void WriteWatchChunk(std::string text) {
    sending_ = std::move(text);
    watch_writing_ = true;
    Lowest().expires_after(impl_->request_timeout());
    auto done = [self = this->shared_from_this()](
                    beast::error_code ec, size_t) { self->OnWatchWritten(ec); };
    if (watch_ended_) {
      // The events, then the last chunk: the response is complete.
      chunks_ = std::make_unique<ChunksThenLast>(
          http::make_chunk(net::const_buffer(sending_.data(), sending_.size())),
          http::make_chunk_last());
      net::async_write(stream_, *chunks_, std::move(done));
    } else {
      net::async_write(
          stream_,
          http::make_chunk(net::const_buffer(sending_.data(), sending_.size())),
          std::move(done));
    }
  }

  void ArmHeartbeat() {
    heartbeat_.expires_after(kHeartbeat);
    heartbeat_.async_wait(
        [self = this->shared_from_this()](beast::error_code ec) {
          if (ec || self->watch_writing_ || self->watch_ended_) return;
          self->WriteWatchChunk(": keep-alive\n\n");
        });
  }

  // ---- POST /v1/users:import ----

  // The body is read a chunk at a time and cut into lines; rows go through
  // an ImportSession into batches, one committing while the next fills, and
  // reading pauses while a full batch waits: memory stays at a chunk and a
  // batch or two, whatever the body's size.
  struct ImportState {
    ImportRows rows;
    ImportSession session;
    std::string line;       // the line being assembled across chunks
    bool skipping = false;  // past kMaxImportLine: dropped up to its '\n'
    bool in_flight = false, paused = false, body_done = false;
    Deadline deadline = Deadline::max();
  };

  void StartImport() {
    request_ = ApiRequest();
    JsonApi::Admitted admitted = impl_->api().Admit(request_, route_);
    scope_ = std::move(admitted.scope);
    if (!admitted.status.ok()) return EndImport(admitted.status);
    import_ = std::make_unique<ImportState>();
    import_->deadline = admitted.deadline;
    parser_->body_limit(kNoBodyLimit);  // a stream: no limit but the rows'
    ContinueThen([this] { ReadImport(); });
  }

  void ReadImport() {
    if (parser_->is_done()) return OnImportBodyDone();
    // Per chunk: an import may take long, but a stalled sender is cut off.
    Lowest().expires_after(impl_->request_timeout());
    ReadBodyChunk(&Connection::OnImportRead);
  }

  void OnImportRead(beast::error_code ec, size_t n) {
    if (ec) {
      // Batches already committed stay; the summary cannot be sent.
      if (Quiet(ec)) return Close();
      return EndImport(absl::InvalidArgumentError(
          "malformed HTTP request body: " + ec.message()));
    }
    if (absl::Status fatal = FeedImport(std::string_view(chunk_, n));
        !fatal.ok()) {
      return EndImport(fatal);
    }
    if (import_->session.BatchFull()) {
      if (import_->in_flight) {
        import_->paused = true;  // OnImportCommitted reads on
        return;
      }
      SubmitImportBatch();
    }
    ReadImport();
  }

  absl::Status FeedImport(std::string_view data) {
    ImportState& s = *import_;
    while (!data.empty()) {
      const size_t newline = data.find('\n');
      const std::string_view piece = data.substr(0, newline);
      data = newline == std::string_view::npos ? std::string_view()
                                               : data.substr(newline + 1);
      if (!s.skipping) {
        s.line.append(piece);
        if (s.line.size() > kMaxImportLine) {
          s.session.AddRejected({"", s.rows.TooLong(kMaxImportLine)});
          s.line.clear();
          s.skipping = true;
        }
      }
      if (newline == std::string_view::npos) break;
      if (s.skipping) {
        s.skipping = false;
        continue;
      }
      if (absl::Status fatal = TakeImportLine(); !fatal.ok()) return fatal;
    }
    return absl::OkStatus();
  }

  absl::Status TakeImportLine() {
    ImportState& s = *import_;
    auto row = s.rows.Line(s.line);
    s.line.clear();
    if (!row.ok()) return row.status();
    if (!row->error.ok()) {
      s.session.AddRejected({"", std::move(row->error)});
    } else if (row->user.has_value()) {
      s.session.Add(*row->user);
    }
    return absl::OkStatus();
  }

  void OnImportBodyDone() {
    ImportState& s = *import_;
    if (!s.line.empty() && !s.skipping) {
      if (absl::Status fatal = TakeImportLine(); !fatal.ok()) {
        return EndImport(fatal);
      }
    }
    if (absl::Status empty = s.rows.Finish(); !empty.ok()) {
      return EndImport(empty);
    }
    s.body_done = true;
    FinishImportWhenCommitted();
  }

  void SubmitImportBatch() {
    import_->in_flight = true;
    auto batch =
        std::make_shared<ImportSession::Batch>(import_->session.TakeBatch());
    std::vector<Mutation> mutations = std::move(batch->mutations);
    impl_->api().directory()->CommitImportBatch(
        std::move(mutations), import_->deadline,
        [self = this->shared_from_this(), batch,
         guard = net::make_work_guard(stream_.get_executor())](
            GroupCommitter::Results results) {
          net::post(self->stream_.get_executor(),
                    [self, batch, results = std::move(results)] {
                      self->OnImportCommitted(*batch, results);
                    });
        });
  }

  void OnImportCommitted(const ImportSession::Batch& batch,
                         const GroupCommitter::Results& results) {
    ImportState& s = *import_;
    s.session.Record(batch, results);
    s.in_flight = false;
    if (s.body_done) return FinishImportWhenCommitted();
    if (s.paused) {
      s.paused = false;
      if (s.session.BatchFull()) SubmitImportBatch();
      ReadImport();
    }
  }

  void FinishImportWhenCommitted() {
    ImportState& s = *import_;
    if (s.in_flight) return;  // OnImportCommitted comes back here
    if (s.session.HasPending()) return SubmitImportBatch();
    HttpResponse answer;
    answer.body = ToJson(s.session.summary());
    EndImport(absl::OkStatus(), std::move(answer));
  }

  // Answers the import: the summary, or a status that refused it whole.
  void EndImport(const absl::Status& status, HttpResponse answer = {}) {
    if (!status.ok()) {
      answer = ErrorResponse(status);
      // The rest of the body is unread: the connection cannot be reused.
      if (!parser_->is_done()) keep_alive_ = false;
    }
    answer.headers.emplace_back("x-request-id", scope_->request_id());
    scope_->End(status.code());
    scope_.reset();
    Respond(std::move(answer));
  }

  // Hard: at once, even with a write in flight (a TLS close_notify would be
  // a second write).
  void Close(bool hard = false) {
    heartbeat_.cancel();
    if (session_ != nullptr && !watch_ended_) {
      FinishWatchScope(absl::StatusCode::kCancelled);
    }
    if (hard) {
      closed_ = true;
      Lowest().close();  // whatever is pending ends with operation_aborted
      return;
    }
    if (closed_) return;
    closed_ = true;
    beast::error_code ignored;
    if constexpr (std::is_same_v<Stream, TcpStream>) {
      // A lingering close: with request bytes unread (an answer sent before
      // the body, a 413), closing at once would send an RST that can
      // destroy the answer before the client reads it. So: FIN, then read
      // and drop what still comes, for a second at most.
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      Linger(0);
    } else if (watch_writing_ || watching_for_hang_up_) {
      // A TLS close_notify would queue behind the pending write or the
      // hang-up probe's read.
      Lowest().close();
    } else {
      Lowest().expires_after(1s);
      stream_.async_shutdown(
          [self = this->shared_from_this()](beast::error_code) {
            self->Lowest().close();
          });
    }
  }

  void Linger(size_t drained) {
    if (drained == 0) Lowest().expires_after(1s);
    if (watching_for_hang_up_ || drained > kMaxLinger) {
      return Lowest().close();  // the probe reads already, or too much
    }
    Lowest().async_read_some(net::buffer(chunk_),
                             [self = this->shared_from_this(), drained](
                                 beast::error_code ec, size_t n) {
                               if (ec) return self->Lowest().close();
                               self->Linger(drained + n);
                             });
  }

  using ChunksThenLast =
      beast::buffers_cat_view<http::chunk_body<net::const_buffer>,
                              http::chunk_last<http::chunk_crlf>>;

  Impl* const impl_;
  Stream stream_;
  const std::string peer_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::buffer_body>> parser_;
  char chunk_[kReadChunk];
  std::string body_;
  std::string_view path_, query_, origin_;
  Route route_;
  HttpRequest request_;
  bool keep_alive_ = true;
  bool waiting_ = false;  // for the next request: closed by a drain
  bool closed_ = false;
  bool expect_continue_ = false;

  // Serve's handoff (see there).
  static constexpr int kServing = 0, kAnswered = 1, kReturned = 2;
  std::atomic<int> served_{kServing};
  HttpResponse answer_;

  // A watch or an import.
  std::unique_ptr<CallScope> scope_;
  std::unique_ptr<ImportState> import_;
  std::unique_ptr<WatchSession> session_;
  std::string pending_, sending_;
  std::unique_ptr<ChunksThenLast> chunks_;
  bool watch_started_ = false;  // its header is out: events may follow
  bool watch_writing_ = false;
  bool watch_ended_ = false;
  bool watching_for_hang_up_ = false;
  char hang_up_probe_[64];
  net::steady_timer heartbeat_;
};

}  // namespace

HttpResponse HttpFrontEnd::Impl::ServeLocal(const Route& route) const {
  if (route.info->kind == RouteKind::kStatus) {
    user::http::ServerStatus status;
    status.set_serving(serving_());
    status.set_version(std::string(ProjectVersion()));
    status.set_commit(std::string(GitCommit()));
    status.set_revision(core_->revision());
    HttpResponse response;
    response.body = ToJson(status);
    response.headers.emplace_back("cache-control", "no-store");
    return response;
  }
  if (route.info->kind == RouteKind::kOpenApi) {
    HttpResponse response;
    response.body = openapi_;
    return response;
  }
  const AdminAsset* asset = FindAdminAsset(route.asset);
  if (asset == nullptr) {
    return ErrorResponse(
        absl::NotFoundError("no such page: " + std::string(route.asset) +
                            " (the admin page is at /, the API under /v1/)"));
  }
  HttpResponse response;
  response.content_type = std::string(asset->content_type);
  response.body = std::string(asset->data);
  response.headers = {
      {"cache-control", "no-cache"},
      // The page loads nothing from elsewhere and frames nothing.
      {"content-security-policy",
       "default-src 'self'; connect-src 'self'; frame-ancestors 'none'"},
      {"x-content-type-options", "nosniff"}};
  return response;
}

absl::Status HttpFrontEnd::Impl::Start() {
  observers_ = core_->observers();
  api_.emplace(JsonApi::Options{
      .directory = core_->directory(),
      .admission = core_->admission(),
      .observers = core_->observers(),
      .status_on_unknown_exception = config_.status_on_unknown_exception,
      .max_reply_bytes = 0});
  if (!config_.tls_cert.empty()) {
    auto files =
        LoadTlsFiles(config_.tls_cert, config_.tls_key, config_.tls_client_ca,
                     config_.allow_readable_secrets);
    if (!files.ok()) return files.status();
    ssl_.emplace(ssl::context::tls_server);
    ssl_->set_options(ssl::context::default_workarounds |
                      ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                      ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    try {
      ssl_->use_certificate_chain(
          net::buffer(files->cert_chain.data(), files->cert_chain.size()));
      ssl_->use_private_key(
          net::buffer(files->private_key.data(), files->private_key.size()),
          ssl::context::pem);
      if (!files->client_ca.empty()) {
        ssl_->add_certificate_authority(
            net::buffer(files->client_ca.data(), files->client_ca.size()));
        ssl_->set_verify_mode(ssl::verify_peer |
                              ssl::verify_fail_if_no_peer_cert);
      }
    } catch (const boost::system::system_error& e) {
      return absl::InvalidArgumentError(
          std::string("cannot use the TLS files for HTTP: ") + e.what());
    }
  }
  beast::error_code ec;
  std::string host = config_.http_host;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  const auto address = net::ip::make_address(host, ec);
  if (ec) {
    return absl::InvalidArgumentError("--http-host " + config_.http_host +
                                      " is not an IP address");
  }
  const tcp::endpoint endpoint(
      address, static_cast<unsigned short>(
                   config_.http_port < 0 ? 0 : config_.http_port));
  auto fail = [&](const char* what) {
    return absl::UnavailableError(
        "cannot " + std::string(what) + " for HTTP on " + config_.http_host +
        ":" + std::to_string(config_.http_port) + ": " + ec.message());
  };
  if (acceptor_.open(endpoint.protocol(), ec)) return fail("open a socket");
  if (acceptor_.set_option(net::socket_base::reuse_address(true), ec)) {
    return fail("set SO_REUSEADDR");
  }
  if (acceptor_.bind(endpoint, ec)) return fail("listen");
  if (acceptor_.listen(net::socket_base::max_listen_connections, ec)) {
    return fail("listen");
  }
  port_ = acceptor_.local_endpoint().port();
  Accept();
  for (auto& context : contexts_) {
    idle_guards_.push_back(net::make_work_guard(*context));
    threads_.emplace_back([context = context.get()] {
      // A handler that throws unwinds out of run(); the loop goes on (Asio's
      // advice) rather than take the process down. The connection whose
      // handler threw is dropped with it.
      for (;;) {
        try {
          context->run();
          return;
        } catch (const std::exception& e) {
          spdlog::error("HTTP connection dropped: {}", e.what());
        }
      }
    });
  }
  return absl::OkStatus();
}

void HttpFrontEnd::Impl::Accept() {
  net::io_context& next = *contexts_[next_context_++ % contexts_.size()];
  acceptor_.async_accept(next, [this](beast::error_code ec, Socket socket) {
    OnAccept(ec, std::move(socket));
  });
}

void HttpFrontEnd::Impl::OnAccept(beast::error_code ec, Socket socket) {
  if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
  if (ec) {
    // Out of descriptors, most likely: try again shortly rather than spin.
    spdlog::warn("HTTP accept failed: {}", ec.message());
    accept_retry_.expires_after(100ms);
    accept_retry_.async_wait([this](beast::error_code wait) {
      if (!wait && acceptor_.is_open()) Accept();
    });
    return;
  }
  beast::error_code peer_ec;
  const auto remote = socket.remote_endpoint(peer_ec);
  std::string peer = peer_ec ? std::string("unknown") : PeerOf(remote);
  socket.set_option(tcp::no_delay(true), peer_ec);
  if (ssl_.has_value()) {
    std::make_shared<Connection<beast::ssl_stream<TcpStream>>>(
        this, std::move(peer), std::move(socket), *ssl_)
        ->Start();
  } else {
    std::make_shared<Connection<TcpStream>>(this, std::move(peer),
                                            std::move(socket))
        ->Start();
  }
  Accept();
}

void HttpFrontEnd::Impl::CloseAcceptor() {
  beast::error_code ignored;
  acceptor_.close(ignored);
  accept_retry_.cancel();
}

void HttpFrontEnd::Impl::StopAccepting() {
  net::post(acceptor_.get_executor(), [this] { CloseAcceptor(); });
}

void HttpFrontEnd::Impl::StopAll(bool force) {
  std::vector<std::shared_ptr<ConnectionBase>> live;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [raw, weak] : live_) {
      if (auto c = weak.lock()) live.push_back(std::move(c));
    }
  }
  for (auto& c : live) c->Stop(force);
}

void HttpFrontEnd::Impl::Shutdown(std::chrono::milliseconds grace) {
  if (stopping_.exchange(true)) return;
  {
    absl::MutexLock lock(&mu_);
    drain_deadline_ = std::chrono::steady_clock::now() + grace;
  }
  // The loops are let go on the acceptor's loop, once it is closed: every
  // connection accepted before has queued its first step on its own loop by
  // then, and a loop let go with nothing queued returns at once, so a step
  // queued after that would never run.
  net::post(acceptor_.get_executor(), [this] {
    CloseAcceptor();
    for (auto& guard : idle_guards_) guard.reset();
  });
  // Busy connections close after their answer (keep-alive is off now).
  StopAll(/*force=*/false);
}

void HttpFrontEnd::Impl::Wait() {
  if (waited_) return;
  waited_ = true;
  // Past the grace period, whatever is left is closed.
  auto drained = [this] {
    absl::MutexLock lock(&mu_);
    // Read here: Shutdown sets it from another thread.
    return mu_.AwaitWithDeadline(
        absl::Condition(
            +[](decltype(live_)* live) { return live->empty(); }, &live_),
        absl::FromChrono(std::chrono::system_clock::now() +
                         (drain_deadline_ - std::chrono::steady_clock::now())));
  };
  if (!drained()) StopAll(/*force=*/true);
  for (auto& t : threads_) t.join();
}

HttpFrontEnd::HttpFrontEnd(const ServerConfig& config, ServerCore* core,
                           std::function<bool()> serving)
    : impl_(std::make_unique<Impl>(config, core, std::move(serving))) {}

HttpFrontEnd::~HttpFrontEnd() {
  impl_->Shutdown(std::chrono::milliseconds(0));
  impl_->Wait();
}

absl::Status HttpFrontEnd::Start() { return impl_->Start(); }
int HttpFrontEnd::port() const { return impl_->port(); }
void HttpFrontEnd::StopAccepting() { impl_->StopAccepting(); }
void HttpFrontEnd::Shutdown(std::chrono::milliseconds grace) {
  impl_->Shutdown(grace);
}
void HttpFrontEnd::Wait() { impl_->Wait(); }

}  // namespace users

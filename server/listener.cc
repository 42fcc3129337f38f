#include "server/listener.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

namespace users {
namespace {

constexpr int kBacklog = 1024;

std::string ErrnoText(int error) { return std::strerror(error); }

std::string Describe(const sockaddr* address, socklen_t length) {
  char host[NI_MAXHOST] = "?";
  char port[NI_MAXSERV] = "?";
  getnameinfo(address, length, host, sizeof(host), port, sizeof(port),
              NI_NUMERICHOST | NI_NUMERICSERV);
  return address->sa_family == AF_INET6 ? "[" + std::string(host) + "]:" + port
                                        : std::string(host) + ":" + port;
}

// The cause of a failed bind, with what to do about it.
std::string BindFailure(int error, const std::string& where) {
  switch (error) {
    case EADDRINUSE:
      return "cannot listen on " + where +
             ": the port is in use (stop what holds it, or choose another "
             "with --port)";
    case EADDRNOTAVAIL:
      return "cannot listen on " + where +
             ": not an address of this host (check --host)";
    case EACCES:
      return "cannot listen on " + where +
             ": permission denied (ports below 1024 need root or "
             "CAP_NET_BIND_SERVICE; choose another with --port)";
    default:
      return "cannot listen on " + where + ": " + ErrnoText(error);
  }
}

absl::StatusOr<int> BindOne(const addrinfo& ai, int port) {
  sockaddr_storage address{};
  std::memcpy(&address, ai.ai_addr, ai.ai_addrlen);
  if (ai.ai_family == AF_INET6) {
    reinterpret_cast<sockaddr_in6*>(&address)->sin6_port = htons(port);
  } else {
    reinterpret_cast<sockaddr_in*>(&address)->sin_port = htons(port);
  }
  const auto* sa = reinterpret_cast<const sockaddr*>(&address);
  const std::string where = Describe(sa, ai.ai_addrlen);
  const int fd = socket(
      ai.ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, ai.ai_protocol);
  if (fd < 0) {
    return absl::UnavailableError("cannot listen on " + where + ": " +
                                  ErrnoText(errno));
  }
  const int one = 1;
  // Restarts may bind while old connections linger in TIME_WAIT. Never
  // SO_REUSEPORT: a second server on a busy port must fail, not share it.
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  // Accepted sockets inherit it; gRPC wants small messages sent at once.
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (ai.ai_family == AF_INET6) {
    // "[::]" serves IPv4 too, as grpc's own listener does.
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    const int v6only =
        std::memcmp(&in6->sin6_addr, &in6addr_any, sizeof(in6addr_any)) != 0;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only));
  }
  if (bind(fd, sa, ai.ai_addrlen) != 0 || listen(fd, kBacklog) != 0) {
    const int error = errno;
    close(fd);
    return absl::UnavailableError(BindFailure(error, where));
  }
  return fd;
}

int BoundPort(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  return address.ss_family == AF_INET6
             ? ntohs(reinterpret_cast<sockaddr_in6*>(&address)->sin6_port)
             : ntohs(reinterpret_cast<sockaddr_in*>(&address)->sin_port);
}

// An HTTP/2 server preface (empty SETTINGS) and a GOAWAY with
// ENHANCE_YOUR_CALM and a reason, which gRPC clients report as UNAVAILABLE.
std::string RefusalFrames() {
  static constexpr std::string_view kReason =
      "users-server: connection limit reached (--max-connections)";
  std::string frames = {0, 0, 0, 0x4, 0, 0, 0, 0, 0};  // SETTINGS
  const size_t length = 8 + kReason.size();
  frames += {0,
             static_cast<char>(length >> 8),
             static_cast<char>(length),
             0x7,
             0,
             0,
             0,
             0,
             0};             // GOAWAY, stream 0
  frames += {0, 0, 0, 0};    // last stream id
  frames += {0, 0, 0, 0xb};  // ENHANCE_YOUR_CALM
  frames += kReason;
  return frames;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Listener>> Listener::Bind(
    const std::string& host, int port, ListenerOptions options) {
  std::string name = host;
  if (name.size() >= 2 && name.front() == '[' && name.back() == ']') {
    name = name.substr(1, name.size() - 2);
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* resolved = nullptr;
  if (const int error = getaddrinfo(name.empty() ? nullptr : name.c_str(), "0",
                                    &hints, &resolved);
      error != 0) {
    return absl::UnavailableError("cannot listen on " + host + ":" +
                                  std::to_string(port) + ": " +
                                  gai_strerror(error) + " (check --host)");
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> owner(resolved,
                                                           &freeaddrinfo);
  std::vector<int> fds;
  int bound_port = port;
  absl::Status failure;
  for (const addrinfo* ai = resolved; ai != nullptr; ai = ai->ai_next) {
    auto fd = BindOne(*ai, bound_port);
    if (!fd.ok()) {
      failure = fd.status();
      break;
    }
    fds.push_back(*fd);
    bound_port = BoundPort(*fd);
  }
  if (!failure.ok() || fds.empty()) {
    for (int fd : fds) close(fd);
    if (failure.ok())
      failure = absl::UnavailableError("no address for " + host);
    return failure;
  }
  return std::unique_ptr<Listener>(
      new Listener(std::move(fds), bound_port, std::move(options)));
}

Listener::Listener(std::vector<int> fds, int port, ListenerOptions options)
    : fds_(std::move(fds)), port_(port), options_(std::move(options)) {
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

Listener::~Listener() {
  Stop();
  if (wake_fd_ >= 0) close(wake_fd_);
}

void Listener::Start(ConnectionSink sink) {
  sink_ = std::move(sink);
  thread_ = std::thread([this] { Run(); });
}

void Listener::Stop() {
  if (thread_.joinable()) {
    const uint64_t one = 1;
    (void)!write(wake_fd_, &one, sizeof(one));
    thread_.join();
  }
  for (int fd : fds_) close(fd);
  fds_.clear();
}

void Listener::Run() {
  std::vector<pollfd> polled;
  for (int fd : fds_) polled.push_back({fd, POLLIN, 0});
  polled.push_back({wake_fd_, POLLIN, 0});
  pollfd* const wake = &polled.back();
  bool exhausted = false;
  for (;;) {
    // Out of descriptors, the sockets stay readable (the kernel keeps
    // completing handshakes into the backlog), so wait on the wake-up alone
    // for a moment and then try again, rather than spin.
    const int ready =
        exhausted
            ? poll(wake, 1,
                   static_cast<int>(options_.retry_after_exhaustion.count()))
            : poll(polled.data(), polled.size(), -1);
    if (ready < 0 && errno != EINTR) {
      spdlog::error("listener: poll failed: {}", ErrnoText(errno));
      return;
    }
    if (wake->revents != 0) return;  // Stop
    exhausted = false;
    for (int fd : fds_) {
      if (!AcceptAll(fd)) exhausted = true;
    }
    SetAccepting(!exhausted);
  }
}

bool Listener::AcceptAll(int listen_fd) {
  for (;;) {
    const int fd =
        accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      Admit(listen_fd, fd);
      continue;
    }
    switch (errno) {
      case EAGAIN:
        return true;  // queue drained (and a descriptor was free for it)
      case EINTR:
      case ECONNABORTED:
      case EPROTO:
      case EPERM:  // a firewall rule
        continue;
      case EMFILE:
      case ENFILE:
      case ENOBUFS:
      case ENOMEM:
        return false;
      default:
        spdlog::error("listener: accept failed: {}", ErrnoText(errno));
        return false;
    }
  }
}

void Listener::Admit(int listener_fd, int fd) {
  if (options_.max_connections != 0) {
    if (tracked_.size() >= options_.max_connections) Sweep();
    if (tracked_.size() >= options_.max_connections) {
      Refuse(fd);
      return;
    }
    struct stat st {};
    fstat(fd, &st);
    tracked_.emplace_back(fd, st.st_ino);
  }
  sink_(listener_fd, fd);
}

void Listener::Refuse(int fd) {
  const uint64_t refused = ++refused_;
  // Log the first refusal and then every 1,000th, not one line each.
  if (refused % 1000 == 1) {
    spdlog::warn(
        "connection refused: {} connections open, the limit "
        "(--max-connections); {} refused so far",
        options_.max_connections, refused);
  }
  if (options_.plaintext) {
    static const std::string frames = RefusalFrames();
    (void)!send(fd, frames.data(), frames.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    shutdown(fd, SHUT_WR);
  }
  close(fd);
}

void Listener::Sweep() {
  std::erase_if(tracked_, [](const std::pair<int, ino_t>& entry) {
    struct stat st {};
    return fstat(entry.first, &st) != 0 || st.st_ino != entry.second ||
           !S_ISSOCK(st.st_mode);
  });
}

void Listener::SetAccepting(bool accepting) {
  if (accepting_ == accepting) return;
  accepting_ = accepting;
  if (accepting) {
    spdlog::info("listener: accepting connections again");
  } else {
    spdlog::error(
        "listener: out of file descriptors, new connections wait (raise "
        "`ulimit -n`, or lower --max-connections below it)");
  }
  if (options_.on_accepting_changed) options_.on_accepting_changed(accepting);
}

}  // namespace users

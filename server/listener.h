// The gRPC port's listening sockets and accept loop, owned by us rather than
// by grpc core.
//
// grpc core 1.51 stops accepting for good after one accept4() fails with
// EMFILE (its listener is never re-armed), so a stranger with enough idle
// connections could take the port down until restart. Here the accept loop
// is ours: it hands each connection to grpc++ through an
// ExternalConnectionAcceptor (which runs the same TLS and HTTP/2 handshakes,
// with the handshake timeout, as grpc's own listener), keeps the number of
// connections under a cap, and, when the process is out of descriptors,
// backs off and tries again instead of giving up.
//
// Thread-safe: Start/Stop from one thread.
#ifndef USERS_SERVER_LISTENER_H_
#define USERS_SERVER_LISTENER_H_

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace users {

// Where a connection is handed once accepted: the listening socket it came
// from, and the connection, whose ownership passes to the sink.
using ConnectionSink = std::function<void(int listener_fd, int fd)>;

struct ListenerOptions {
  // Connections open at once beyond this are refused as soon as they are
  // accepted (0: no cap).
  size_t max_connections = 0;
  // Plaintext listeners refuse with an HTTP/2 GOAWAY that says why; a TLS
  // listener can only close.
  bool plaintext = true;
  // How long to wait before accepting again after running out of
  // descriptors.
  std::chrono::milliseconds retry_after_exhaustion{100};
  // Told (on the accept thread) when accepting stops or starts working
  // again; true means accepting.
  std::function<void(bool accepting)> on_accepting_changed;
};

class Listener {
 public:
  // Binds every address `host` resolves to ("[::]" is dual-stack, as in
  // grpc) on `port` (0: a free one, the same on every address) and listens.
  // Errors name the address and the cause.
  static absl::StatusOr<std::unique_ptr<Listener>> Bind(
      const std::string& host, int port, ListenerOptions options);
  ~Listener();

  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  int port() const { return port_; }

  // Starts the accept thread. Call once.
  void Start(ConnectionSink sink);
  // Stops accepting and closes the listening sockets; queued connections
  // that were never accepted are reset by the kernel. Idempotent.
  void Stop();

 private:
  Listener(std::vector<int> fds, int port, ListenerOptions options);

  void Run();
  // Accepts everything queued on `fd`; false once out of descriptors.
  bool AcceptAll(int fd);
  void Admit(int listener_fd, int fd);
  void Refuse(int fd);
  void SetAccepting(bool accepting);
  // Forgets handed-over connections that grpc has closed since.
  void Sweep();

  std::vector<int> fds_;  // listening sockets
  const int port_;
  const ListenerOptions options_;
  ConnectionSink sink_;
  int wake_fd_ = -1;  // an eventfd that ends Run
  std::thread thread_;

  // Accept thread only. accepting_: false while the last accept failed for
  // want of descriptors or memory (told through on_accepting_changed).
  bool accepting_ = true;
  uint64_t refused_ = 0;

  // Connections handed to grpc, by descriptor and socket inode: grpc does
  // not say when it closes one, and a descriptor number is soon reused, but
  // an open socket's inode is its own. Accept thread only.
  std::vector<std::pair<int, ino_t>> tracked_;
};

}  // namespace users

#endif  // USERS_SERVER_LISTENER_H_

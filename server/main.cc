// users-server: serves user.Users until SIGINT or SIGTERM.
#include <pthread.h>
#include <signal.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <thread>

#include <spdlog/spdlog.h>

#include "absl/synchronization/mutex.h"
#include "server/config.h"
#include "server/logging.h"
#include "server/users_server.h"

int main(int argc, char** argv) {
  // Debian's abseil is built without NDEBUG, so every absl::Mutex inside gRPC
  // would feed a global deadlock graph: 3-10% of throughput
  // (docs/performance.md, "Measured before the code").
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  users::ServerConfig config;
  int exit_code = 0;
  if (!users::ParseServerConfig(argc, argv, &config, &exit_code)) {
    return exit_code;
  }

  // Block the stop signals before any thread exists, so that every thread
  // inherits the mask and only the shutdown thread below receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  // A signal ignored when the process starts (SIGINT for a background job
  // of a script) is discarded, blocked or not, and sigwait would never see
  // it: the server would not stop. It decides about these two itself.
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  users::InitLogging(config.log_format, config.log_level);
  users::UsersServer server(config);
  if (auto status = server.Start(); !status.ok()) {
    spdlog::critical("cannot start: {}", std::string(status.message()));
    spdlog::shutdown();
    return users::kExitCannotStart;
  }
  if (server.metrics_port() > 0) {
    spdlog::info("metrics on http://{}:{}/metrics", config.metrics_host,
                 server.metrics_port());
  }
  if (server.http_port() > 0) {
    // Before the tutorial's line, which stays the last: scripts wait for it.
    std::printf("HTTP API on port %d\n", server.http_port());
  }
  std::printf("Server started, listening on %d\n", server.port());
  std::fflush(stdout);

  // Shutdown runs here, never on a gRPC thread.
  std::thread shutdown_thread([&] {
    int signal_number = 0;
    sigwait(&stop_signals, &signal_number);
    if (config.drain_delay_s > 0) {
      spdlog::info("received signal {}, draining for {} s before shutting down",
                   signal_number, config.drain_delay_s);
      server.BeginDrain();
      const auto delay = std::chrono::nanoseconds(
          static_cast<int64_t>(config.drain_delay_s * 1e9));
      timespec wait{};
      wait.tv_sec = static_cast<time_t>(delay.count() / 1000000000);
      wait.tv_nsec = static_cast<long>(delay.count() % 1000000000);
      siginfo_t info;
      // A second stop signal ends the wait early.
      while (sigtimedwait(&stop_signals, &info, &wait) < 0 && errno == EINTR) {
      }
    }
    spdlog::info("received signal {}, shutting down", signal_number);
    server.Shutdown(std::chrono::milliseconds(
        static_cast<int64_t>(config.shutdown_grace_s * 1000)));
  });
  server.Wait();
  shutdown_thread.join();
  spdlog::info("server stopped");
  spdlog::shutdown();
  return 0;
}

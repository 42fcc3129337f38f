// users-server's command line and environment (server/config.h). Each input
// line is one argument, or, as USERS_<NAME>=<value>, one environment
// variable. Whatever is accepted must hold the documented ranges.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <streambuf>
#include <string>
#include <string_view>
#include <vector>

#include "server/config.h"

namespace {

struct NullBuffer : std::streambuf {
  int overflow(int c) override { return c; }
};

void Check(bool held) {
  if (!held) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // --help and every refusal print; a fuzzer would spend its time there.
  // Never destroyed: the streams flush through it after static destructors
  // have run (a static sink was gone by then: a SEGV at exit under ASan).
  static auto* const sink = new NullBuffer;
  std::cout.rdbuf(sink);
  std::cerr.rdbuf(sink);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> args{"users-server"};
  std::vector<std::string> env;
  size_t start = 0;
  while (start <= input.size() && args.size() < 64) {
    size_t end = input.find('\n', start);
    if (end == std::string_view::npos) end = input.size();
    const std::string line(input.substr(start, end - start));
    const size_t eq = line.find('=');
    if (line.rfind("USERS_", 0) == 0 && eq != std::string::npos &&
        line.find('\0') == std::string::npos) {
      if (setenv(line.substr(0, eq).c_str(), line.c_str() + eq + 1, 1) == 0) {
        env.push_back(line.substr(0, eq));
      }
    } else {
      args.push_back(line);
    }
    start = end + 1;
  }
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);

  users::ServerConfig config;
  int exit_code = -1;
  const bool start_server = users::ParseServerConfig(
      static_cast<int>(args.size()), argv.data(), &config, &exit_code);
  for (const auto& name : env) unsetenv(name.c_str());

  if (!start_server) {
    Check(exit_code == users::kExitOk || exit_code == users::kExitUsage);
    return 0;
  }
  Check(config.port >= 0 && config.port <= 65535);
  Check(config.http_port >= -1 && config.http_port <= 65535);
  Check(config.metrics_port >= -1 && config.metrics_port <= 65535);
  Check(config.http_threads >= 1 && config.db_pool >= 1);
  Check(config.event_retention >= 1 && config.watch_queue_limit >= 1);
  Check(config.max_message_bytes >= 1024 && config.max_inflight >= 0);
  for (double seconds :
       {config.drain_delay_s, config.shutdown_grace_s,
        config.http_request_timeout_s, config.handshake_timeout_s}) {
    Check(std::isfinite(seconds) && seconds >= 0);
  }
  Check(config.tls_cert.empty() == config.tls_key.empty());
  Check(config.tls_client_ca.empty() || !config.tls_cert.empty());
  return 0;
}

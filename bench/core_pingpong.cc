// core-pingpong: how long a cache line takes to travel between CPU 0 and
// CPU 1 and back. On this kind of VM it is ~100 ns normally and ~380 ns in a
// slow state during which every multi-threaded gRPC server loses a third of
// its throughput (docs/performance.md, "Measured before the code"); `make
// bench` records it per run and flags
// slow ones. Prints the median round trip in nanoseconds.
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

namespace {

void Pin(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

}  // namespace

int main() {
  constexpr int kRounds = 200000;
  constexpr int kSamples = 9;
  alignas(64) std::atomic<int> ball{0};
  std::vector<double> samples;
  for (int s = 0; s < kSamples; ++s) {
    ball.store(0);
    std::thread other([&] {
      Pin(1);
      for (int i = 0; i < kRounds; ++i) {
        while (ball.load(std::memory_order_acquire) != 2 * i + 1) {
        }
        ball.store(2 * i + 2, std::memory_order_release);
      }
    });
    Pin(0);
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kRounds; ++i) {
      ball.store(2 * i + 1, std::memory_order_release);
      while (ball.load(std::memory_order_acquire) != 2 * i + 2) {
      }
    }
    const auto ns = std::chrono::duration<double, std::nano>(
                        std::chrono::steady_clock::now() - start)
                        .count();
    other.join();
    samples.push_back(ns / kRounds);
  }
  std::sort(samples.begin(), samples.end());
  std::printf("%.0f\n", samples[kSamples / 2]);
  return 0;
}

// The fuzz targets' smoke run in every `make test`, built by g++, which has
// no libFuzzer: each seed of fuzz/corpus/<target>/, then random mutations of
// the seeds until the time is up. Not coverage-guided (that is `make fuzz`,
// with clang); it keeps every target building and running under the
// sanitizers of the tree it is built in. Small and ours because the only
// engine here is libFuzzer, and a clang tree in every test run would double
// its build.
//   <target>_fuzz_smoke <corpus dir> <seconds> [seed]
// A failure names the seed and the iteration: rerun with the same seed.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc,
                                                          char*** argv);

namespace {

constexpr size_t kMaxInput = 64 * 1024;

void Run(const std::string& input) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()),
                         input.size());
}

// One of libFuzzer's simpler mutations, chosen at random.
void Mutate(std::mt19937_64& rng, const std::vector<std::string>& seeds,
            std::string* input) {
  auto below = [&rng](size_t n) {
    return std::uniform_int_distribution<size_t>(0, n - 1)(rng);
  };
  static constexpr char kInteresting[] = {
      '\0', '\x7f', '\x80', '\xff', '\n', '\r', ',', '"', '\\',
      '{',  '}',    ':',    '=',    '%',  ' ',  '-', '0', '9'};
  switch (below(6)) {
    case 0:
      if (!input->empty()) (*input)[below(input->size())] ^= 1 << below(8);
      break;
    case 1:
      if (!input->empty()) {
        (*input)[below(input->size())] =
            kInteresting[below(sizeof(kInteresting))];
      }
      break;
    case 2:
      input->insert(below(input->size() + 1), 1 + below(4),
                    static_cast<char>(below(256)));
      break;
    case 3:
      if (!input->empty()) {
        const size_t at = below(input->size());
        input->erase(at, 1 + below(input->size() - at));
      }
      break;
    case 4:
      if (!input->empty()) {
        const size_t at = below(input->size());
        const std::string part = input->substr(at, 1 + below(16));
        input->insert(below(input->size() + 1), part);
      }
      break;
    default: {
      const std::string& other = seeds[below(seeds.size())];
      if (!other.empty()) {
        const size_t at = below(other.size());
        input->insert(below(input->size() + 1), other.substr(at));
      }
    }
  }
  if (input->size() > kMaxInput) input->resize(kMaxInput);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s <corpus dir> <seconds> [seed]\n", argv[0]);
    return 2;
  }
  const double seconds = std::atof(argv[2]);
  const uint64_t seed =
      argc > 3 ? std::strtoull(argv[3], nullptr, 10) : std::random_device{}();
  if (LLVMFuzzerInitialize != nullptr) LLVMFuzzerInitialize(&argc, &argv);

  std::vector<std::string> seeds;
  for (const auto& entry : std::filesystem::directory_iterator(argv[1])) {
    std::ifstream file(entry.path(), std::ios::binary);
    seeds.emplace_back(std::istreambuf_iterator<char>(file),
                       std::istreambuf_iterator<char>());
  }
  std::sort(seeds.begin(), seeds.end());  // the seed alone picks the inputs
  if (seeds.empty()) {
    std::fprintf(stderr, "no seeds in %s\n", argv[1]);
    return 2;
  }
  std::fprintf(stderr, "fuzz smoke: seed %llu\n",
               static_cast<unsigned long long>(seed));
  for (const auto& input : seeds) Run(input);

  std::mt19937_64 rng(seed);
  const auto end =
      std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  uint64_t execs = seeds.size();
  while (std::chrono::steady_clock::now() < end) {
    std::string input =
        seeds[std::uniform_int_distribution<size_t>(0, seeds.size() - 1)(rng)];
    const int rounds = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < rounds; ++i) Mutate(rng, seeds, &input);
    Run(input);
    ++execs;
  }
  std::printf("fuzz smoke: %llu execs in %.0f s, 0 crashes (seed %llu)\n",
              static_cast<unsigned long long>(execs), seconds,
              static_cast<unsigned long long>(seed));
  return 0;
}

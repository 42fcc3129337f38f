#!/usr/bin/env bash
# make fuzz-coverage: how much of our code the fuzzers' corpora reach. Builds
# the libFuzzer targets again with clang's source-based coverage in their own
# tree, replays each target's corpus once (what `make fuzz` found, in
# FUZZ_BUILD_DIR, plus the committed seeds) and prints, per target, the lines
# of our own code linked into it that the corpus executed:
#   coverage: <target>: <covered>/<lines> lines (<percent>%) of our code linked in, ...
#   coverage:   reached: <file> <percent> (<covered>/<lines>); ... (the six largest)
# The per-file report and an HTML view stay in <dir>/fuzz/coverage/<target>/.
#   FUZZ_BUILD_DIR=build-fuzz  FUZZ_COVERAGE_BUILD_DIR=build-fuzz-coverage
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
corpora=$(realpath -m "${FUZZ_BUILD_DIR:-$root/build-fuzz}")/fuzz/corpus
dir=$(realpath -m "${FUZZ_COVERAGE_BUILD_DIR:-$root/build-fuzz-coverage}")

cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER=clang++ -DUSERS_FUZZ=ON -DUSERS_FUZZ_COVERAGE=ON \
  -DUSERS_BUILD_TESTS=OFF -DUSERS_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build "$dir" -j "$(nproc)" --target fuzzers

# Not ours: the system's headers, generated code, the fuzz drivers themselves.
ignore='^/usr/|/gen/|/fuzz/'
for fuzzer in "$dir"/fuzz/*_fuzzer; do
  name=$(basename "$fuzzer" _fuzzer)
  out="$dir/fuzz/coverage/$name"
  rm -rf "$out" && mkdir -p "$out"
  inputs=("$root/fuzz/corpus/$name")
  if [[ -d $corpora/$name ]]; then inputs+=("$corpora/$name"); fi
  # -runs=0: execute every input once, mutate nothing.
  LLVM_PROFILE_FILE="$out/%p.profraw" "$fuzzer" -runs=0 -rss_limit_mb=2048 \
    "${inputs[@]}" >"$out/replay.log" 2>&1
  llvm-profdata merge -sparse -o "$out/$name.profdata" "$out"/*.profraw
  rm -f "$out"/*.profraw
  llvm-cov report "$fuzzer" -instr-profile="$out/$name.profdata" \
    -ignore-filename-regex="$ignore" >"$out/report.txt"
  llvm-cov show "$fuzzer" -instr-profile="$out/$name.profdata" \
    -ignore-filename-regex="$ignore" -format=html -output-dir="$out/html"
  # The TOTAL row: regions (3), functions (3), lines: total, missed, cover.
  read -r lines missed percent < <(awk '$1 == "TOTAL" {print $8, $9, $10}' "$out/report.txt")
  files=$(grep -c '\.\(cc\|h\) ' "$out/report.txt" || true)
  inputs_run=$(find "${inputs[@]}" -type f | wc -l)
  echo "coverage: $name: $((lines - missed))/$lines lines ($percent) of our code linked in, $files files, $inputs_run inputs"
  # Then the files the corpus reached at all, the most lines first.
  reached=$(awk '$1 ~ /\.(cc|h)$/ && $8 > $9 {printf "%s %s (%d/%d)\n", $1, $10, $8 - $9, $8}' \
    "$out/report.txt" | sort -t'(' -k2 -n -r | head -6 | paste -sd';' | sed 's/;/; /g')
  echo "coverage:   reached: $reached"
done

#!/usr/bin/env bash
# make fuzz: builds the libFuzzer targets of fuzz/ with clang in their own
# tree and runs each for FUZZ_SECONDS; exits non-zero on any crash, leak or
# timeout. One line per target, then
#   fuzz: <targets> targets, <execs> execs, <crashes> crashes
#   FUZZ_SECONDS=60  FUZZ_BUILD_DIR=build-fuzz  scripts/fuzz.sh
# FUZZ_RUNS=N stops each target after N executions instead (FUZZ_SECONDS then
# only caps it, if set); FUZZ_TARGETS="page_token salvage" runs only those.
set -euo pipefail
runs=${FUZZ_RUNS:-}
if [[ -n $runs ]]; then
  seconds=${FUZZ_SECONDS:-0}  # 0: no time limit
else
  seconds=${FUZZ_SECONDS:-60}
fi
root=$(cd "$(dirname "$0")/.." && pwd)
dir=$(realpath -m "${FUZZ_BUILD_DIR:-$root/build-fuzz}")

cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER=clang++ -DUSERS_FUZZ=ON \
  -DUSERS_BUILD_TESTS=OFF -DUSERS_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build "$dir" -j "$(nproc)" --target fuzzers

targets=0 total=0 crashes=0
for fuzzer in "$dir"/fuzz/*_fuzzer; do
  name=$(basename "$fuzzer" _fuzzer)
  if [[ -n ${FUZZ_TARGETS:-} && " $FUZZ_TARGETS " != *" $name "* ]]; then
    continue
  fi
  # New inputs go to the build tree's corpus; the seeds stay as committed.
  corpus="$dir/fuzz/corpus/$name" artifacts="$dir/fuzz/artifacts/$name/"
  mkdir -p "$corpus" "$artifacts"
  log="$dir/fuzz/$name.log"
  flags=()
  # rpc_requests' server keeps what every call leaves (users, events, its
  # cache, grpc's pools), so each input counts as a possible leak and costs
  # a full leak scan: 4x fewer inputs a second. Its leaks are still checked
  # when the run ends (LeakSanitizer at exit fails the run).
  [[ $name == rpc_requests ]] && flags+=(-detect_leaks=0)
  # server_config's CLI11 parser makes hundreds of allocations per input,
  # and recording each one's stack took a sixth of the time (perf): 30%
  # more inputs a second without, side by side. A crash report still has
  # its own stack; rerunning the saved input alone gives the allocation
  # stacks.
  asan=${ASAN_OPTIONS:-}
  [[ $name == server_config ]] && asan+=${asan:+:}malloc_context_size=0
  status=0 started=$SECONDS
  ASAN_OPTIONS=$asan "$fuzzer" "${flags[@]}" -max_total_time="$seconds" ${runs:+-runs="$runs"} -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$artifacts" \
    "$corpus" "$root/fuzz/corpus/$name" >"$log" 2>&1 || status=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
  edges=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || true)
  if ((status != 0)); then
    crashes=$((crashes + 1))
    echo "fuzz: $name FAILED (exit $status), input in $artifacts, log $log"
    grep -m 3 -E "ERROR|SUMMARY" "$log" || true
  fi
  echo "fuzz: $name: ${execs:-0} execs in $((SECONDS - started)) s, ${edges:-0} edges covered"
  targets=$((targets + 1)) total=$((total + ${execs:-0}))
done
if ((targets == 0)); then
  echo "fuzz: no target in $dir/fuzz named in FUZZ_TARGETS=\"${FUZZ_TARGETS:-}\"" >&2
  exit 2
fi
echo "fuzz: $targets targets, $total execs, $crashes crashes"
((crashes == 0))

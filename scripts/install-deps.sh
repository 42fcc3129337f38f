#!/usr/bin/env bash
# Installs the Debian 12 packages this project builds and tests with.
# Idempotent: asks apt only for packages that are missing, so a warm machine
# pays one dpkg-query and nothing else.
#   scripts/install-deps.sh            build + test dependencies
#   scripts/install-deps.sh bench      also the benchmark peers (h2load, Go, ...)
set -euo pipefail

packages=(
  build-essential cmake pkg-config git make
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
  grpc-proto libabsl-dev
  libsqlite3-dev libsqlitecpp-dev libssl-dev libpq-dev
  postgresql-15  # the server programs only: tests start throwaway clusters
  libspdlog-dev libfmt-dev libcli11-dev nlohmann-json3-dev libcpp-httplib-dev
  libgtest-dev libgmock-dev
  python3-grpcio python3-protobuf python3-h2
  openssl procps
  haproxy  # the load balancer the cluster tests put in front of replicas
  libboost1.74-dev  # Beast and Asio: the HTTP/JSON front end (header-only)
  chromium  # the admin page's browser test (driven by playwright-core from npm)
)
if [[ "${1:-}" == "fuzz" ]]; then
  packages+=(clang llvm)  # libFuzzer comes with clang; llvm-cov with llvm
fi
if [[ "${1:-}" == "bench" ]]; then
  packages+=(
    nghttp2-client util-linux gnuplot-nox linux-perf
    golang-go golang-google-grpc-dev golang-google-protobuf-dev
    golang-github-golang-protobuf-1-5-dev protoc-gen-go protoc-gen-go-grpc
  )
fi
# Node for the grpc-js interop test and baseline. Only when missing: a
# NodeSource nodejs already bundles npm and conflicts with Debian's npm.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
# Debian's postgresql package would create and start a system cluster; the
# tests need only its programs (scripts/with-postgres.sh).
if [[ " ${missing[*]} " == *" postgresql-15 "* ]]; then
  "${sudo_cmd[@]}" mkdir -p /etc/postgresql-common/createcluster.d
  echo "create_main_cluster = false" |
    "${sudo_cmd[@]}" tee /etc/postgresql-common/createcluster.d/users-no-main-cluster.conf >/dev/null
fi
# Nor may haproxy (or anything else installed here) start as a system
# service: tests start their own on free ports. policy-rc.d answering 101
# tells Debian's maintainer scripts not to start services.
policy=/usr/sbin/policy-rc.d
made_policy=0
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' | "${sudo_cmd[@]}" tee "$policy" >/dev/null
  "${sudo_cmd[@]}" chmod 755 "$policy"
  made_policy=1
fi
remove_policy() { if ((made_policy)); then "${sudo_cmd[@]}" rm -f "$policy"; fi; }
trap remove_policy EXIT
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"

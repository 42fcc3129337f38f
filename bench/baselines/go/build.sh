#!/usr/bin/env bash
# Builds the grpc-go baseline offline, in GOPATH mode, from Debian's packages:
#   bench/baselines/go/build.sh [OUT_DIR]     (default: build/bench/go)
# Writes OUT_DIR/users-go-server; generated code goes to OUT_DIR/gopath, never
# into the source tree. Safe to re-run: Go's build cache makes it quick.
# Exits 3 when the toolchain is not installed (tests skip on that), 1 on any
# other error, such as the wrong protobuf-go.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../../.." && pwd)
out=${1:-$root/build/bench/go}

# Debian's packages only: the same list as scripts/install-deps.sh bench.
packages=(golang-go golang-google-grpc-dev golang-google-protobuf-dev
  golang-github-golang-protobuf-1-5-dev protoc-gen-go protoc-gen-go-grpc)
missing=()
for tool in go protoc protoc-gen-go protoc-gen-go-grpc; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
for pkg in google.golang.org/grpc google.golang.org/protobuf github.com/golang/protobuf; do
  [[ -d /usr/share/gocode/src/$pkg ]] || missing+=("/usr/share/gocode/src/$pkg")
done
if ((${#missing[@]})); then
  echo "build.sh: missing ${missing[*]}; install ${packages[*]}" >&2
  exit 3
fi
# Installed but the wrong generation: golang-goprotobuf-dev brings protobuf 1.3
# (its protoc-gen-go writes no APIv2 code, and grpc-go 1.33 needs the 1.5
# bridge to marshal APIv2 messages) and apt removes the 1.5 packages for it.
# 1.3's plugin has no --version; 1.5's proto package has registry.go.
if [[ $(protoc-gen-go --version </dev/null 2>/dev/null) != "protoc-gen-go v1."* ||
      ! -f /usr/share/gocode/src/github.com/golang/protobuf/proto/registry.go ]]; then
  echo "build.sh: protobuf-go 1.3 is installed (golang-goprotobuf-dev);" \
       "it conflicts with what grpc-go needs here: install ${packages[*]}" >&2
  exit 1
fi

mkdir -p "$out/gopath/src"
out=$(cd "$out" && pwd)
# user.proto has no go_package: the M options name its Go package here. The
# google/protobuf imports carry their own go_package.
protoc -I "$root/protos" \
  --go_out="$out/gopath/src" --go_opt=Muser.proto=usersbench/userpb \
  --go-grpc_out="$out/gopath/src" --go-grpc_opt=Muser.proto=usersbench/userpb \
  user.proto

# No network, no modules: GOPATH resolves usersbench/ from $out and the rest
# from Debian's /usr/share/gocode.
export GO111MODULE=off GOFLAGS='' GOPATH="$out/gopath:/usr/share/gocode"
# go refuses to run without somewhere for its build cache (e.g. under env -i).
if [[ -z "${GOCACHE:-}" && -z "${HOME:-}" && -z "${XDG_CACHE_HOME:-}" ]]; then
  export GOCACHE=$out/gocache
fi
go build -o "$out/users-go-server" "$here/main.go"
echo "build.sh: built $out/users-go-server"

#!/usr/bin/env bash
# Unpacks Debian's source of the installed libabsl-dev into <dir>/abseil, for
# `make test-tsan`: ThreadSanitizer sees a lock only if the lock's own code is
# instrumented, and Debian ships Abseil (absl::Mutex among it) uninstrumented,
# so the TSan build compiles the very same version from source.
#   scripts/fetch-abseil-source.sh <dir>
# Idempotent: a stamp naming the version skips everything once it is there.
# The system's apt sources are left untouched: the deb-src index goes to a
# private apt state under <dir>, with Debian's archive key checking it.
set -euo pipefail
dir=$(realpath -m "${1:?usage: fetch-abseil-source.sh <dir>}")
version=$(dpkg-query -W -f='${Version}' libabsl-dev)
stamp="$dir/abseil/.users-source-version"
if [[ -f $stamp && $(<"$stamp") == "$version" ]]; then
  exit 0
fi

apt_dir="$dir/apt"
rm -rf "$apt_dir" "$dir/abseil" "$dir"/abseil-* "$dir"/abseil_*
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
cat >"$apt_dir/sources.list" <<EOF
deb-src [signed-by=$keyring] http://deb.debian.org/debian bookworm main
deb-src [signed-by=$keyring] http://deb.debian.org/debian bookworm-updates main
deb-src [signed-by=$keyring] http://deb.debian.org/debian-security bookworm-security main
EOF
apt_opts=(
  -o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
  -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache"
  # Root downloads into a directory _apt cannot write: say so once, here.
  -o APT::Sandbox::User=root
)
echo "fetch-abseil-source: abseil $version (Debian source) into $dir/abseil" >&2
apt-get "${apt_opts[@]}" update -qq
(cd "$dir" && apt-get "${apt_opts[@]}" source -qq --only-source "abseil=$version" >/dev/null)
# dpkg-source unpacks into abseil-<upstream version>; one fixed name for cmake.
mv "$dir"/abseil-[0-9]* "$dir/abseil"
rm -rf "$apt_dir" "$dir"/abseil_*
echo "$version" >"$stamp"

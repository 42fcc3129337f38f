#!/usr/bin/env bash
# Runs a command against a throwaway PostgreSQL cluster, then removes it:
#   scripts/with-postgres.sh COMMAND [ARGS...]
# The cluster lives in a fresh temporary directory, listens on 127.0.0.1 at a
# free port, and requires a password (generated). COMMAND gets its URI in
# USERS_TEST_POSTGRES_URI (postgresql://users_test:PASSWORD@127.0.0.1:PORT/
# postgres), and for tests that stop and start it PG_BIN (the server's
# programs), PG_DATA, PG_LOG, PG_OPTIONS and PG_AS_OWNER (the command prefix
# that runs them as the cluster's owner);
# the script exits with COMMAND's status. Never touches a system cluster.
#
# PostgreSQL refuses to run as root, so as root the cluster runs as `nobody`.
set -euo pipefail

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [[ -z "$bin" || ! -x "$bin/initdb" ]]; then
  echo "with-postgres: PostgreSQL server programs not found; run scripts/install-deps.sh" >&2
  exit 1
fi

tmp=$(mktemp -d /tmp/users-pg.XXXXXX)
as_owner=()
if [[ $(id -u) -eq 0 ]]; then
  chown nobody:nogroup "$tmp"
  as_owner=(runuser -u nobody --)
fi
data="$tmp/data"
pid=""

cleanup() {
  if [[ -f "$data/postmaster.pid" ]]; then
    "${as_owner[@]}" "$bin/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
# Until COMMAND runs, a signal just ends the script (and the trap above
# removes the cluster); once it runs, the signal goes on to it (below).
trap 'exit 130' INT
trap 'exit 143' TERM

password=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
printf '%s\n' "$password" > "$tmp/pwfile"
[[ ${#as_owner[@]} -eq 0 ]] || chown nobody:nogroup "$tmp/pwfile"
chmod 600 "$tmp/pwfile"

"${as_owner[@]}" "$bin/initdb" -D "$data" -U users_test --pwfile="$tmp/pwfile" \
  --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 \
  >"$tmp/initdb.log" 2>&1 || { cat "$tmp/initdb.log" >&2; exit 1; }
rm -f "$tmp/pwfile"

port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
options="-c listen_addresses=127.0.0.1 -p $port -k $tmp -c max_connections=200"
"${as_owner[@]}" "$bin/pg_ctl" -D "$data" -l "$tmp/server.log" -w -t 60 \
  -o "$options" start >/dev/null || { cat "$tmp/server.log" >&2; exit 1; }

export USERS_TEST_POSTGRES_URI="postgresql://users_test:${password}@127.0.0.1:${port}/postgres"
export PG_BIN="$bin" PG_DATA="$data" PG_LOG="$tmp/server.log" PG_OPTIONS="$options"
PG_AS_OWNER="${as_owner[*]}"
export PG_AS_OWNER
# COMMAND runs in the background so that SIGINT or SIGTERM sent to this
# script reaches it (bash would defer its traps until a foreground command
# ended); the cluster is removed once it has exited.
set +e
"$@" &
child=$!
trap 'kill -TERM "$child" 2>/dev/null' INT TERM
while :; do
  wait "$child"
  status=$?
  # wait returns early (status > 128) when a trapped signal arrives.
  kill -0 "$child" 2>/dev/null || break
done
set -e
exit "$status"

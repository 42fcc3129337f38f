#!/usr/bin/env bash
# Throwaway certificates for trying TLS and mutual TLS locally; `make certs`
# runs it. Not for production: there, use certificates from your own CA or
# ACME (docs/operations.md).
set -euo pipefail

prog=${0##*/}
usage() {
  cat <<EOF
Usage: $prog [--force] [DIR]

Writes throwaway certificates for trying users-server's TLS and mutual TLS
into DIR (default ./certs), then prints the server and client flags that
use them:

  ca.pem, ca.key          a new CA that signs the two below
  server.pem, server.key  server certificate for localhost, 127.0.0.1 and ::1
  client.pem, client.key  client certificate (CN users-client) for mutual TLS

Keys are EC P-256, mode 0600; certificates are mode 0644. The CA is valid
for 10 years, the server and client certificates for 825 days.

Options:
  --force     replace the files if DIR already holds any of them
  -h, --help  print this help and exit

"make certs" runs it with DIR certs (make certs CERTS_DIR=DIR for another).

Exit status: 0 written; 1 refused or failed (DIR holds the files, DIR cannot
be written, openssl missing or failing); 2 usage error.
For production, use certificates from your own CA or ACME instead.
EOF
}

die() {
  printf '%s: %s\n' "$prog" "$*" >&2
  exit 1
}

force=0
dir=
dir_given=0
while (($#)); do
  case $1 in
    -h | --help) usage; exit 0 ;;
    --force) force=1 ;;
    --) shift; break ;;
    -*) printf '%s: unknown option %s (try --help)\n' "$prog" "$1" >&2; exit 2 ;;
    *)
      if ((dir_given)); then
        printf '%s: one DIR only, got %s and %s (try --help)\n' "$prog" "$dir" "$1" >&2
        exit 2
      fi
      dir=$1 dir_given=1 ;;
  esac
  shift
done
# Whatever follows `--` is DIR, even if it starts with a dash.
if (($#)); then
  if ((dir_given || $# > 1)); then
    printf '%s: one DIR only (try --help)\n' "$prog" >&2
    exit 2
  fi
  dir=$1 dir_given=1
fi
((dir_given)) || dir=./certs
[[ -n $dir ]] || { printf '%s: DIR is empty (try --help)\n' "$prog" >&2; exit 2; }

command -v openssl >/dev/null 2>&1 ||
  die "openssl not found; install it (Debian: apt-get install openssl) and run again"

# The printed commands must work when pasted into the shell that ran us: keep
# DIR relative as given, but make a bare name look like a path ("certs" ->
# "./certs"), and drop trailing slashes so "certs/" does not print "certs//".
shown=$dir
while [[ $shown == */ && $shown != / ]]; do shown=${shown%/}; done
case $shown in
  /* | . | .. | ./* | ../*) ;;
  *) shown=./$shown ;;
esac
# From here on DIR is the shown path: same place, and never taken for an option.
dir=$shown

files=(ca.pem ca.key server.pem server.key client.pem client.key)

if [[ -e $dir && ! -d $dir ]]; then
  die "$shown exists and is not a directory"
fi
# The directory takes the caller's umask (the certificates in it are meant to
# be readable); only the keys are locked down, below.
if ! err=$(mkdir -p -- "$dir" 2>&1); then
  die "cannot create directory $shown: ${err##*: }"
fi
[[ -w $dir && -x $dir ]] || die "cannot write to $shown: permission denied"

present=()
for f in "${files[@]}"; do
  [[ -e $dir/$f || -L $dir/$f ]] && present+=("$f")
done
if ((${#present[@]})) && ((!force)); then
  die "$shown already holds ${present[*]}; left untouched." \
    "To replace them all: $(printf '%q' "$0") --force $(printf '%q' "$shown")"
fi

# Keys must never exist, even briefly, with a mode others can read.
umask 077
# Everything is made in a scratch directory beside the final files and moved
# into place only once all of it succeeded, so a failure midway (with --force)
# leaves the old set as it was rather than a server certificate from a CA
# that is not the one in ca.pem.
work=$(mktemp -d "$dir/.make-certs.XXXXXX" 2>/dev/null) || die "cannot write to $shown"
trap 'rm -rf -- "$work"' EXIT

ossl() {
  local out
  if ! out=$(openssl "$@" 2>&1); then
    printf '%s\n' "$out" >&2
    die "openssl $1 failed (see above)"
  fi
}

newkey() {
  ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
    -pkeyopt ec_param_enc:named_curve -out "$work/$1.key"
}

# Our own config, so the result does not depend on the system's openssl.cnf
# defaults (which add extensions of their own to CA certificates).
cat >"$work/openssl.cnf" <<'EOF'
[req]
distinguished_name = dn
prompt = no
[dn]
[ca]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOF

serial() { printf '0x%s' "$(openssl rand -hex 16)"; }

newkey ca
ossl req -config "$work/openssl.cnf" -new -x509 -key "$work/ca.key" \
  -subj "/CN=users-service throwaway CA" -days 3650 -sha256 \
  -extensions ca -set_serial "$(serial)" -out "$work/ca.pem"

leaf() {  # leaf NAME CN
  newkey "$1"
  ossl req -config "$work/openssl.cnf" -new -key "$work/$1.key" -subj "/CN=$2" \
    -out "$work/$1.csr"
  # -set_serial rather than -CAcreateserial: no ca.srl left beside the CA.
  ossl x509 -req -in "$work/$1.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" \
    -set_serial "$(serial)" -days 825 -sha256 \
    -extfile "$work/openssl.cnf" -extensions "$1" -out "$work/$1.pem"
}
leaf server localhost
leaf client users-client

# Catch a broken chain here rather than as a handshake failure later.
ossl verify -CAfile "$work/ca.pem" -purpose sslserver "$work/server.pem"
ossl verify -CAfile "$work/ca.pem" -purpose sslclient "$work/client.pem"

chmod 0600 "$work"/*.key
chmod 0644 "$work"/*.pem
# Renames on one filesystem: each file is replaced whole, never half-written.
for f in "${files[@]}"; do
  mv -f -- "$work/$f" "$dir/$f" || die "cannot write $shown/$f"
done

q() { printf '%q' "$shown/$1"; }
printf 'certs written to %s (CA, server for localhost/127.0.0.1/::1, client; keys 0600)\n' \
  "$shown"
printf 'server:  users-server --tls-cert %s --tls-key %s --tls-client-ca %s\n' \
  "$(q server.pem)" "$(q server.key)" "$(q ca.pem)"
printf 'client:  users-client --target localhost:50051 --tls-ca %s --tls-cert %s --tls-key %s\n' \
  "$(q ca.pem)" "$(q client.pem)" "$(q client.key)"

#!/usr/bin/env bash
# Brings up the local Citus cluster that `npm run test:citus` and `npm run bench:citus` run on: a coordinator
# on 127.0.0.1:$CGK_CITUS_PORT (default 9700) and two workers on the next two ports, trust auth on loopback.
#
# Citus has no package for PostgreSQL 15 on Debian's or npm's registries, so the cluster comes from a script
# that builds and starts it, named by CGK_CITUS_UP (a script taking CITUS_PORT and CITUS_DIR, building
# Citus once and starting the three nodes idempotently; run as root). Without CGK_CITUS_UP, the script
# citus/up.sh in the directory beside this repository is used when it exists. A cluster that already answers
# on those ports (a Citus you run yourself) is used as it is. Otherwise this fails, saying what to supply.
#
# CITUS_DIR (default /tmp/cgk-citus) is where the build and the nodes' data go: it must be writable; the up
# script's own directory may be read-only.
set -euo pipefail
cd "$(dirname "$0")/.."

port="${CGK_CITUS_PORT:-9700}"
export CITUS_PORT="$port"
export CITUS_DIR="${CITUS_DIR:-/tmp/cgk-citus}"
say() { printf 'citus: %s\n' "$*"; }
die() { printf 'citus: ERROR: %s\n' "$*" >&2; exit 1; }

node_ok() { # port: answers and has the citus library loaded
  local q="select count(*) from pg_available_extensions where name = 'citus'"
  [ "$(psql -X -qAt -h 127.0.0.1 -p "$1" -U postgres -d postgres -c "$q" 2>/dev/null)" = 1 ] &&
    psql -X -qAt -h 127.0.0.1 -p "$1" -U postgres -d postgres -c 'show shared_preload_libraries' 2>/dev/null | grep -q citus
}
cluster_ok() { node_ok "$port" && node_ok $((port + 1)) && node_ok $((port + 2)); }

command -v psql >/dev/null 2>&1 || die "psql not found (apt-get install postgresql-client-15, or run: npm run services)"

up="${CGK_CITUS_UP:-}"
if [ -z "$up" ] && [ -f ../shared/citus/up.sh ]; then up=../shared/citus/up.sh; fi
if [ -n "$up" ]; then
  [ -f "$up" ] || die "CGK_CITUS_UP=$up: no such file"
  say "bringing the cluster up with $up (ports $port-$((port + 2)), data in $CITUS_DIR; the first run builds Citus, 2-3 minutes)"
  bash "$up" || die "$up failed (see its logs under $CITUS_DIR/logs)"
elif ! cluster_ok; then
  die "no Citus cluster on 127.0.0.1:$port-$((port + 2)), and nothing to start one with.
  Set CGK_CITUS_UP=/path/to/up.sh (a script that builds Citus and starts a coordinator on \$CITUS_PORT and two
  workers on the next ports), or start such a cluster yourself (trust auth for postgres on 127.0.0.1,
  shared_preload_libraries=citus, max_prepared_transactions > 0, citus.enable_unsafe_triggers=on) and set
  CGK_CITUS_PORT to its coordinator's port."
fi
cluster_ok || die "the Citus cluster on 127.0.0.1:$port-$((port + 2)) does not answer, or a node has no citus library loaded"
version=$(psql -X -qAt -h 127.0.0.1 -p "$port" -U postgres -d postgres \
  -c "select default_version from pg_available_extensions where name = 'citus'")
say "up: Citus $version on $port, workers $((port + 1)) and $((port + 2))"

#!/usr/bin/env bash
# Makes sure the services the tests and benchmarks need are there and answering:
#   PostgreSQL on 127.0.0.1:5432 (passwordless TCP login as postgres),
#   Redis on 127.0.0.1:6379,
#   the pgbouncer binary (tests start their own pgbouncer instances),
#   Debian's chromium (the console's browser tests drive it headless).
# Installs missing Debian packages (one `apt-get update` per run, only when something is missing),
# starts what is installed but down, waits (bounded) until each answers, and fails loudly otherwise.
# Idempotent and fast when everything is already up. Run by `npm test`, `npm run bench` and CI.
#
# Overrides: CGK_TEST_DATABASE_URL / REDIS_URL pointing at a non-local host are only checked, never started.
set -euo pipefail

WAIT_SECONDS="${CGK_SERVICES_WAIT_SECONDS:-30}"

say() { printf 'services: %s\n' "$*"; }
die() { printf 'services: ERROR: %s\n' "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" -eq 0 ]; }

# --- target addresses -------------------------------------------------------------------------

# Prints "host port" parsed from a URL like scheme://[user[:pw]@]host[:port][/path][?query].
url_host_port() {
  local url="$1" default_port="$2" rest hostport host port
  rest="${url#*://}"
  rest="${rest%%/*}"
  rest="${rest%%\?*}"
  hostport="${rest##*@}"
  if [[ "$hostport" == \[* ]]; then # [ipv6]:port
    host="${hostport%%]*}"; host="${host#[}"
    port="${hostport##*]}"; port="${port#:}"
  elif [[ "$hostport" == *:* ]]; then
    host="${hostport%%:*}"; port="${hostport##*:}"
  else
    host="$hostport"; port=""
  fi
  printf '%s %s\n' "${host:-127.0.0.1}" "${port:-$default_port}"
}

is_local_host() {
  case "$1" in
    127.0.0.1 | localhost | ::1 | "") return 0 ;;
    *) return 1 ;;
  esac
}

read -r PG_HOST PG_PORT < <(url_host_port "${CGK_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}" 5432)
read -r REDIS_HOST REDIS_PORT < <(url_host_port "${REDIS_URL:-redis://127.0.0.1:6379}" 6379)
PG_LOCAL=0; is_local_host "$PG_HOST" && PG_LOCAL=1
REDIS_LOCAL=0; is_local_host "$REDIS_HOST" && REDIS_LOCAL=1

# --- probes (cheap: no psql on the happy path except the one auth check) ------------------------

tcp_open() { # host port
  timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null
}

pg_up() {
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -t 2 >/dev/null 2>&1
  else
    tcp_open "$PG_HOST" "$PG_PORT"
  fi
}

redis_up() { # answers PING (with PONG, or NOAUTH on a password-protected server)
  timeout 2 bash -c '
    exec 3<>"/dev/tcp/$0/$1" || exit 1
    printf "PING\r\n" >&3
    IFS= read -r -t 2 line <&3 || exit 1
    [[ "$line" == "+PONG"* || "$line" == "-NOAUTH"* ]]' "$REDIS_HOST" "$REDIS_PORT" 2>/dev/null
}

pg_passwordless_ok() { # exactly what the tests do: TCP, user postgres, no password
  command -v psql >/dev/null 2>&1 || return 0 # no client to check with: leave pg_hba alone
  env -u PGPASSWORD PGPASSFILE=/dev/null PGCONNECT_TIMEOUT=5 \
    psql -X -q -w -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -Atc 'select 1' >/dev/null 2>&1
}

wait_until() { # probe-function
  local probe="$1" deadline=$((SECONDS + WAIT_SECONDS))
  until "$probe"; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      return 1
    fi
    sleep 0.2
  done
}

pgbouncer_bin() {
  if [ -x /usr/sbin/pgbouncer ]; then echo /usr/sbin/pgbouncer; else command -v pgbouncer 2>/dev/null || true; fi
}

pg_server_installed() { compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null && command -v pg_ctlcluster >/dev/null 2>&1; }
redis_installed() { command -v redis-server >/dev/null 2>&1; }

# --- install what is missing (one apt-get update, one install) ----------------------------------

missing=()
need_pg_start=0
need_redis_start=0

if [ "$PG_LOCAL" = 1 ] && ! pg_up; then
  need_pg_start=1
  pg_server_installed || missing+=(postgresql)
fi
if [ "$REDIS_LOCAL" = 1 ] && ! redis_up; then
  need_redis_start=1
  redis_installed || missing+=(redis-server)
fi
[ -n "$(pgbouncer_bin)" ] || missing+=(pgbouncer)
# The console's browser tests drive Debian's Chromium headless (playwright-core, no browser download).
chromium_bin() { command -v chromium 2>/dev/null || true; }
[ -n "$(chromium_bin)" ] || missing+=(chromium fonts-liberation)

PG_INSTALLED_NOW=0
if [ "${#missing[@]}" -gt 0 ]; then
  install_cmd="DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"
  if ! is_root; then
    die "missing: ${missing[*]}. Install them as root, then rerun:
  sudo apt-get update && sudo $install_cmd"
  fi
  say "installing ${missing[*]} (apt-get update + install)"
  apt-get update -qq >/dev/null || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || die "apt-get install failed: $install_cmd"
  for pkg in "${missing[@]}"; do [ "$pkg" = postgresql ] && PG_INSTALLED_NOW=1; done
fi

# --- PostgreSQL ---------------------------------------------------------------------------------

pg_version() { ls /etc/postgresql 2>/dev/null | sort -V | tail -1; }

pg_trust_loopback() { # switch host 127.0.0.1/::1 lines of pg_hba.conf to trust, then reload
  local ver="$1" hba changed
  hba="/etc/postgresql/$ver/main/pg_hba.conf"
  [ -f "$hba" ] || die "cannot find $hba to allow passwordless TCP logins"
  is_root || die "passwordless TCP login as postgres fails; as root, set the host 127.0.0.1/32 and ::1/128 lines of $hba to trust and reload"
  changed="$(awk '$1 ~ /^host/ && ($4 == "127.0.0.1/32" || $4 == "::1/128") && $5 != "trust" { print }' "$hba")"
  if [ -z "$changed" ]; then
    pg_passwordless_ok && return 0 # loopback lines already trust and it works: nothing to change
    # no loopback host lines at all (or already trust): add explicit ones at the top
    sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
    say "postgresql: added 'host all all 127.0.0.1/32 trust' and '::1/128 trust' to $hba"
  else
    cp -p "$hba" "$hba.bak-cgk"
    awk 'BEGIN { OFS = "\t" }
         $1 ~ /^host/ && ($4 == "127.0.0.1/32" || $4 == "::1/128") && $5 != "trust" { $5 = "trust"; NF = 5 }
         { print }' "$hba.bak-cgk" >"$hba"
    say "postgresql: set these $hba lines to trust (backup: $hba.bak-cgk):"
    printf '%s\n' "$changed" | sed 's/^/services:   - /'
  fi
  pg_ctlcluster --skip-systemctl-redirect "$ver" main reload >/dev/null || die "could not reload PostgreSQL $ver/main"
}

if [ "$PG_LOCAL" = 1 ]; then
  if [ "$need_pg_start" = 1 ]; then
    is_root || die "PostgreSQL is down; start it as root: pg_ctlcluster --skip-systemctl-redirect <version> main start"
    ver="$(pg_version)"
    if [ -z "$ver" ] || [ ! -d "/etc/postgresql/$ver/main" ]; then
      ver="$(ls /usr/lib/postgresql | sort -V | tail -1)"
      say "postgresql: creating cluster $ver/main"
      pg_createcluster "$ver" main >/dev/null || die "pg_createcluster $ver main failed"
    fi
    say "postgresql: starting cluster $ver/main"
    pg_ctlcluster --skip-systemctl-redirect "$ver" main start \
      || say "postgresql: pg_ctlcluster start returned non-zero (see /var/log/postgresql/postgresql-$ver-main.log)"
    wait_until pg_up \
      || die "PostgreSQL did not answer on $PG_HOST:$PG_PORT within ${WAIT_SECONDS}s (log: /var/log/postgresql/postgresql-$ver-main.log)"
  fi
  if [ "$PG_INSTALLED_NOW" = 1 ] || ! pg_passwordless_ok; then
    pg_trust_loopback "$(pg_version)"
    # reload is asynchronous: wait for the new pg_hba to take effect
    wait_until pg_passwordless_ok \
      || die "PostgreSQL on $PG_HOST:$PG_PORT still refuses a passwordless login as postgres (check pg_hba.conf)"
  fi
  say "postgresql up ($PG_HOST:$PG_PORT)"
else
  wait_until pg_up || die "external PostgreSQL $PG_HOST:$PG_PORT (CGK_TEST_DATABASE_URL) is not answering"
  say "postgresql up ($PG_HOST:$PG_PORT, external: not managed here)"
fi

# --- Redis --------------------------------------------------------------------------------------

if [ "$REDIS_LOCAL" = 1 ]; then
  if [ "$need_redis_start" = 1 ]; then
    is_root || die "Redis is down; start it as root: redis-server --daemonize yes --bind 127.0.0.1 -::1 --port $REDIS_PORT --save '' --appendonly no"
    mkdir -p /var/lib/redis /var/log/redis
    say "redis: starting redis-server on port $REDIS_PORT"
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log >/dev/null \
      || say "redis: redis-server returned non-zero (see /var/log/redis/ci.log)"
    wait_until redis_up \
      || die "Redis did not answer PING on $REDIS_HOST:$REDIS_PORT within ${WAIT_SECONDS}s (log: /var/log/redis/ci.log)"
  fi
  say "redis up ($REDIS_HOST:$REDIS_PORT)"
else
  wait_until redis_up || die "external Redis $REDIS_HOST:$REDIS_PORT (REDIS_URL) is not answering PING"
  say "redis up ($REDIS_HOST:$REDIS_PORT, external: not managed here)"
fi

# --- PgBouncer (binary only: tests start their own instances) -----------------------------------

bouncer="$(pgbouncer_bin)"
[ -n "$bouncer" ] || die "pgbouncer binary not found after install (expected /usr/sbin/pgbouncer)"
say "pgbouncer available ($bouncer; tests start their own)"

# --- Chromium (binary only: the console's browser tests start it headless) -----------------------

[ -n "$(chromium_bin)" ] || die "chromium not found after install (expected /usr/bin/chromium)"
say "chromium available ($(chromium_bin))"

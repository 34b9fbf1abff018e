#!/usr/bin/env bash
# Installs what spiral's build, tests and demo need and a fresh machine may
# lack: PostgreSQL 15 server binaries, psql and the tdigest extension (the
# percentile benchmark's test compares against it). With "bench" also
# installs PgBouncer.
set -euo pipefail

need=()
have_server() {
  command -v initdb >/dev/null 2>&1 && return 0
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1
}
have_server || need+=(postgresql-15)
command -v psql >/dev/null 2>&1 || need+=(postgresql-client-15)
command -v pgbench >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/pgbench >/dev/null 2>&1 || need+=(postgresql-contrib)
[ -f /usr/share/postgresql/15/extension/tdigest.control ] || need+=(postgresql-15-tdigest)
if [ "${1:-}" = bench ]; then
  command -v pgbouncer >/dev/null 2>&1 || need+=(pgbouncer)
fi
[ ${#need[@]} -eq 0 ] && exit 0

echo "installing: ${need[*]}" >&2
if [ "$(id -u)" -ne 0 ]; then
  echo "not root: install these packages yourself: ${need[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${need[@]}" >/dev/null

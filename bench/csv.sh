#!/usr/bin/env bash
# CSV bulk registration benchmark: a running scimd, a tenant with the file's groups, then the same
# synthetic file uploaded twice (all users new, then all UNCHANGED). Each time is measured from the
# start of the upload to the job's `completed`; the server's peak RSS is read after each run.
#
# Usage: bench/csv.sh [sqlite|postgres]...        (default: sqlite)
#
# Environment:
#   BENCH_ROWS      data rows of the file (default 100000)
#   BENCH_GROUPS    groups dept_001..dept_G created first and named 1-3 times per row (default 20;
#                   0 leaves GroupIdList empty)
#   BENCH_PG_URL    PostgreSQL server URL (default postgres://postgres@127.0.0.1:5432)
#   SCIMD_BIN       use this scimd binary instead of building one
# Example: BENCH_ROWS=1000000 bench/csv.sh sqlite postgres
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
TARGETS=("$@")
(( ${#TARGETS[@]} )) || TARGETS=(sqlite)
ROWS="${BENCH_ROWS:-100000}"
GROUPS_N="${BENCH_GROUPS:-20}"
PG_URL="${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}"

log() { echo "[bench-csv] $*" >&2; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/scimd-bench-csv.XXXXXX")"
SERVER_PID="" PG_DB=""
stop_server() {
  if [[ -n "$SERVER_PID" ]]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
  fi
  if [[ -n "$PG_DB" ]]; then
    psql "$PG_URL/test" -qAt -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 || true
    PG_DB=""
  fi
}
cleanup() {
  local rc=$?
  stop_server
  (( rc == 0 )) || { [[ -f "$WORK/server.log" ]] && tail -n 20 "$WORK/server.log" >&2; }
  rm -rf "$WORK"
}
trap cleanup EXIT

SCIMD="${SCIMD_BIN:-$ROOT/target/release/scimd}"
GEN="$ROOT/target/release/examples/gen_csv"
if [[ -z "${SCIMD_BIN:-}" || ! -x "$GEN" ]]; then
  log "building scimd and gen_csv (release)"
  (cd "$ROOT" && cargo build --release --quiet -p scimd -p scimd-connectors --examples)
fi

log "writing $ROWS rows"
"$GEN" --rows "$ROWS" --groups "$GROUPS_N" --out "$WORK/users.csv" >&2

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Uploads the file and waits for the job to end; prints "seconds status", the seconds from the
# start of the upload to the job's `finished` time. Polling is slow on purpose: each poll starts
# processes that would take CPU from the server being measured.
sync_once() {
  local base="$1" token="$2" start job reply status
  start=$(date +%s.%N)
  job="$(curl -sf -H "Authorization: Bearer $token" -F "file=@$WORK/users.csv;type=text/csv" \
    "$base/admin/v1/csv-sync?missing=keep" | jq -r .id)"
  while :; do
    sleep 0.5
    reply="$(curl -sf -H "Authorization: Bearer $token" "$base/admin/v1/jobs/$job")"
    status="$(jq -r .status <<<"$reply")"
    [[ "$status" == pending || "$status" == running ]] || break
  done
  echo "$(echo "$(date -d "$(jq -r .finished <<<"$reply")" +%s.%N) - $start" | bc) $status"
}

echo "| database | rows | groups | new users | same file again (unchanged) | server peak RSS |"
echo "|---|---:|---:|---:|---:|---:|"
for target in "${TARGETS[@]}"; do
  case "$target" in
    sqlite) db="sqlite://$WORK/scimd.db" ;;
    postgres)
      PG_DB="scimd_bench_csv_$$"
      psql "$PG_URL/test" -v ON_ERROR_STOP=1 -qAt -c "CREATE DATABASE $PG_DB" >/dev/null
      db="$PG_URL/$PG_DB" ;;
    *) echo "unknown target '$target' (sqlite | postgres)" >&2; exit 2 ;;
  esac
  port="$(free_port)"
  SCIMD_SYNC__FILES_DIR="$WORK/files" "$SCIMD" --database "$db" serve --listen "127.0.0.1:$port" >"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  base="http://127.0.0.1:$port"
  for _ in $(seq 300); do curl -sf -o /dev/null "$base/healthz" && break; sleep 0.2; done
  "$SCIMD" --database "$db" tenant create acme >/dev/null
  scim="$("$SCIMD" --database "$db" token create --tenant acme --role scim --client bench | tail -n 1)"
  admin="$("$SCIMD" --database "$db" token create --tenant acme --role admin | tail -n 1)"
  for g in $(seq "$GROUPS_N"); do
    printf -v name 'dept_%03d' "$g"
    curl -sf -o /dev/null -H "Authorization: Bearer $scim" -H 'Content-Type: application/scim+json' \
      -d "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:Group\"],\"displayName\":\"$name\"}" \
      "$base/scim/v2/Groups"
  done
  read -r first first_status < <(sync_once "$base" "$admin")
  read -r second second_status < <(sync_once "$base" "$admin")
  [[ "$first_status" == completed && "$second_status" == completed ]] \
    || { log "jobs ended $first_status, $second_status"; exit 1; }
  rss="$(awk '$1 == "VmHWM:" { printf "%d MiB", $2 / 1024 }' "/proc/$SERVER_PID/status")"
  echo "| $target | $ROWS | $GROUPS_N | ${first} s | ${second} s | $rss |"
  stop_server
done

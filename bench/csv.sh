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

log() { echo "[bench-csv] $*" >&2; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/scimd-bench-csv.XXXXXX")"
SCIMD="${SCIMD_BIN:-$ROOT/target/release/scimd}"
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"
cleanup() {
  local rc=$?
  stop_server
  (( rc == 0 )) || { [[ -f "$WORK/server.log" ]] && tail -n 20 "$WORK/server.log" >&2; }
  rm -rf "$WORK"
}
trap cleanup EXIT

GEN="$ROOT/target/release/examples/gen_csv"
if [[ -z "${SCIMD_BIN:-}" || ! -x "$GEN" ]]; then
  log "building scimd and gen_csv (release)"
  (cd "$ROOT" && cargo build --release --quiet -p scimd -p scimd-connectors --bins --examples)
fi

log "writing $ROWS rows"
"$GEN" --rows "$ROWS" --groups "$GROUPS_N" --out "$WORK/users.csv" >&2

# Uploads the file and prints "seconds status" (see wait_job).
sync_once() {
  local start job
  start=$(date +%s.%N)
  job="$(curl -sf -H "Authorization: Bearer $ADMIN_TOKEN" -F "file=@$WORK/users.csv;type=text/csv" \
    "$BASE/admin/v1/csv-sync?missing=keep" | jq -r .id)"
  wait_job "$job" "$start"
}

echo "| database | rows | groups | new users | same file again (unchanged) | server peak RSS |"
echo "|---|---:|---:|---:|---:|---:|"
for target in "${TARGETS[@]}"; do
  start_server "$target"
  for g in $(seq "$GROUPS_N"); do
    printf -v name 'dept_%03d' "$g"
    curl -sf -o /dev/null -H "Authorization: Bearer $SCIM_TOKEN" -H 'Content-Type: application/scim+json' \
      -d "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:Group\"],\"displayName\":\"$name\"}" \
      "$BASE/scim/v2/Groups"
  done
  read -r first first_status _ < <(sync_once)
  read -r second second_status _ < <(sync_once)
  [[ "$first_status" == completed && "$second_status" == completed ]] \
    || { log "jobs ended $first_status, $second_status"; exit 1; }
  echo "| $target | $ROWS | $GROUPS_N | ${first} s | ${second} s | $(server_rss) |"
  stop_server
done

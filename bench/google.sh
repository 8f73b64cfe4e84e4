#!/usr/bin/env bash
# Google Workspace sync benchmark (issue #6): the fake Directory API (`scimd-fakes google`) serving a
# generated directory (BENCH_USERS users, BENCH_GROUPS groups, group 0 with BENCH_BIG_GROUP members,
# every user in one or two other groups; pages of 500 users and 200 groups or members, as Google
# serves them), a running scimd with a google connector signing its JWT with the fake's service
# account key, then: a full sync into the empty store, and the same full sync again with nothing
# changed (Google has no delta: every run is full). Each time runs from the request to the job's
# `finished`; the server's peak RSS is read at the end.
#
# Usage: bench/google.sh [sqlite|postgres]...      (default: sqlite)
# Environment: BENCH_USERS (100000), BENCH_GROUPS (1000), BENCH_BIG_GROUP (50000),
#   BENCH_PG_URL (postgres://postgres@127.0.0.1:5432), SCIMD_BIN, FAKES_BIN.
# Needs: curl, jq, bc, python3.
# Example: bench/google.sh sqlite postgres
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
TARGETS=("$@")
(( ${#TARGETS[@]} )) || TARGETS=(sqlite)
USERS="${BENCH_USERS:-100000}"
GROUPS_N="${BENCH_GROUPS:-1000}"
BIG="${BENCH_BIG_GROUP:-50000}"

log() { echo "[bench-google] $*" >&2; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/scimd-bench-google.XXXXXX")"
SCIMD="${SCIMD_BIN:-$ROOT/target/release/scimd}"
FAKES="${FAKES_BIN:-$ROOT/target/release/scimd-fakes}"
FAKE_PID=""
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"
cleanup() {
  local rc=$?
  stop_server
  [[ -n "$FAKE_PID" ]] && { kill "$FAKE_PID" 2>/dev/null || true; wait "$FAKE_PID" 2>/dev/null || true; }
  (( rc == 0 )) || { [[ -f "$WORK/server.log" ]] && tail -n 20 "$WORK/server.log" >&2; }
  rm -rf "$WORK"
}
trap cleanup EXIT

if [[ -z "${SCIMD_BIN:-}" || -z "${FAKES_BIN:-}" ]]; then
  log "building scimd and scimd-fakes (release)"
  (cd "$ROOT" && cargo build --release --quiet -p scimd -p scimd-fakes --bins)
fi

log "serving $USERS users and $GROUPS_N groups from the fake Directory API"
"$FAKES" google --listen 127.0.0.1:0 --users "$USERS" --groups "$GROUPS_N" --big-group-members "$BIG" \
  --key-out "$WORK/service-account.json" >"$WORK/fake.out" 2>"$WORK/fake.log" &
FAKE_PID=$!
for _ in $(seq 600); do [[ -s "$WORK/fake.out" ]] && break; sleep 0.1; done
GOOGLE_URL="$(head -n 1 "$WORK/fake.out")"
[[ -n "$GOOGLE_URL" ]] || { log "the fake did not start: $(cat "$WORK/fake.log")"; exit 1; }

# Starts a run of connector $1 and prints "seconds status updated".
run_connector() {
  local start job
  start=$(date +%s.%N)
  job="$(curl -sf -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' -d '{}' \
    "$BASE/admin/v1/connectors/$1/runs" | jq -r .id)"
  wait_job "$job" "$start"
}

echo "| database | users | groups (largest) | full sync, empty store | full sync again, no change | server peak RSS |"
echo "|---|---:|---:|---:|---:|---:|"
for target in "${TARGETS[@]}"; do
  start_server "$target"
  body="$(jq -n --arg url "$GOOGLE_URL" --arg key "$WORK/service-account.json" '{name: "workspace", kind: "google",
    missingPolicy: "deactivate", config: {keyFile: $key, adminEmail: "admin@example.com", baseUrl: $url}}')"
  connector="$(curl -sf -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' -d "$body" \
    "$BASE/admin/v1/connectors" | jq -r .id)"
  read -r full full_status _ < <(run_connector "$connector")
  read -r again again_status updated < <(run_connector "$connector")
  [[ "$full_status $again_status" == "completed completed" ]] || { log "jobs ended $full_status, $again_status"; exit 1; }
  (( updated == 0 )) || { log "the unchanged run updated $updated records"; exit 1; }
  users_synced="$(curl -sf -H "Authorization: Bearer $SCIM_TOKEN" "$BASE/scim/v2/Users?count=0" | jq -r .totalResults)"
  (( users_synced == USERS )) || { log "the store holds $users_synced users, not $USERS"; exit 1; }
  echo "| $target | $USERS | $GROUPS_N ($BIG) | ${full} s | ${again} s | $(server_rss) |"
  stop_server
done

#!/usr/bin/env bash
# Microsoft Graph sync benchmark (issue #6): the fake Graph (`scimd-fakes graph`) serving a generated
# Entra ID tenant (BENCH_USERS users, BENCH_GROUPS groups, group 0 with BENCH_BIG_GROUP members, the
# others 50 each), a running scimd with an `azure` connector reading pages of 999, then: a full sync
# into the empty store, the same full sync again (nothing changed), and an incremental (delta) run
# after BENCH_CHANGES users changed. Each time runs from the request to the job's `finished`; the
# server's peak RSS is read at the end.
#
# Usage: bench/azure.sh [sqlite|postgres]...      (default: sqlite)
# Environment: BENCH_USERS (100000), BENCH_GROUPS (1000), BENCH_BIG_GROUP (50000),
#   BENCH_CHANGES (100), BENCH_PG_URL (postgres://postgres@127.0.0.1:5432), SCIMD_BIN, FAKES_BIN.
# Needs: curl, jq, bc.
# Example: bench/azure.sh sqlite postgres
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
TARGETS=("$@")
(( ${#TARGETS[@]} )) || TARGETS=(sqlite)
USERS="${BENCH_USERS:-100000}"
GROUPS_N="${BENCH_GROUPS:-1000}"
BIG="${BENCH_BIG_GROUP:-50000}"
CHANGES="${BENCH_CHANGES:-100}"

log() { echo "[bench-azure] $*" >&2; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/scimd-bench-azure.XXXXXX")"
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

log "serving $USERS users and $GROUPS_N groups from the fake Graph"
"$FAKES" graph --listen 127.0.0.1:0 --users "$USERS" --groups "$GROUPS_N" --big-group-members "$BIG" \
  >"$WORK/fake.out" 2>"$WORK/fake.err" &
FAKE_PID=$!
for _ in $(seq 600); do [[ -s "$WORK/fake.out" ]] && break; sleep 0.1; done
FAKE_URL="$(head -n 1 "$WORK/fake.out")"
[[ "$FAKE_URL" == http://* ]] || { log "the fake did not start: $(cat "$WORK/fake.err")"; exit 1; }
# The fake's fixed credentials (scimd_fakes::graph::{TENANT, CLIENT_ID, CLIENT_SECRET}).
printf fake-client-secret >"$WORK/client-secret"

# Starts a run of connector $1 (JSON body $2) and prints "seconds status updated".
run_connector() {
  local start job
  start=$(date +%s.%N)
  job="$(curl -sf -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' -d "$2" \
    "$BASE/admin/v1/connectors/$1/runs" | jq -r .id)"
  wait_job "$job" "$start"
}

echo "| database | users | groups (largest) | full sync, empty store | full sync again, no change | incremental after $CHANGES changes | server peak RSS |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for target in "${TARGETS[@]}"; do
  start_server "$target"
  body="$(jq -n --arg url "$FAKE_URL" --arg secret "$WORK/client-secret" '{name: "entra", kind: "azure",
    missingPolicy: "deactivate", config: {tenantId: "contoso.example", clientId: "5c1e0f4e-0000-4000-8000-000000000001",
    clientSecretFile: $secret, authority: $url, graphUrl: ($url + "/v1.0")}}')"
  connector="$(curl -sf -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' -d "$body" \
    "$BASE/admin/v1/connectors" | jq -r .id)"
  read -r full full_status _ < <(run_connector "$connector" '{"full": true}')
  read -r again again_status _ < <(run_connector "$connector" '{"full": true}')
  curl -sf -X POST "$FAKE_URL/_admin/change-users?count=$CHANGES" >/dev/null
  read -r incremental inc_status updated < <(run_connector "$connector" '{}')
  [[ "$full_status $again_status $inc_status" == "completed completed completed" ]] \
    || { log "jobs ended $full_status, $again_status, $inc_status"; exit 1; }
  (( updated == CHANGES )) || { log "the incremental run updated $updated users, not $CHANGES"; exit 1; }
  echo "| $target | $USERS | $GROUPS_N ($BIG) | ${full} s | ${again} s | ${incremental} s | $(server_rss) |"
  stop_server
done

#!/usr/bin/env bash
# LDAP sync benchmark (issue #5): a real slapd loaded with a synthetic directory (BENCH_USERS users,
# BENCH_GROUPS groups, group 0 with BENCH_BIG_GROUP members), a running scimd with an LDAP
# connector, then: a full sync into the empty store, the same full sync again (nothing changed),
# and an incremental run after BENCH_CHANGES modifications. Each time runs from the request to the
# job's `finished`; the server's peak RSS is read at the end.
#
# Usage: bench/ldap.sh [sqlite|postgres]...      (default: sqlite)
# Environment: BENCH_USERS (100000), BENCH_GROUPS (1000), BENCH_BIG_GROUP (50000),
#   BENCH_CHANGES (100), BENCH_PG_URL (postgres://postgres@127.0.0.1:5432), SCIMD_BIN.
# Needs: slapd and ldap-utils (apt install slapd ldap-utils), curl, jq, bc.
# Example: bench/ldap.sh sqlite postgres
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
TARGETS=("$@")
(( ${#TARGETS[@]} )) || TARGETS=(sqlite)
USERS="${BENCH_USERS:-100000}"
GROUPS_N="${BENCH_GROUPS:-1000}"
BIG="${BENCH_BIG_GROUP:-50000}"
CHANGES="${BENCH_CHANGES:-100}"

log() { echo "[bench-ldap] $*" >&2; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/scimd-bench-ldap.XXXXXX")"
SCIMD="${SCIMD_BIN:-$ROOT/target/release/scimd}"
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"
cleanup() {
  local rc=$?
  stop_server
  "$ROOT/tests/ldap/slapd.sh" stop "$WORK/slapd" >/dev/null 2>&1 || true
  (( rc == 0 )) || { [[ -f "$WORK/server.log" ]] && tail -n 20 "$WORK/server.log" >&2; }
  rm -rf "$WORK"
}
trap cleanup EXIT

GEN="$ROOT/target/release/examples/gen_ldif"
if [[ -z "${SCIMD_BIN:-}" || ! -x "$GEN" ]]; then
  log "building scimd and gen_ldif (release)"
  (cd "$ROOT" && cargo build --release --quiet -p scimd -p scimd-connectors --bins --examples)
fi

log "writing $USERS users and $GROUPS_N groups"
"$GEN" --users "$USERS" --groups "$GROUPS_N" --big-group-members "$BIG" --out "$WORK/directory.ldif" >&2
log "loading them into slapd"
URL="$("$ROOT/tests/ldap/slapd.sh" start "$WORK/slapd" "$WORK/directory.ldif")"
printf reader >"$WORK/reader-password"

# Starts a run of connector $1 (JSON body $2) and prints "seconds status".
run_connector() {
  local start job
  start=$(date +%s.%N)
  job="$(curl -sf -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' -d "$2" \
    "$BASE/admin/v1/connectors/$1/runs" | jq -r .id)"
  wait_job "$job" "$start"
}

# Modifies BENCH_CHANGES users (a new title) through ldapmodify as the directory's admin.
change_users() {
  local i
  for i in $(seq "$CHANGES"); do
    printf 'dn: uid=user%06d,ou=people,dc=example,dc=com\nchangetype: modify\nreplace: title\ntitle: Changed %s\n\n' \
      "$((i * 7))" "$RANDOM"
  done | ldapmodify -x -H "$URL" -D cn=admin,dc=example,dc=com -w secret >/dev/null
}

echo "| database | users | groups (largest) | full sync, empty store | full sync again, no change | incremental after $CHANGES changes | server peak RSS |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for target in "${TARGETS[@]}"; do
  start_server "$target"
  body="$(jq -n --arg url "$URL" --arg pw "$WORK/reader-password" '{name: "corp", kind: "ldap", missingPolicy: "deactivate",
    config: {url: $url, bindDn: "cn=reader,dc=example,dc=com", bindPasswordFile: $pw,
             users: {base: "ou=people,dc=example,dc=com"}, groups: {base: "ou=groups,dc=example,dc=com"}}}')"
  connector="$(curl -sf -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' -d "$body" \
    "$BASE/admin/v1/connectors" | jq -r .id)"
  read -r full full_status _ < <(run_connector "$connector" '{"full": true}')
  read -r again again_status _ < <(run_connector "$connector" '{"full": true}')
  # modifyTimestamp counts whole seconds and a cursor reads its own second again: let it pass.
  sleep 1.1
  change_users
  read -r incremental inc_status updated < <(run_connector "$connector" '{}')
  [[ "$full_status $again_status $inc_status" == "completed completed completed" ]] \
    || { log "jobs ended $full_status, $again_status, $inc_status"; exit 1; }
  (( updated == CHANGES )) || { log "the incremental run updated $updated users, not $CHANGES"; exit 1; }
  echo "| $target | $USERS | $GROUPS_N ($BIG) | ${full} s | ${again} s | ${incremental} s | $(server_rss) |"
  stop_server
done

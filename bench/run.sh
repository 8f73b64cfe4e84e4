#!/usr/bin/env bash
# HTTP benchmark of a SCIM server: start it empty, load N users, measure a few
# request mixes with wrk, print a Markdown table.
#
# Usage: bench/run.sh [TARGET...]      (default: sqlite)
#   sqlite     scimd on a fresh SQLite file                  (default 1,000,000 users)
#   postgres   scimd on a fresh PostgreSQL database          (default 1,000,000 users)
#   reference  the Python scim2-server from PyPI, in memory  (default 10,000 users)
#
# Environment:
#   BENCH_USERS            users to load (overrides the per-target default)
#   BENCH_DURATION         seconds per measured scenario (default 15)
#   BENCH_THREADS          wrk threads (default 2)
#   BENCH_CONNECTIONS      wrk connections (default 32)
#   BENCH_LOAD_CONNECTIONS wrk connections while loading (default BENCH_CONNECTIONS)
#   BENCH_TIMEOUT          wrk per-request timeout (default 10s; slower = error)
#   BENCH_LOAD_TIMEOUT     seconds allowed for loading the users (default 7200)
#   BENCH_SCENARIOS        subset/order of: get_by_id filter_eq filter_sw list cursor_pages group_add
#                          group_remove create bulk_create
#   BENCH_GROUP_MEMBERS    members of the group that group_add/group_remove change (default 100000,
#                          at most half the users loaded)
#   BENCH_GROUP_CONNECTIONS wrk connections for group_add/group_remove (default 8: an identity
#                          provider's concurrency; these scenarios measure latency, and every one of
#                          their requests writes)
#   BENCH_SETTLE           seconds to wait after creating that group, so its checkpoint is not measured (10)
#   BENCH_BULK_OPS         user creates per /Bulk request in bulk_create (default 10000)
#   BENCH_BULK_CONNECTIONS wrk connections for bulk_create (default 2)
#   BENCH_BULK_TIMEOUT     wrk per-request timeout for bulk_create (default 60s)
#   BENCH_PG_URL           PostgreSQL server URL (default postgres://postgres@127.0.0.1:5432)
#   SCIMD_BIN              use this scimd binary instead of building one
#   STARTUP_TIMEOUT        seconds to wait for the server to answer (default 60)
# Quick run: BENCH_USERS=10000 BENCH_DURATION=5 bench/run.sh sqlite
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
LUA="$HERE/lua"

TARGETS=("$@")
(( ${#TARGETS[@]} )) || TARGETS=(sqlite)
DURATION="${BENCH_DURATION:-15}"
THREADS="${BENCH_THREADS:-2}"
CONNECTIONS="${BENCH_CONNECTIONS:-32}"
LOAD_CONNECTIONS="${BENCH_LOAD_CONNECTIONS:-$CONNECTIONS}"
REQ_TIMEOUT="${BENCH_TIMEOUT:-10s}"
LOAD_TIMEOUT="${BENCH_LOAD_TIMEOUT:-7200}"
STARTUP_TIMEOUT="${STARTUP_TIMEOUT:-60}"
PG_URL="${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}"
# `create` and `bulk_create` last: they add users, which would skew the scenarios after them.
read -r -a SCENARIOS <<<"${BENCH_SCENARIOS:-get_by_id filter_eq filter_sw list cursor_pages group_add group_remove create bulk_create}"
BULK_OPS="${BENCH_BULK_OPS:-10000}"
BULK_CONNECTIONS="${BENCH_BULK_CONNECTIONS:-2}"
BULK_TIMEOUT="${BENCH_BULK_TIMEOUT:-60s}"
BENCH_VENV="$ROOT/target/bench-venv"
REFERENCE_REQ="scim2-server==0.8.3"

for t in "${TARGETS[@]}"; do
  case "$t" in sqlite|postgres|reference) ;;
    *) echo "unknown target '$t' (sqlite | postgres | reference)" >&2; exit 2 ;;
  esac
done

log() { echo "[bench] $*" >&2; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/scimd-bench.XXXXXX")"
SERVER_PID="" WRK_PID="" PG_DB=""

stop_server() {
  if [[ -n "$WRK_PID" ]]; then
    kill "$WRK_PID" 2>/dev/null || true; wait "$WRK_PID" 2>/dev/null || true; WRK_PID=""
  fi
  if [[ -n "$SERVER_PID" ]]; then
    kill "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
  fi
  if [[ -n "$PG_DB" ]]; then
    psql "$PG_URL/test" -qAt -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 \
      || log "could not drop database $PG_DB"
    PG_DB=""
  fi
}
cleanup() {
  local rc=$?
  stop_server
  if (( rc != 0 )) && compgen -G "$WORK/*/server.log" >/dev/null; then
    for f in "$WORK"/*/server.log; do log "tail of $f:"; tail -n 20 "$f" >&2; done
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# --- Tools ---
if ! command -v wrk >/dev/null; then
  log "installing wrk from Debian"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
if [[ " ${TARGETS[*]} " == *" reference "* ]]; then
  [[ -x "$BENCH_VENV/bin/python" ]] || python3 -m venv "$BENCH_VENV"
  if ! "$BENCH_VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('scim2-server') != '${REFERENCE_REQ#*==}')" 2>/dev/null; then
    log "installing $REFERENCE_REQ into $BENCH_VENV"
    "$BENCH_VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$REFERENCE_REQ"
  fi
fi
SCIMD="${SCIMD_BIN:-$ROOT/target/release/scimd}"
if [[ " ${TARGETS[*]} " == *" sqlite "* || " ${TARGETS[*]} " == *" postgres "* ]] && [[ -z "${SCIMD_BIN:-}" ]]; then
  log "building scimd (release)"
  (cd "$ROOT" && cargo build --release --quiet -p scimd)
fi

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Poll URL until it answers 200, the server dies, or STARTUP_TIMEOUT passes.
wait_ready() {
  local url="$1" deadline=$((SECONDS + STARTUP_TIMEOUT))
  until [[ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$url" || true)" == 200 ]]; do
    kill -0 "$SERVER_PID" 2>/dev/null || { log "server exited before becoming ready"; return 1; }
    (( SECONDS < deadline )) || { log "server not ready at $url after ${STARTUP_TIMEOUT}s"; return 1; }
    sleep 0.2
  done
}

# Starts target $1 with its data under $2; sets SERVER_PID, BASE, TOKEN,
# FILLER (a cheap GET path for the loader) and DB_DESC.
start_server() {
  local target="$1" dir="$2" port db
  port="$(free_port)"
  case "$target" in
    sqlite|postgres)
      if [[ "$target" == sqlite ]]; then
        db="sqlite://$dir/scimd.db"
      else
        PG_DB="scimd_bench_$$_$RANDOM"
        psql "$PG_URL/test" -v ON_ERROR_STOP=1 -qAt -c "CREATE DATABASE $PG_DB" >/dev/null
        db="$PG_URL/$PG_DB"
      fi
      # The per-token rate limit stays in the request path but far above what one host can send:
      # the benchmark measures the server, and its one token would otherwise get 429s.
      SCIMD_AUTH__RATE_LIMIT_PER_SECOND=1000000000 SCIMD_AUTH__RATE_LIMIT_BURST=1000000000 \
        "$SCIMD" --database "$db" serve --listen "127.0.0.1:$port" >"$dir/server.log" 2>&1 &
      SERVER_PID=$!
      wait_ready "http://127.0.0.1:$port/healthz"
      "$SCIMD" --database "$db" tenant create bench >&2
      TOKEN="$("$SCIMD" --database "$db" token create --tenant bench --role scim --client bench | tail -n 1)"
      BASE="http://127.0.0.1:$port/scim/v2"
      FILLER="/healthz"
      DB_DESC="$db"
      ;;
    reference)
      TOKEN="bench-$RANDOM$RANDOM"
      "$BENCH_VENV/bin/scim2-server" --hostname 127.0.0.1 --port "$port" --bearer-token "$TOKEN" \
        >"$dir/server.log" 2>&1 &
      SERVER_PID=$!
      wait_ready "http://127.0.0.1:$port/v2/ServiceProviderConfig"
      BASE="http://127.0.0.1:$port/v2"
      FILLER="/v2/ServiceProviderConfig"
      DB_DESC="memory"
      ;;
  esac
  [[ -n "$TOKEN" ]] || { log "empty token"; return 1; }
}

rss_kib() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$SERVER_PID/status"; }

# Loads $1 users through wrk + lua/load.lua into $2/ids.txt ("<id> <userName>").
# Sets LOADED and LOAD_SECONDS.
load_users() {
  local n="$1" dir="$2" ldir="$2/load" start deadline
  mkdir -p "$ldir"
  local threads=$THREADS
  (( LOAD_CONNECTIONS >= threads )) || threads=$LOAD_CONNECTIONS
  start=$(date +%s.%N)
  wrk -t "$threads" -c "$LOAD_CONNECTIONS" -d "${LOAD_TIMEOUT}s" --timeout 30s \
    -H "Authorization: Bearer $TOKEN" -s "$LUA/load.lua" "$BASE/Users" \
    -- "$n" "$threads" "$ldir" "$FILLER" >"$dir/load.out" 2>&1 &
  WRK_PID=$!
  deadline=$((SECONDS + LOAD_TIMEOUT))
  # Each wrk thread writes done.<t> when all its users are in (see load.lua).
  while (( $(find "$ldir" -name 'done.*' | wc -l) < threads )); do
    if ! kill -0 "$WRK_PID" 2>/dev/null || (( SECONDS >= deadline )); then
      log "loader did not finish:"; cat "$dir/load.out" >&2; return 1
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || { log "server died while loading"; return 1; }
    sleep 0.5
  done
  LOAD_SECONDS=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
  kill -INT "$WRK_PID"; wait "$WRK_PID" || true; WRK_PID=""
  grep '^load:' "$dir/load.out" >&2 || true
  cat "$ldir"/ids.* >"$dir/ids.txt"
  LOADED=$(wc -l <"$dir/ids.txt")
  (( LOADED == n )) || log "WARNING: only $LOADED of $n users were created"
  (( LOADED > 0 )) || { log "no user was created"; return 1; }
}

# One request of each scenario, to show what the server answers (a 4xx here
# would make the numbers meaningless: wrk counts it as a fast response).
sanity_check() {
  local dir="$1" id name s
  read -r id name < <(head -n 1 "$dir/ids.txt")
  local -A urls=(
    [get_by_id]="$BASE/Users/$id"
    [filter_eq]="$BASE/Users?filter=userName%20eq%20%22${name/@/%40}%22"
    [filter_sw]="$BASE/Users?filter=name.familyName%20sw%20%22Smi%22&count=100"
    [list]="$BASE/Users?startIndex=1&count=100"
    [cursor_pages]="$BASE/Users?count=100&cursor="
  )
  for s in get_by_id filter_eq filter_sw list cursor_pages; do
    curl -s -m 60 -w '\n%{http_code}' -H "Authorization: Bearer $TOKEN" "${urls[$s]}" \
      | python3 -c '
import json, sys
*body, code = sys.stdin.read().split("\n")
try:
    doc = json.loads("\n".join(body))
except ValueError:
    doc = {}
extra = ""
if isinstance(doc, dict) and "totalResults" in doc:
    extra = " totalResults=%s returned=%d" % (doc["totalResults"], len(doc.get("Resources", [])))
if isinstance(doc, dict) and "nextCursor" in doc:
    extra += " nextCursor=yes"
print("[bench] check %s: HTTP %s%s" % (sys.argv[1], code, extra), file=sys.stderr)
' "$s"
  done
}

# Creates a group whose members are the first $2 users of $1/ids.txt, added 1,000 per PATCH.
# Sets GROUP_ID.
make_group() {
  local dir="$1" members="$2"
  log "creating a group of $members members"
  GROUP_ID="$(python3 - "$BASE" "$TOKEN" "$dir/ids.txt" "$members" <<'PY'
import json, sys, urllib.request
base, token, ids_file, members = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
def call(method, path, body):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), method=method,
        headers={"Authorization": "Bearer " + token, "Content-Type": "application/scim+json"})
    with urllib.request.urlopen(req, timeout=300) as r:
        return json.loads(r.read() or b"null")
with open(ids_file) as f:
    ids = [line.split()[0] for _, line in zip(range(members), f)]
group = call("POST", "/Groups", {"displayName": "bench-big-%d" % len(ids)})["id"]
for i in range(0, len(ids), 1000):
    ops = [{"op": "add", "path": "members", "value": [{"value": v} for v in ids[i:i + 1000]]}]
    call("PATCH", "/Groups/" + group + "?attributes=id",
         {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
print(group)
PY
)"
}

# How many users the server holds.
user_total() {
  curl -s -m 60 -H "Authorization: Bearer $TOKEN" "$BASE/Users?count=0" \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["totalResults"])'
}

# The user count once it stops moving: wrk leaves the requests still in flight when it stops,
# and the server finishes them.
settled_user_total() {
  local previous=-1 current deadline=$((SECONDS + 120))
  current="$(user_total)"
  while [[ "$current" != "$previous" ]] && (( SECONDS < deadline )); do
    sleep 1; previous="$current"; current="$(user_total)"
  done
  echo "$current"
}

# One small /Bulk of user creates, to show what the server answers to bulk_create.
check_bulk() {
  local ops='[{"method":"POST","path":"/Users","bulkId":"a","data":{"userName":"check-'"$RUN_TAG"'-a"}},
    {"method":"POST","path":"/Users","bulkId":"b","data":{"userName":"check-'"$RUN_TAG"'-b"}}]'
  curl -s -m 60 -w '\n%{http_code}' -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/scim+json' \
    -d '{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":'"$ops"'}' "$BASE/Bulk" \
    | python3 -c '
import json, sys
*body, code = sys.stdin.read().split("\n")
try:
    ops = json.loads("\n".join(body)).get("Operations", [])
except (ValueError, AttributeError):
    ops = []
created = sum(1 for op in ops if str(op.get("status")) == "201")
print("[bench] check bulk_create: HTTP %s, %d of 2 operations created" % (code, created), file=sys.stderr)
'
}

ROWS=()      # scenario table rows
BULK_ROWS=() # operations/s of bulk_create
SUMMARY=()   # per-target rows
RUN_TAG="$(date +%s)$$"

run_target() {
  local target="$1" dir="$WORK/$1" users
  mkdir -p "$dir"
  if [[ -n "${BENCH_USERS:-}" ]]; then users="$BENCH_USERS"
  elif [[ "$target" == reference ]]; then users=10000
  else users=1000000; fi

  start_server "$target" "$dir"
  log "$target: server pid $SERVER_PID at $BASE ($DB_DESC); loading $users users"
  load_users "$users" "$dir"
  local rate rss_loaded
  rate=$(awk -v n="$LOADED" -v s="$LOAD_SECONDS" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }')
  rss_loaded=$(rss_kib VmRSS)
  log "$target: loaded $LOADED users in ${LOAD_SECONDS}s ($rate users/s)"
  sanity_check "$dir"

  local group_args=() members
  for s in "${SCENARIOS[@]}"; do
    if [[ "$target" == reference && "$s" == cursor_pages ]]; then
      log "$target: skipping $s (the reference server has no cursor paging)"; continue
    fi
    if [[ "$s" == group_* && ${#group_args[@]} == 0 ]]; then
      members="${BENCH_GROUP_MEMBERS:-100000}"
      (( members <= LOADED / 2 )) || members=$((LOADED / 2))
      make_group "$dir" "$members"
      group_args=("$GROUP_ID" "$members")
      # Creating the group wrote its members in one transaction; let the background checkpoint
      # copy them into the database first, or the first group scenario measures that copy.
      sleep "${BENCH_SETTLE:-10}"
    fi
    local connections=$CONNECTIONS timeout=$REQ_TIMEOUT threads=$THREADS before=0 extra=()
    if [[ "$s" == group_* ]]; then
      connections="${BENCH_GROUP_CONNECTIONS:-8}" extra=("${group_args[@]}")
    elif [[ "$s" == bulk_create ]]; then
      connections=$BULK_CONNECTIONS timeout=$BULK_TIMEOUT extra=("$BULK_OPS")
      check_bulk
      before="$(user_total)"
    fi
    (( connections >= threads )) || threads=$connections
    log "$target: $s for ${DURATION}s, $connections connections"
    wrk -t "$threads" -c "$connections" -d "${DURATION}s" --timeout "$timeout" --latency \
      -H "Authorization: Bearer $TOKEN" -s "$LUA/scenarios.lua" "$BASE" \
      -- "$s" "$dir/ids.txt" "$RUN_TAG" "${extra[@]}" >"$dir/$s.out" 2>&1 || { cat "$dir/$s.out" >&2; return 1; }
    grep -v '^@@result' "$dir/$s.out" >&2
    log "$target: peak RSS so far (VmHWM) $(( $(rss_kib VmHWM) / 1024 )) MiB, after $s"
    local r
    r="$(grep '^@@result' "$dir/$s.out")" || { log "no result line from wrk"; return 1; }
    # "@@result requests=.. duration_us=.. p50_us=.. p99_us=.. non2xx=.. socket_errors=.."
    ROWS+=("$(awk -v t="$target" -v s="$s" '{
        for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        printf "| %s | %s | %.0f | %.2f | %.2f | %d |", t, s,
          v["requests"] / (v["duration_us"] / 1e6), v["p50_us"] / 1000, v["p99_us"] / 1000,
          v["non2xx"] + v["socket_errors"]
      }' <<<"$r")")
    if [[ "$s" == bulk_create ]]; then
      # Operations the completed requests carried that did not create a user.
      local after created
      after="$(settled_user_total)"
      created=$((after - before))
      BULK_ROWS+=("$(awk -v t="$target" -v n="$BULK_OPS" -v created="$created" '{
          for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
          missing = v["requests"] * n - created
          printf "| %s | %s | %d | %.0f | %d |", t, "bulk_create", n,
            v["requests"] * n / (v["duration_us"] / 1e6), (missing > 0 ? missing : 0)
        }' <<<"$r")")
    fi
  done

  local hwm
  hwm=$(rss_kib VmHWM)
  SUMMARY+=("$(printf '| %s | %s | %s | %s | %.0f | %.0f |' "$target" "$LOADED" "$LOAD_SECONDS" "$rate" \
    "$(awk -v k="$rss_loaded" 'BEGIN { print k / 1024 }')" "$(awk -v k="$hwm" 'BEGIN { print k / 1024 }')")")
  stop_server
}

for t in "${TARGETS[@]}"; do run_target "$t"; done

cores=$(nproc)
echo
echo "wrk: $THREADS threads, $CONNECTIONS connections (group_*: ${BENCH_GROUP_CONNECTIONS:-8}), ${DURATION}s per scenario, on the same $cores-core machine as the server."
echo
echo "| target | scenario | req/s | p50 (ms) | p99 (ms) | errors |"
echo "| --- | --- | ---: | ---: | ---: | ---: |"
printf '%s\n' "${ROWS[@]}"
if (( ${#BULK_ROWS[@]} )); then
  echo
  echo "bulk_create: $BULK_CONNECTIONS connections; failed operations counted from totalResults before and after."
  echo
  echo "| target | scenario | operations per request | operations/s | failed operations |"
  echo "| --- | --- | ---: | ---: | ---: |"
  printf '%s\n' "${BULK_ROWS[@]}"
fi
echo
echo "| target | users loaded | load time (s) | load rate (users/s) | RSS after load (MiB) | peak RSS, VmHWM (MiB) |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
printf '%s\n' "${SUMMARY[@]}"

# Shared by the benchmark scripts: a free port, a scimd server on a fresh database, a tenant and
# tokens, and waiting for a job. Source it after setting WORK (a temp dir) and SCIMD (the binary).

PG_URL="${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}"
SERVER_PID="" PG_DB="" BASE="" DB_URL=""

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Starts `scimd serve` on a new database of `$1` (sqlite | postgres) with tenant acme; sets BASE,
# DB_URL, SERVER_PID and the tokens SCIM_TOKEN and ADMIN_TOKEN.
start_server() {
  case "$1" in
    sqlite) DB_URL="sqlite://$WORK/scimd-$RANDOM.db" ;;
    postgres)
      PG_DB="scimd_bench_$$_$RANDOM"
      psql "$PG_URL/test" -v ON_ERROR_STOP=1 -qAt -c "CREATE DATABASE $PG_DB" >/dev/null
      DB_URL="$PG_URL/$PG_DB" ;;
    *) echo "unknown target '$1' (sqlite | postgres)" >&2; exit 2 ;;
  esac
  local port
  port="$(free_port)"
  SCIMD_SYNC__FILES_DIR="$WORK/files" "$SCIMD" --database "$DB_URL" serve --listen "127.0.0.1:$port" >"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  BASE="http://127.0.0.1:$port"
  for _ in $(seq 300); do curl -sf -o /dev/null "$BASE/healthz" && break; sleep 0.2; done
  "$SCIMD" --database "$DB_URL" tenant create acme >/dev/null
  SCIM_TOKEN="$("$SCIMD" --database "$DB_URL" token create --tenant acme --role scim --client bench | tail -n 1)"
  ADMIN_TOKEN="$("$SCIMD" --database "$DB_URL" token create --tenant acme --role admin | tail -n 1)"
}

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

# The server's peak RSS so far.
server_rss() {
  awk '$1 == "VmHWM:" { printf "%d MiB", $2 / 1024 }' "/proc/$SERVER_PID/status"
}

# Waits for job `$1` to end; prints "seconds status updated" with the seconds from `$2`
# (date +%s.%N) to the job's `finished`, and the records it updated. Polling is slow on purpose: each poll takes CPU from the server measured.
wait_job() {
  local job="$1" start="$2" reply status
  while :; do
    sleep 0.5
    reply="$(curl -sf -H "Authorization: Bearer $ADMIN_TOKEN" "$BASE/admin/v1/jobs/$job")"
    status="$(jq -r .status <<<"$reply")"
    [[ "$status" == pending || "$status" == running ]] || break
  done
  [[ "$status" == completed ]] || echo "job $job: $(jq -c '{status, error, invalidCount, notRegisteredCount}' <<<"$reply")" >&2
  echo "$(echo "$(date -d "$(jq -r .finished <<<"$reply")" +%s.%N) - $start" | bc) $status $(jq -r .updatedCount <<<"$reply")"
}

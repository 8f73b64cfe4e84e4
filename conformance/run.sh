#!/usr/bin/env bash
# SCIM 2.0 conformance run: starts a throw-away server, points scim2-tester
# (through the `scim2 test` command of scim2-cli) at it, prints every check,
# and ends with the line "N passed, N failed".
#
# Usage: conformance/run.sh
#
# Environment:
#   SCIMD_CONFORMANCE_TARGET   scimd (default) | reference
#                              `reference` runs the Python scim2-server from
#                              PyPI instead, to check this harness itself.
#   SCIMD_BIN                  use this scimd binary instead of building one.
#   SCIMD_CONFORMANCE_VERBOSE  1 = pass --verbose to `scim2 test` (dumps the
#                              payload of the checks that have one).
#   SCIMD_CONFORMANCE_TIMEOUT  seconds allowed for the whole test (default 600).
#   STARTUP_TIMEOUT            seconds to wait for the server (default 60).
#
# Exit status: 0 when at least one check ran and none failed.
# A check "passes" with status SUCCESS, COMPLIANT or ACCEPTABLE; it "fails"
# with ERROR, CRITICAL or DEVIATION. SKIPPED checks (for instance the PATCH
# checks when ServiceProviderConfig says patch is unsupported) are counted
# on their own line and fail nothing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET="${SCIMD_CONFORMANCE_TARGET:-scimd}"
VERBOSE="${SCIMD_CONFORMANCE_VERBOSE:-0}"
TEST_TIMEOUT="${SCIMD_CONFORMANCE_TIMEOUT:-600}"
STARTUP_TIMEOUT="${STARTUP_TIMEOUT:-60}"
VENV="$ROOT/target/conformance-venv"

# Pinned so that a run is reproducible; the tester's checks change between
# releases. Bump deliberately (and re-run against the reference server).
PY_REQS=(scim2-cli==0.6.0 scim2-tester==0.5.2)
[[ "$TARGET" == reference ]] && PY_REQS+=(scim2-server==0.8.3)

case "$TARGET" in
  scimd|reference) ;;
  *) echo "SCIMD_CONFORMANCE_TARGET must be scimd or reference, not '$TARGET'" >&2; exit 2 ;;
esac

log() { echo "[conformance] $*" >&2; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/scimd-conformance.XXXXXX")"
SERVER_PID=""
cleanup() {
  local rc=$?
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    # Give it a few seconds for a graceful shutdown, then force it.
    for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  if [[ $rc -ne 0 && -s "$WORK/server.log" ]]; then
    log "last lines of the server log:"
    tail -n 30 "$WORK/server.log" >&2 || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# --- Python tooling (venv created once, packages installed only if missing) ---
if [[ ! -x "$VENV/bin/python" ]]; then
  log "creating $VENV"
  python3 -m venv "$VENV"
fi
# Print the requirements whose exact version is not installed.
missing="$("$VENV/bin/python" - "${PY_REQS[@]}" <<'EOF'
import sys
from importlib.metadata import version, PackageNotFoundError
for req in sys.argv[1:]:
    name, _, want = req.partition("==")
    try:
        if version(name) != want:
            print(req)
    except PackageNotFoundError:
        print(req)
EOF
)"
if [[ -n "$missing" ]]; then
  mapfile -t missing_reqs <<<"$missing"
  log "installing: ${missing_reqs[*]}"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${missing_reqs[@]}"
fi

free_port() {
  "$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Poll URL until it answers 200, the server dies, or STARTUP_TIMEOUT passes.
wait_ready() {
  local url="$1" deadline=$((SECONDS + STARTUP_TIMEOUT))
  until [[ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$url" || true)" == 200 ]]; do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      log "server exited before becoming ready"; return 1
    fi
    if (( SECONDS >= deadline )); then
      log "server not ready at $url after ${STARTUP_TIMEOUT}s"; return 1
    fi
    sleep 0.2
  done
}

PORT="$(free_port)"

# --- Start the server under test and get a bearer token for it ---
if [[ "$TARGET" == scimd ]]; then
  if [[ -n "${SCIMD_BIN:-}" ]]; then
    BIN="$SCIMD_BIN"
  else
    log "building scimd (release)"
    (cd "$ROOT" && cargo build --release --quiet -p scimd)
    BIN="$ROOT/target/release/scimd"
  fi
  DB="sqlite://$WORK/scimd.db"
  "$BIN" --database "$DB" serve --listen "127.0.0.1:$PORT" >"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  wait_ready "http://127.0.0.1:$PORT/healthz"
  "$BIN" --database "$DB" tenant create conformance >&2
  # The token is printed alone on the last line of stdout.
  TOKEN="$("$BIN" --database "$DB" token create --tenant conformance --role scim --client conformance | tail -n 1)"
  BASE="http://127.0.0.1:$PORT/scim/v2"
else
  TOKEN="conformance-$RANDOM$RANDOM"
  "$VENV/bin/scim2-server" --hostname 127.0.0.1 --port "$PORT" --bearer-token "$TOKEN" \
    >"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  # The reference server has no health endpoint; discovery is public there.
  wait_ready "http://127.0.0.1:$PORT/v2/ServiceProviderConfig"
  BASE="http://127.0.0.1:$PORT/v2"
fi
[[ -n "$TOKEN" ]] || { log "got an empty token"; exit 1; }
log "target=$TARGET base=$BASE pid=$SERVER_PID"

# --- Run the checks ---
# The header goes through SCIM_CLI_HEADERS rather than -h so the token does
# not show up in the process list.
args=(--url "$BASE" test)
[[ "$VERBOSE" == 1 ]] && args+=(--verbose)
tool_rc=0
SCIM_CLI_HEADERS="Authorization: Bearer $TOKEN" \
  timeout "$TEST_TIMEOUT" "$VENV/bin/scim2" "${args[@]}" >"$WORK/checks.txt" 2>&1 || tool_rc=$?
# Strip colours in case the tool decided to emit them.
sed -i 's/\x1b\[[0-9;]*m//g' "$WORK/checks.txt"
cat "$WORK/checks.txt"

# Each check is one line "<STATUS> <check_name>", optionally followed by an
# indented reason line. Anything else (e.g. a discovery error) is ignored here
# and caught by the zero-checks / exit-status rules below.
count() { grep -cE "^($1) " "$WORK/checks.txt" || true; }
passed="$(count 'SUCCESS|COMPLIANT|ACCEPTABLE')"
failed="$(count 'ERROR|CRITICAL|DEVIATION')"
skipped="$(count 'SKIPPED')"

# `scim2 test` exits 1 when any check is not SUCCESS (SKIPPED included), or
# when discovery fails before any check runs. A non-zero exit not explained by
# a counted failure or skip (crash, timeout) counts as one failure so the
# summary can never read "0 failed" on a broken run.
if (( tool_rc != 0 && failed == 0 && skipped == 0 )); then
  log "scim2 test exited with status $tool_rc without reporting a failed check"
  failed=$((failed + 1))
fi
if (( passed + failed == 0 )); then
  log "no check ran"
  failed=1
fi

echo "$skipped skipped"
echo "$passed passed, $failed failed"
(( failed == 0 ))

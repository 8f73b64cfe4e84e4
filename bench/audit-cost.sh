#!/usr/bin/env bash
# What the audit log costs (issue 7: at most 15% on the SCIM POST and CSV benchmarks): builds scimd
# twice, as shipped and with the feature `bench-without-audit` (no audit events written), then
# alternates the two binaries RUNS times on `bench/csv.sh` (100,000 new users, then unchanged) and on
# `bench/run.sh`'s `create` scenario (POST /Users on 100,000 users). Alternating keeps both binaries
# under the same machine conditions; the medians are compared at the end.
#
# Usage: bench/audit-cost.sh                 (SQLite)
# Environment: RUNS (default 3), BENCH_ROWS (CSV rows, 100000), BENCH_USERS (POST, 100000),
#              BENCH_DURATION (POST seconds, 10)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
RUNS="${RUNS:-3}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/scimd-audit-cost.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
log() { echo "[audit-cost] $*" >&2; }

cd "$ROOT"
log "building scimd with and without audit events (release)"
cargo build --release --quiet -p scimd-connectors --examples
cargo build --release --quiet -p scimd --features bench-without-audit
cp target/release/scimd "$WORK/scimd-without"
cargo build --release --quiet -p scimd
cp target/release/scimd "$WORK/scimd-with"

declare -A CSV_NEW CSV_SAME POST
for run in $(seq "$RUNS"); do
  for build in without with; do
    log "run $run/$RUNS: $build audit"
    row="$(SCIMD_BIN="$WORK/scimd-$build" "$HERE/csv.sh" sqlite 2>/dev/null | tail -n 1)"
    CSV_NEW[$build]+="$(awk -F'|' '{ gsub(/[ s]/, "", $5); print $5 }' <<<"$row") "
    CSV_SAME[$build]+="$(awk -F'|' '{ gsub(/[ s]/, "", $6); print $6 }' <<<"$row") "
    row="$(SCIMD_BIN="$WORK/scimd-$build" BENCH_USERS="${BENCH_USERS:-100000}" BENCH_DURATION="${BENCH_DURATION:-10}" \
      BENCH_SCENARIOS=create "$HERE/run.sh" sqlite 2>/dev/null | grep -E '^\| sqlite \| create ' | tail -n 1)"
    POST[$build]+="$(awk -F'|' '{ gsub(/ /, "", $4); print $4 }' <<<"$row") "
  done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
echo "| figure | without audit events (runs) | with (runs) | median without → with | cost |"
echo "|---|---|---|---|---:|"
report() {
  local name="$1" without="$2" with="$3" higher_is_better="$4" a b
  a="$(median <<<"$without")" b="$(median <<<"$with")"
  awk -v n="$name" -v ra="$without" -v rb="$with" -v a="$a" -v b="$b" -v hb="$higher_is_better" 'BEGIN {
    cost = hb ? (a - b) / a * 100 : (b - a) / a * 100
    printf "| %s | %s | %s | %s → %s | %+.1f%% |\n", n, ra, rb, a, b, cost }'
}
report "CSV, 100,000 new users (s)" "${CSV_NEW[without]}" "${CSV_NEW[with]}" 0
report "CSV, same file again (s)" "${CSV_SAME[without]}" "${CSV_SAME[with]}" 0
report "POST /Users (users/s)" "${POST[without]}" "${POST[with]}" 1

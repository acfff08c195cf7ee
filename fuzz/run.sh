#!/usr/bin/env bash
# Runs every fuzz target (fuzz/build.sh builds them) for SECONDS each (default 10), one after the
# other, and prints libFuzzer's final "#N DONE cov: X" line per target. Seeds come from
# fuzz/corpus/<target>/ and fuzz/regressions/<target>/; new interesting inputs go to
# build-fuzz/corpus/<target>/ (so the committed seeds stay small), crashes to
# build-fuzz/crashes/<target>/, the full log to build-fuzz/logs/<target>.log.
# A crash prints the report and the input (base64 when up to 4 KiB).
# Exit 1 when any target crashed (or failed to start). Usage: fuzz/run.sh [SECONDS] [TARGET...]
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${ICSTR_FUZZ_BUILD:-$PWD/build-fuzz}
SECS=${1:-10}
shift || true
targets=("$@")
if ((${#targets[@]} == 0)); then
  for t in fuzz/fuzz_*.c; do targets+=("$(basename "$t" .c)"); done
fi
status=0
for t in "${targets[@]}"; do
  [ -x "$OUT/$t" ] || { echo "fuzz/run.sh: $OUT/$t not built (run fuzz/build.sh)" >&2; status=1; continue; }
  mkdir -p "$OUT/corpus/$t" "$OUT/crashes/$t" "$OUT/logs" "fuzz/corpus/$t"
  seeds=("fuzz/corpus/$t")
  [ -d "fuzz/regressions/$t" ] && seeds+=("fuzz/regressions/$t")
  dict=()
  [ -f "fuzz/$t.dict" ] && dict=("-dict=fuzz/$t.dict")
  # -rss_limit_mb: a leak or a runaway allocation is a finding, not a reason to swap
  ICSTR_LOG=error "$OUT/$t" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="$OUT/crashes/$t/" "${dict[@]}" \
    "$OUT/corpus/$t" "${seeds[@]}" >"$OUT/logs/$t.log" 2>&1
  rc=$?
  done_line=$(grep -a 'DONE' "$OUT/logs/$t.log" | tail -1)
  execs=$(grep -a '^stat::number_of_executed_units' "$OUT/logs/$t.log" | tail -1 | awk '{print $2}')
  if ((rc != 0)); then
    status=1
    echo "$t: FAILED (exit $rc): $(grep -a -m1 -E 'ERROR|runtime error|deadly signal' "$OUT/logs/$t.log")"
    # the log's report and each crashing input (base64, when small) go to stdout, so a crash found
    # on a CI machine can be replayed from its log alone: base64 -d > fuzz/regressions/$t/NAME
    grep -a -m1 -A24 -E 'ERROR|runtime error|deadly signal' "$OUT/logs/$t.log" | sed 's/^/  | /'
    for c in "$OUT/crashes/$t"/*; do
      [ -f "$c" ] || continue
      size=$(stat -c %s "$c")
      echo "  $c ($size bytes)"
      ((size <= 4096)) && base64 -w 100 "$c" | sed 's/^/  base64: /'
    done
  else
    printf '%-18s %s  (%s execs in %ss)\n' "$t" "$done_line" "${execs:-?}" "$SECS"
  fi
done
exit $status

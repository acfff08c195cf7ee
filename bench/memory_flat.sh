#!/usr/bin/env bash
# Resident memory of `icstr recognize` over a long input: samples VmRSS of the process every
# second while counting the results it has printed, so growth per crop shows as a slope. Prints
# the samples, the peak (VmHWM) and the growth between the first and the last quarter of the run.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: bench/memory_flat.sh --data PATH [--model M] [--threads T] [--out DIR] [-- EXTRA recognize ARGS]

Runs `icstr recognize` over PATH (an STR LMDB, a folder, ...) and samples its resident memory
every second together with the number of crops recognized so far.
  --data PATH    input (e.g. a 100,000-crop LMDB from `icstr data synth --n 100000 --out X`)
  --model M      model file (default: icstr's default model)
  --threads T    recognize threads (default: all cores)
  --out DIR      where the samples go (default /tmp/icstr-memory): samples.csv (seconds,crops,rss_kib),
                 summary.txt
Env: ICSTR=path/to/icstr (default build/icstr).
Flat memory means the RSS of the last quarter of the run is within a few MiB of the first
quarter's (the summary prints both and their difference per 10,000 crops).
EOF
}

icstr=${ICSTR:-build/icstr}
data="" model="" threads="" out=/tmp/icstr-memory
extra=()
while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --data) data=$2; shift 2 ;;
        --model) model=$2; shift 2 ;;
        --threads) threads=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --) shift; extra=("$@"); break ;;
        *) echo "memory_flat.sh: unexpected argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
done
[ -n "$data" ] || { echo "memory_flat.sh: --data is required" >&2; usage >&2; exit 2; }
[ -x "$icstr" ] || { echo "memory_flat.sh: $icstr is not built (bash scripts/setup.sh)" >&2; exit 1; }
mkdir -p "$out"

args=(recognize)
[ -n "$model" ] && args+=(--model "$model")
[ -n "$threads" ] && args+=(--threads "$threads")
args+=("${extra[@]}" "$data")

"$icstr" "${args[@]}" > "$out/results.tsv" 2> "$out/stderr.txt" &
pid=$!
echo "seconds,crops,rss_kib,anon_kib,file_kib" > "$out/samples.csv"
start=$(date +%s.%N)
peak=0
while kill -0 "$pid" 2>/dev/null; do
    read -r rss anon file < <(awk '/^VmRSS:/ {r = $2} /^RssAnon:/ {a = $2} /^RssFile:/ {f = $2}
        END {print r, a, f}' "/proc/$pid/status" 2>/dev/null || true)
    hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
    [ -n "$hwm" ] && [ "$hwm" -gt "$peak" ] && peak=$hwm
    if [ -n "$rss" ]; then
        crops=$(wc -l < "$out/results.tsv")
        now=$(date +%s.%N)
        printf '%.1f,%d,%d,%d,%d\n' "$(echo "$now - $start" | bc)" "$crops" "$rss" "$anon" "$file" \
            >> "$out/samples.csv"
    fi
    sleep 1
done
set +e
wait "$pid"
rc=$?
set -e
crops=$(wc -l < "$out/results.tsv")
awk -F, -v peak="$peak" -v crops="$crops" -v rc="$rc" 'NR > 1 && $2 > 0 {
    n++; c[n] = $2; r[n] = $3; an[n] = $4; fl[n] = $5 }
function quarter_mean(arr, from, to,    i, s) { s = 0; for (i = from; i <= to; i++) s += arr[i]; return s / (to - from + 1) }
END {
    if (n < 8) { printf "too few samples (%d) for a slope\n", n; exit }
    q = int(n / 4)
    ca = quarter_mean(c, 1, q); cb = quarter_mean(c, n - q + 1, n)
    printf "crops recognized   %d (exit code %d)\n", crops, rc
    printf "peak RSS (VmHWM)   %.1f MiB\n", peak / 1024
    printf "%-18s %12s %12s %12s\n", "mean MiB", "first 1/4", "last 1/4", "per 10k crops"
    split("RSS anon file", names, " ")
    for (k = 1; k <= 3; k++) {
        if (k == 1) { a = quarter_mean(r, 1, q); b = quarter_mean(r, n - q + 1, n) }
        if (k == 2) { a = quarter_mean(an, 1, q); b = quarter_mean(an, n - q + 1, n) }
        if (k == 3) { a = quarter_mean(fl, 1, q); b = quarter_mean(fl, n - q + 1, n) }
        printf "%-18s %12.1f %12.1f %+12.2f\n", names[k], a / 1024, b / 1024, (b - a) / 1024 / ((cb - ca) / 10000)
    }
    printf "(quarters around crops %d and %d; anon = heap and stacks, file = mapped files: the LMDB pages read so far, which the kernel can drop at any time)\n", ca, cb
}' "$out/samples.csv" | tee "$out/summary.txt"
exit "$rc"

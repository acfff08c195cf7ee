#!/usr/bin/env bash
# Retrieval of twins (issue: the prompt pool): a domain repeats its texts, and a pool's record of
# the very text a crop shows is a useful prompt only when retrieval ranks it first. For every
# crop of a labelled list whose label some pool record holds (exact, case-sensitive), this reads
# which records `icstr recognize --pool P --shots K --split-aspect 0 --json` put before it and
# reports how often a record with the crop's label is the most similar one (recall@1) or among
# the K (recall@K), and the medians of the best twin's cosine (where one is among the K) and of
# the best other record's.
# Output (stdout): twins,recall_at_1,recall_at_k,k,median_twin_cosine,median_other_cosine
#
# usage: bench/retrieval_twins.sh --pool P --data LIST [--model M] [--shots K]
#        LIST: IMAGE<TAB>LABEL lines (absolute paths), as bench/incontext.sh writes them
set -euo pipefail
cd "$(dirname "$0")/.."
ICSTR=${ICSTR:-build/icstr}
model=models/icstr.safetensors
pool= data= shots=4
while [ $# -gt 0 ]; do
  case "$1" in
    --pool) pool=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --shots) shots=$2; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "retrieval_twins.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -n "$pool" ] && [ -n "$data" ] || { echo "retrieval_twins.sh: --pool and --data are needed (--help)" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$ICSTR" pool ls "$pool" 2>/dev/null | cut -f1,2 > "$tmp/records.tsv"
# the crops whose label a record holds
awk -F'\t' 'NR == FNR { have[$2] = 1; next } ($2 in have)' "$tmp/records.tsv" "$data" > "$tmp/twins.tsv"
[ -s "$tmp/twins.tsv" ] || { echo "retrieval_twins.sh: no crop of $data has its label in the pool" >&2; exit 1; }
cut -f1 "$tmp/twins.tsv" |
  "$ICSTR" recognize --model "$model" --pool "$pool" --shots "$shots" --split-aspect 0 --json - 2>/dev/null \
  > "$tmp/read.jsonl"
awk -F'\t' -v k="$shots" '
  FILENAME == ARGV[1] { label[$1] = $2; next }
  FILENAME == ARGV[2] { want[FNR] = $2; next }
  {
    # prompts in the order given: the most similar first
    line = $0; n = 0; best_twin = -2; best_other = -2; hit1 = 0; hitk = 0
    while (match(line, /"id": [0-9]+, "similarity": -?[0-9.]+/)) {
      s = substr(line, RSTART, RLENGTH); line = substr(line, RSTART + RLENGTH)
      split(s, f, /[:,] */); id = f[2] + 0; sim = f[4] + 0; n++
      if (label[id] == want[FNR]) { if (n == 1) hit1 = 1; if (n <= k) hitk = 1; if (sim > best_twin) best_twin = sim }
      else if (sim > best_other) best_other = sim
    }
    total++; h1 += hit1; hk += hitk
    if (best_twin > -2) tw[++nt] = best_twin
    if (best_other > -2) ot[++no] = best_other
  }
  function median(a, n,   i, j, t) {
    for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return n ? (n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2) : 0
  }
  END {
    print "twins,recall_at_1,recall_at_k,k,median_twin_cosine,median_other_cosine"
    printf "%d,%.4f,%.4f,%d,%.4f,%.4f\n", total, h1 / total, hk / total, k, median(tw, nt), median(ot, no)
  }' "$tmp/records.tsv" "$tmp/twins.tsv" "$tmp/read.jsonl"

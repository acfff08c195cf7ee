#!/usr/bin/env bash
# The hard-sample loop (issue: the prompt pool): the crops of a labelled set that the plain model
# misreads go, with their true labels, into a fresh pool (`icstr eval --errors` then `icstr pool
# add`); the whole set is then read again with that pool. Reported, standard protocol:
#   corrected   of the crops misread without the pool, the share read right with it (target >= 0.9)
#   kept        of the crops read right without the pool, the share still right with it (the rest
#               of the set must not get worse)
# Output: DIR/hard_samples.csv (set,shots,reading,misread,corrected,corrected_share,right,kept,
# kept_share,accuracy_plain,accuracy_pool) and the per-crop predictions DIR/plain.tsv,
# DIR/pool-SHOTS.tsv. --reading OPTS passes more options to the pooled `icstr eval`, e.g.
# "--min-similarity 0.998" (only near-copies are prompts) or "--no-compare-plain" (always the
# reading with prompts; by default the surer of with and without them stays).
#
# usage: bench/hard_samples.sh [--model M] [--data SET] [--out DIR] [--shots "1 2"]
#                              [--reading OPTS]   (SET default ../shared/data/benchmarks/ic15_test)
set -euo pipefail
cd "$(dirname "$0")/.."
ICSTR=${ICSTR:-build/icstr}
model=models/icstr.safetensors
data=../shared/data/benchmarks/ic15_test
out=bench-results/hard_samples
shots="2"
reading=
while [ $# -gt 0 ]; do
  case "$1" in
    --model) model=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --shots) shots=$2; shift 2 ;;
    --reading) reading=$2; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "hard_samples.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$out"
set_name=$(basename "$data")
rm -rf "$out/errors" "$out/pool"
"$ICSTR" eval --model "$model" --data "$data" --predictions "$out/plain.tsv" --errors "$out/errors" --json |
  tail -n 1 >&2
"$ICSTR" pool create "$out/pool" --model "$model" > /dev/null
"$ICSTR" pool add "$out/pool" --data "$out/errors" --tag hard > /dev/null ||
  echo "hard_samples.sh: some misread crops were not added to the pool (see above)" >&2
csv="$out/hard_samples.csv"
echo "set,shots,reading,misread,corrected,corrected_share,right,kept,kept_share,accuracy_plain,accuracy_pool" > "$csv"
for s in $shots; do
  "$ICSTR" eval --model "$model" --data "$data" --pool "$out/pool" --shots "$s" $reading --predictions "$out/pool-$s.tsv" \
    --json | tail -n 1 >&2
  # join the two prediction files on the crop name (column 1); column 5 is right/wrong/skipped
  awk -F'\t' -v set="$set_name" -v s="$s" -v rd="$reading" '
    FNR == 1 && /^#/ { next }
    NR == FNR { plain[$1] = $5; next }
    ($1 in plain) && plain[$1] != "skipped" {
      if (plain[$1] == "wrong") { mis++; if ($5 == "right") cor++ }
      else { ok++; if ($5 == "right") kept++ }
    }
    END {
      n = mis + ok
      printf "%s,%d,%s,%d,%d,%.4f,%d,%d,%.4f,%.4f,%.4f\n", set, s, rd, mis, cor, mis ? cor / mis : 0, ok, kept,
        ok ? kept / ok : 0, n ? ok / n : 0, n ? (cor + kept) / n : 0
    }' "$out/plain.tsv" "$out/pool-$s.tsv" | tee -a "$csv"
done
echo "hard_samples.sh: wrote $csv" >&2

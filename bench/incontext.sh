#!/usr/bin/env bash
# In-context ablation on the two domain sets (issue: the prompt pool). For each domain, a pool is
# drawn with a fixed seed and split by source where the set says so:
#   us_plates      a random 100 plates (seeded shuffle) form the pool candidates; the rest is the test
#   receipt_lines  lines of receipts 000-009 form the pool candidates; receipts 010-039 are the test
# A pool of size N is the first N candidates. For every size and shot count the test set is scored
# with `icstr eval --pool`, beside the same model with no pool. Output: DIR/incontext.csv
# (domain,pool_size,shots,n,accuracy,one_minus_ned,reading,view) and DIR/pool_curve-<domain>.csv for
# `icstr bench report --pool`. No image is copied: pools and tests are list files of absolute paths.
#
# usage: bench/incontext.sh [--model M] [--out DIR] [--sizes "10 25 50 100"] [--shots "1 2 4"]
#                           [--limit N] [--data DIR] [--reading OPTS] [--view auto|full]
#                           (DIR = ../shared/data/domains)
# --reading OPTS passes more options to the pooled `icstr eval` (e.g. "--no-compare-plain").
# --view auto (default): each pool chooses its view from its own records (`icstr pool view --auto`);
# full: pools read whole crops.
set -euo pipefail
cd "$(dirname "$0")/.."
ICSTR=${ICSTR:-build/icstr}
model=models/icstr.safetensors
out=bench-results/incontext
sizes="10 25 50 100"
shots="1 2 4"
limit=()
reading=
view=auto
data=../shared/data/domains
while [ $# -gt 0 ]; do
  case "$1" in
    --model) model=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --sizes) sizes=$2; shift 2 ;;
    --shots) shots=$2; shift 2 ;;
    --limit) limit=(--limit "$2"); shift 2 ;;
    --data) data=$2; shift 2 ;;
    --reading) reading=$2; shift 2 ;;
    --view) view=$2; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "incontext.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
case "$view" in auto|full) ;; *) echo "incontext.sh: --view is auto or full" >&2; exit 2 ;; esac
mkdir -p "$out"
data=$(cd "$data" && pwd)

. bench/score_lib.sh

csv="$out/incontext.csv"
echo "domain,pool_size,shots,n,accuracy,one_minus_ned,reading,view" > "$csv"
for d in us_plates receipt_lines; do
  [ -f "$data/$d/gt.txt" ] || { echo "incontext.sh: $data/$d/gt.txt missing, skipped" >&2; continue; }
  split_domain "$d"
  read -r n acc ned <<< "$(score "$out/$d-test.txt")"
  echo "$d,0,0,$n,$acc,$ned,,full" | tee -a "$csv"
  curve="$out/pool_curve-$d.csv"
  echo "pool_size,shots,accuracy" > "$curve"
  for s in $shots; do echo "0,$s,$acc" >> "$curve"; done
  for size in $sizes; do
    pool="$out/$d-pool-$size"
    rm -rf "$pool"
    head -n "$size" "$out/$d-pool.txt" > "$out/$d-pool-$size.txt"
    "$ICSTR" pool create "$pool" --model "$model" > /dev/null
    "$ICSTR" pool add "$pool" --data "$out/$d-pool-$size.txt" --tag "$d" > /dev/null ||
      echo "incontext.sh: some crops of $d were not added to the pool (see above)" >&2
    v=$(make_view "$pool")
    for s in $shots; do
      read -r n acc ned <<< "$(score "$out/$d-test.txt" "$pool" "$s")"
      echo "$d,$size,$s,$n,$acc,$ned,$reading,$v" | tee -a "$csv"
      echo "$size,$s,$acc" >> "$curve"
    done
  done
done
echo "incontext.sh: wrote $csv" >&2

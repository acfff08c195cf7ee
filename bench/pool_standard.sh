#!/usr/bin/env bash
# In-context reading must not cost accuracy on the standard sets (issue: the prompt pool): each
# benchmark is read with no pool and with a pool of its own train set's crops (IIIT5K with
# iiit5k_train, SVT with svt_train, IC15 with ic15_train), standard protocol.
# Output: DIR/pool_standard.csv (set,pool,pool_records,shots,n,accuracy,one_minus_ned,reading,view),
# shots 0 being the plain reading. --reading OPTS passes more options to the pooled `icstr eval`
# (e.g. "--no-compare-plain"). The pools are built under DIR (about 1 minute for the 6.7k crops).
# --view auto (default): each pool chooses its view from its records (`icstr pool view --auto`);
# full: whole crops.
#
# usage: bench/pool_standard.sh [--model M] [--out DIR] [--shots "2"] [--limit N] [--reading OPTS]
#                               [--view auto|full] [--benchmarks DIR] [--train DIR]
#                               (../shared/data/...)
set -euo pipefail
cd "$(dirname "$0")/.."
ICSTR=${ICSTR:-build/icstr}
model=models/icstr.safetensors
out=bench-results/pool_standard
shots="2"
limit=()
reading=
view=auto
bench=../shared/data/benchmarks
train=../shared/data/train
while [ $# -gt 0 ]; do
  case "$1" in
    --model) model=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --shots) shots=$2; shift 2 ;;
    --limit) limit=(--limit "$2"); shift 2 ;;
    --reading) reading=$2; shift 2 ;;
    --view) view=$2; shift 2 ;;
    --benchmarks) bench=$2; shift 2 ;;
    --train) train=$2; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "pool_standard.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
case "$view" in auto|full) ;; *) echo "pool_standard.sh: --view is auto or full" >&2; exit 2 ;; esac
mkdir -p "$out"

. bench/score_lib.sh

csv="$out/pool_standard.csv"
echo "set,pool,pool_records,shots,n,accuracy,one_minus_ned,reading,view" > "$csv"
for name in iiit5k svt ic15; do
  test_set="$bench/${name}_test" train_set="$train/${name}_train" pool="$out/pool-$name"
  [ -e "$test_set" ] && [ -e "$train_set" ] || { echo "pool_standard.sh: $name missing, skipped" >&2; continue; }
  read -r n acc ned <<< "$(score "$test_set")"
  echo "${name}_test,none,0,0,$n,$acc,$ned,,full" | tee -a "$csv"
  rm -rf "$pool"
  "$ICSTR" pool create "$pool" --model "$model" > /dev/null
  "$ICSTR" pool add "$pool" --data "$train_set" --tag "${name}_train" > /dev/null ||
    echo "pool_standard.sh: some crops of ${name}_train were not added (see above)" >&2
  records=$("$ICSTR" pool stats "$pool" | awk '/records/ {print $2; exit}')
  v=$(make_view "$pool")
  for s in $shots; do
    read -r n acc ned <<< "$(score "$test_set" "$pool" "$s")"
    echo "${name}_test,${name}_train,$records,$s,$n,$acc,$ned,$reading,$v" | tee -a "$csv"
  done
done
echo "pool_standard.sh: wrote $csv" >&2

#!/usr/bin/env bash
# One crop at a time with a pool (what a user's `icstr recognize --pool P IMAGE` costs): the
# wall time of each run of `icstr recognize --threads 1 --pool P [READING] IMAGE` over the first
# N images of a list, for the default reading and for READING with the pool's store caches off
# (ICSTR_STORE_CACHE=0: every run computes the --glyphs and --knn stores from all the records)
# and on (POOL/glyphs.cache and knn.cache, written by a first run that is not timed).
# Output (stdout): reading,cache,runs,median_s,mean_s
#
# usage: bench/store_cache.sh --pool P --data LIST [--model M] [--n N]
#                             [--reading "--glyphs --knn --lexicon --lm --lookalikes"]
#        LIST: IMAGE<TAB>LABEL lines (absolute paths), as bench/incontext.sh writes them
set -euo pipefail
cd "$(dirname "$0")/.."
ICSTR=${ICSTR:-build/icstr}
model=models/icstr.safetensors
pool= data= n=10
reading="--glyphs --knn --lexicon --lm --lookalikes"
while [ $# -gt 0 ]; do
  case "$1" in
    --pool) pool=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --n) n=$2; shift 2 ;;
    --reading) reading=$2; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "store_cache.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -n "$pool" ] && [ -n "$data" ] || { echo "store_cache.sh: --pool and --data are needed (--help)" >&2; exit 2; }
mapfile -t images < <(head -n "$n" "$data" | cut -f1)
[ ${#images[@]} -gt 0 ] || { echo "store_cache.sh: no images in $data" >&2; exit 1; }

# time_runs NAME CACHE OPTIONS...: one run per image, prints the CSV row
time_runs() {
  local name=$1 cache=$2 t0 t1
  shift 2
  local times=()
  for im in "${images[@]}"; do
    t0=$(date +%s%N)
    ICSTR_STORE_CACHE=$cache "$ICSTR" recognize --model "$model" --threads 1 --pool "$pool" "$@" "$im" > /dev/null 2>&1
    t1=$(date +%s%N)
    times+=("$(( (t1 - t0) / 1000000 ))") # ms
  done
  printf '%s\n' "${times[@]}" | sort -g |
    awk -v name="$name" -v cache="$cache" '{ t[NR] = $1 / 1000; s += $1 / 1000 }
      END { m = NR % 2 ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2
            printf "%s,%s,%d,%.3f,%.3f\n", name, cache == "0" ? "off" : cache == "1" ? "on" : "-", NR, m, s / NR }'
}

echo "reading,cache,runs,median_s,mean_s"
# shellcheck disable=SC2086 # the reading is split into options on purpose
{
  time_runs default -
  time_runs "$reading" 0 $reading
  ICSTR_STORE_CACHE=1 "$ICSTR" recognize --model "$model" --threads 1 --pool "$pool" $reading "${images[0]}" > /dev/null 2>&1
  time_runs "$reading" 1 $reading
}

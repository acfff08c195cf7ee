#!/usr/bin/env bash
# Does the model use prompts of its query's own style? A probe on rendered data, no test set
# involved: N style episodes of 8 crops (`icstr data synth --episodes 8`: eight words in one font,
# colours and effects, as the in-context training stage draws them), with a seed of their own
# (not the training run's stream). For each episode, crops 1-7 form a pool of their own and
# crop 8 is the query, scored
#   none        no pool
#   default     the default pooled reading (prompts, compared with the plain reading)
#   on2, on4    prompts always on (--no-compare-plain), 2 and 4 shots
#   knn         the default reading with the pool as a kNN store (--knn)
# and, with one pool of every episode's crops 1-7 (each episode under its own tag), how often the
# query's most similar record is of its own episode (retrieval finding the query's style).
# --cipher: each episode's labels rename one character of the query that a pool label shows too
# (every label, the query's included; half the episodes a lookalike, B written 8, as the cipher
# episodes of training do; episodes without such a character are left out), the episode's pool
# holds only the crops whose labels show that character (so every prompt shows the glyph), and
# the cased protocol scores: only the prompts say what that glyph is called, so without them the
# query is read wrong; a model that reads glyphs from its prompts reads it right with them.
# Output: DIR/incontext_synth.csv (reading,n,right,accuracy) and a line per reading on stdout.
#
# usage: bench/incontext_synth.sh [--model M] [--out DIR] [--episodes N] [--seed S] [--cipher]
#        (defaults: models/icstr.safetensors, bench-results/incontext_synth, 150, 777)
set -euo pipefail
cd "$(dirname "$0")/.."
ICSTR=${ICSTR:-build/icstr}
model=models/icstr.safetensors
out=bench-results/incontext_synth
episodes=150
seed=777
cipher=0
while [ $# -gt 0 ]; do
  case "$1" in
    --model) model=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --episodes) episodes=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --cipher) cipher=1; shift ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "incontext_synth.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
rm -rf "$out"
mkdir -p "$out/ep"
out=$(cd "$out" && pwd)
"$ICSTR" data synth --n $((episodes * 8)) --episodes 8 --seed "$seed" --out "$out/crops.lmdb" > /dev/null
"$ICSTR" data unpack "$out/crops.lmdb" "$out/crops" > /dev/null
# line k (0-based) of gt.txt is crop k % 8 of episode k / 8
awk -F'\t' -v dir="$out/crops" -v ep="$out/ep" -v cipher="$cipher" '
BEGIN { split("O0 0O D0 Q0 o0 I1 1I l1 S5 5S B8 8B Z2 2Z G6 6G UV VU", lk, " ")
        alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789" }
{ k = NR - 1; e = int(k / 8); i = k % 8; path[i] = dir "/" $1; lab[i] = $2
  if (i < 7) next
  if (cipher) { # the query characters some pool label shows; one of them renamed in every label
    sh = ""; n = 0
    for (j = 1; j <= length(lab[7]); j++) {
      c = substr(lab[7], j, 1)
      if (index(alnum, c) == 0 || index(sh, c)) continue
      for (p = 0; p < 7; p++) if (index(lab[p], c)) { sh = sh c; n++; break }
    }
    if (n == 0) next
    from = substr(sh, (e * 7) % n + 1, 1); to = ""
    if (e % 2 == 0) for (x in lk) if (substr(lk[x], 1, 1) == from) to = substr(lk[x], 2, 1)
    if (to == "") to = substr(alnum, (e * 13 + 5) % 62 + 1, 1)
    if (to == from) to = substr(alnum, (e * 13 + 6) % 62 + 1, 1)
    for (p = 0; p < 7; p++) shows[p] = index(lab[p], from) > 0
    for (p = 0; p < 8; p++) gsub(from, to, lab[p])
  }
  for (p = 0; p < 7; p++) if (!cipher || shows[p]) print path[p] "\t" lab[p] > (ep "/p" e ".txt")
  print path[7] "\t" lab[7] > (ep "/q" e ".txt") }' "$out/crops/gt.txt"
protocol=()
[ "$cipher" = 1 ] && protocol=(--protocol cased)

right() { # SET [eval options...] -> "n right" of one crop's eval (n 0: skipped by the protocol)
  local set=$1
  shift
  "$ICSTR" eval --model "$model" --threads 1 --data "$set" --json "${protocol[@]}" "$@" 2>/dev/null | tail -n 1 |
    sed -E 's/.*"n": ([0-9]+).*"accuracy": ([0-9.]+).*/\1 \2/' | awk '{print $1, ($2 > 0.5)}'
}

readings=(none default on2 on4 knn)
declare -A n_of right_of
for r in "${readings[@]}"; do n_of[$r]=0; right_of[$r]=0; done
"$ICSTR" pool create "$out/all" --model "$model" > /dev/null
for ((e = 0; e < episodes; e++)); do
  q="$out/ep/q$e.txt" p="$out/ep/P$e"
  [ -f "$q" ] || continue
  "$ICSTR" pool create "$p" --model "$model" > /dev/null
  "$ICSTR" pool add "$p" --data "$out/ep/p$e.txt" > /dev/null 2>&1 || true
  [ "$cipher" = 1 ] || "$ICSTR" pool add "$out/all" --data "$out/ep/p$e.txt" --tag "ep$e" > /dev/null 2>&1 || true
  for r in "${readings[@]}"; do
    case $r in
      none) res=$(right "$q") ;;
      default) res=$(right "$q" --pool "$p") ;;
      on2) res=$(right "$q" --pool "$p" --no-compare-plain) ;;
      on4) res=$(right "$q" --pool "$p" --no-compare-plain --shots 4) ;;
      knn) res=$(right "$q" --pool "$p" --knn) ;;
    esac
    read -r n ok <<< "$res"
    n_of[$r]=$((n_of[$r] + n))
    [ "$n" -gt 0 ] && right_of[$r]=$((right_of[$r] + ok))
  done
  [ $((e % 25)) -eq 24 ] && echo "incontext_synth.sh: $((e + 1)) of $episodes episodes" >&2
done
csv="$out/incontext_synth.csv"
echo "reading,n,right,accuracy" > "$csv"
for r in "${readings[@]}"; do
  awk -v r="$r" -v n="${n_of[$r]}" -v k="${right_of[$r]}" 'BEGIN {printf "%s,%d,%d,%.4f\n", r, n, k, n ? k / n : 0}' |
    tee -a "$csv"
done
if [ "$cipher" = 1 ]; then
  echo "incontext_synth.sh: wrote $csv" >&2
  exit 0
fi
# retrieval: the tag of each query's most similar record in the pool of all episodes
"$ICSTR" pool ls "$out/all" | awk -F'\t' '{print $1 "\t" $3}' > "$out/all-tags.txt"
same=0 total=0
for ((e = 0; e < episodes; e++)); do
  [ -f "$out/ep/q$e.txt" ] || continue
  id=$("$ICSTR" recognize --model "$model" --pool "$out/all" --shots 1 --json "$(cut -f1 "$out/ep/q$e.txt")" 2>/dev/null |
    sed -E 's/.*"prompts": \[\{"id": ([0-9]+).*/\1/')
  tag=$(awk -F'\t' -v id="$id" '$1 == id {print $2}' "$out/all-tags.txt")
  total=$((total + 1))
  [ "$tag" = "ep$e" ] && same=$((same + 1))
done
awk -v s="$same" -v t="$total" 'BEGIN {printf "retrieval_same_episode,%d,%d,%.4f\n", t, s, t ? s / t : 0}' | tee -a "$csv"
echo "incontext_synth.sh: wrote $csv" >&2

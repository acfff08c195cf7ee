# Sourced by the in-context bench scripts. Needs ICSTR, model, the array limit (may be empty) and
# reading (a string of more `icstr eval` options for the pooled reading, e.g. "--min-similarity
# 0.998 --no-compare-plain"; may be empty); split_domain needs data and out. The evals' stderr
# goes to $score_log when it is set (else nowhere).
# score SET [POOL SHOTS] -> prints "n accuracy one_minus_ned" of `icstr eval` (standard protocol),
# in context with POOL (and the reading options) when given.
score() {
  local extra=()
  # shellcheck disable=SC2206 # reading is split into options on purpose
  [ -n "${2:-}" ] && extra=(--pool "$2" --shots "$3" ${reading:-})
  "$ICSTR" eval --model "$model" --data "$1" --json "${limit[@]}" "${extra[@]}" 2>>"${score_log:-/dev/null}" | tail -n 1 |
    sed -E 's/.*"n": ([0-9]+).*"accuracy": ([0-9.]+), "one_minus_ned": ([0-9.]+).*/\1 \2 \3/'
}

# make_view POOL: with view=auto (the scripts' default, --view auto) the pool chooses the part of
# each crop the model reads from its own records (`icstr pool view POOL --auto`, its table into
# POOL.view.tsv); with view=full the pool keeps the whole crop. Prints the view it has, its
# fractions apart by spaces (a CSV field): "0.15 1 0 1" or "full".
make_view() {
  if [ "${view:-auto}" = auto ]; then
    "$ICSTR" pool view "$1" --auto --model "$model" > "$1.view.tsv" 2>>"${score_log:-/dev/null}"
  fi
  "$ICSTR" pool view "$1" | sed -n 's/^view //p' | sed 's/,/ /g'
}

# split_domain DOMAIN: the pool candidates and the test of a domain (bench/incontext.sh says how).
# List files of absolute image paths, so the lists can live anywhere.
split_domain() { # domain -> $out/<domain>-pool.txt (candidates, in pool order), $out/<domain>-test.txt
  local d=$1 gt="$data/$1/gt.txt"
  case "$d" in
    us_plates)
      awk -F'\t' -v dir="$data/$d" '{print dir "/" $1 "\t" $2}' "$gt" |
        shuf --random-source=<(yes 20261121) > "$out/$d-all.txt"
      head -n 100 "$out/$d-all.txt" > "$out/$d-pool.txt"
      tail -n +101 "$out/$d-all.txt" > "$out/$d-test.txt" ;;
    receipt_lines)
      awk -F'\t' -v dir="$data/$d" '{print dir "/" $1 "\t" $2}' "$gt" > "$out/$d-all.txt"
      # pool candidates: lines the model can hold as prompts (labels of at most 25 characters)
      grep -E '/00[0-9]_[0-9]+\.png' "$out/$d-all.txt" | awk -F'\t' 'length($2) <= 25' |
        shuf --random-source=<(yes 20261121) > "$out/$d-pool.txt"
      grep -E '/0(1[0-9]|2[0-9]|3[0-9])_[0-9]+\.png' "$out/$d-all.txt" > "$out/$d-test.txt" ;;
  esac
}

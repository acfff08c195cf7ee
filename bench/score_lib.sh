# Sourced by the in-context bench scripts. Needs ICSTR, model, the array limit (may be empty) and
# reading (a string of more `icstr eval` options for the pooled reading, e.g. "--min-similarity
# 0.998 --no-compare-plain"; may be empty).
# score SET [POOL SHOTS] -> prints "n accuracy one_minus_ned" of `icstr eval` (standard protocol),
# in context with POOL (and the reading options) when given.
score() {
  local extra=()
  # shellcheck disable=SC2206 # reading is split into options on purpose
  [ -n "${2:-}" ] && extra=(--pool "$2" --shots "$3" ${reading:-})
  "$ICSTR" eval --model "$model" --data "$1" --json "${limit[@]}" "${extra[@]}" 2>/dev/null | tail -n 1 |
    sed -E 's/.*"n": ([0-9]+).*"accuracy": ([0-9.]+), "one_minus_ned": ([0-9.]+).*/\1 \2 \3/'
}

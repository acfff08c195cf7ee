# Sourced by the in-context bench scripts. Needs ICSTR, model and the array limit (may be empty).
# score SET [POOL SHOTS] -> prints "n accuracy one_minus_ned" of `icstr eval` (standard protocol),
# in context with POOL when given.
score() {
  local extra=()
  [ -n "${2:-}" ] && extra=(--pool "$2" --shots "$3")
  "$ICSTR" eval --model "$model" --data "$1" --json "${limit[@]}" "${extra[@]}" 2>/dev/null | tail -n 1 |
    sed -E 's/.*"n": ([0-9]+).*"accuracy": ([0-9.]+), "one_minus_ned": ([0-9.]+).*/\1 \2 \3/'
}

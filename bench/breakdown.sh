#!/usr/bin/env bash
# Where the errors are: word accuracy (standard protocol: lower case, letters and digits only,
# labels empty or longer than 25 skipped) of prediction files broken down by the crop's width in
# heights (PNG crops: the size is read from the file's header; other formats count as "?") and by
# the cleaned label's length. Reads what `icstr eval --predictions F` and `icstr bench peers`
# (DIR/predictions-NAME-SET.tsv) write: IMAGE<TAB>LABEL<TAB>PREDICTION<TAB>... per crop, the
# image path as the eval read it.
# Output (stdout): file,by,bucket,n,accuracy
#
# usage: bench/breakdown.sh PREDICTIONS.tsv...
set -euo pipefail
[ $# -gt 0 ] || { echo "breakdown.sh: give prediction files (--help)" >&2; exit 2; }
case "$1" in -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
echo "file,by,bucket,n,accuracy"
for f in "$@"; do
  [ -r "$f" ] || { echo "breakdown.sh: cannot read $f" >&2; exit 1; }
  # the width and height of every PNG crop (bytes 16-23 of the file, big-endian)
  cut -f1 "$f" | while IFS= read -r img; do
    if [ -r "$img" ] && [ "$(head -c 8 "$img" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]; then
      od -An -tu1 -j16 -N8 "$img" | awk '{ printf "%d\t%d\n", (($1 * 256 + $2) * 256 + $3) * 256 + $4, (($5 * 256 + $6) * 256 + $7) * 256 + $8 }'
    else
      printf '0\t0\n'
    fi
  done | paste - "$f" | awk -F'\t' -v file="$(basename "$f")" '
    function clean(s) { s = tolower(s); gsub(/[^a-z0-9]/, "", s); return s }
    {
      lab = clean($4); pred = clean($5)
      if (lab == "" || length(lab) > 25) next
      a = $2 > 0 ? $1 / $2 : -1
      wb = a < 0 ? "?" : a < 3 ? "a<3" : a < 4.5 ? "3<=a<4.5" : a < 8 ? "4.5<=a<8" : "a>=8"
      n = length(lab)
      lb = n <= 4 ? "1-4" : n <= 8 ? "5-8" : n <= 12 ? "9-12" : n <= 16 ? "13-16" : "17-25"
      tot["width," wb]++; ok["width," wb] += pred == lab
      tot["length," lb]++; ok["length," lb] += pred == lab
      tot["all,all"]++; ok["all,all"] += pred == lab
    }
    END {
      split("all,all width,a<3 width,3<=a<4.5 width,4.5<=a<8 width,a>=8 width,? length,1-4 length,5-8 length,9-12 length,13-16 length,17-25", keys, " ")
      for (i = 1; i <= length(keys); i++)
        if (tot[keys[i]]) printf "%s,%s,%d,%.4f\n", file, keys[i], tot[keys[i]], ok[keys[i]] / tot[keys[i]]
    }'
done

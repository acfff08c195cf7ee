#!/usr/bin/env bash
# Runs the test suite under Valgrind memcheck, every process the tests start included (the CLI
# tests run the icstr program), and fails on any memory error or definite/indirect leak.
# Slow (Valgrind runs code about 50 times slower), so it is not part of scripts/test.sh.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: bash scripts/valgrind.sh [--build-dir DIR] [-R REGEX]

Builds the tests in DIR (default build-valgrind: RelWithDebInfo, -DICSTR_NATIVE=OFF, since
Valgrind cannot decode AVX-512) and runs each ctest test, one at a time, under
  valgrind --tool=memcheck --leak-check=full --errors-for-leak-kinds=definite,indirect
           --trace-children=yes --suppressions=scripts/valgrind.supp
with the working directory and environment ctest gives it. One log per process goes to
DIR/valgrind/TEST/PID.log. Exit code 0 when every test passed and no process reported an error
or a definite/indirect leak, 1 otherwise, 2 on misuse.

  --build-dir DIR   build directory, relative to the repository root (created if missing)
  -R REGEX          only the tests whose names match REGEX (as ctest -R)
  -h, --help        this text

CMAKE_BUILD_PARALLEL_LEVEL sets the build's job count (default: all cores).
EOF
}

cd "$(dirname "$0")/.."
root=$(pwd)
build="build-valgrind"
regex=
while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --build-dir) [ $# -ge 2 ] || { usage >&2; exit 2; }; build=$2; shift 2 ;;
        -R) [ $# -ge 2 ] || { usage >&2; exit 2; }; regex=$2; shift 2 ;;
        *) echo "valgrind.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
done
command -v valgrind >/dev/null || { echo "valgrind.sh: valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }
case "$build" in /*) ;; *) build="$root/$build" ;; esac

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DICSTR_NATIVE=OFF -DICSTR_SANITIZE=OFF >/dev/null
cmake --build "$build" -j"${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}" 2>&1 | grep -Ev '^\[ *[0-9]+%\]' || true

vg=(valgrind --tool=memcheck --error-exitcode=99 --leak-check=full
    "--errors-for-leak-kinds=definite,indirect" --track-origins=no --trace-children=yes
    --num-callers=40 --suppressions="$root/scripts/valgrind.supp")

# The tests as ctest knows them: command, working directory and environment (ctest -N -V).
names=()
declare -A tcmd twd tenv
cur_cmd="" cur_wd="" cur_env="" in_env=0
while IFS= read -r line; do
    if [[ $line =~ ^[0-9]+:\ Test\ command:\ (.*)$ ]]; then
        cur_cmd=${BASH_REMATCH[1]}; in_env=0
    elif [[ $line =~ ^[0-9]+:\ Working\ Directory:\ (.*)$ ]]; then
        cur_wd=${BASH_REMATCH[1]}; in_env=0
    elif [[ $line =~ ^[0-9]+:\ Environment\ variables: ]]; then
        in_env=1
    elif [[ $in_env == 1 && $line =~ ^[0-9]+:\ \ (.+)$ ]]; then
        cur_env+="${BASH_REMATCH[1]}"$'\n'
    elif [[ $line =~ ^\ *Test\ +#[0-9]+:\ (.+)$ ]]; then
        n=${BASH_REMATCH[1]}
        names+=("$n"); tcmd[$n]=$cur_cmd; twd[$n]=${cur_wd:-$build}; tenv[$n]=$cur_env
        cur_cmd="" cur_wd="" cur_env="" in_env=0
    fi
done < <(ctest --test-dir "$build" -N -V ${regex:+-R "$regex"})
[ ${#names[@]} -gt 0 ] || { echo "valgrind.sh: no tests match" >&2; exit 1; }

# Memcheck's error kinds, to catch errors in a process killed before its summary (test_pool_crash
# kills its writers on purpose).
error_re='Invalid (read|write|free)|uninitialised|Mismatched free|overlap|fishy value|Syscall param|Jump to the invalid|Illegal memory pool|unrecognised instruction'

logroot="$build/valgrind"
rm -rf "$logroot"
failed=()
total_err=0 total_def=0 total_ind=0 total_procs=0 suite_start=$(date +%s)
printf '%-24s %-6s %7s %6s %7s %16s %16s\n' test result seconds procs errors "definitely lost" "indirectly lost"
for n in "${names[@]}"; do
    logs="$logroot/$n"
    mkdir -p "$logs"
    mapfile -t envs < <(printf '%s' "${tenv[$n]}")
    read -r -a cmd <<<"${tcmd[$n]}"
    start=$(date +%s)
    rc=0
    (cd "${twd[$n]}" && env ${envs[@]+"${envs[@]}"} "${vg[@]}" --log-file="$logs/%p.log" "${cmd[@]}") \
        >"$logs/output.txt" 2>&1 || rc=$?
    secs=$(( $(date +%s) - start ))
    err=0 def=0 ind=0 procs=0 bad=0 unsummarised=0
    for f in "$logs"/[0-9]*.log; do
        [ -e "$f" ] || continue
        procs=$((procs + 1))
        if grep -q 'ERROR SUMMARY:' "$f"; then
            e=$(sed -n 's/.*ERROR SUMMARY: \([0-9,]*\) errors.*/\1/p' "$f" | tr -d , | tail -1)
            d=$(sed -n 's/.*definitely lost: \([0-9,]*\) bytes.*/\1/p' "$f" | tr -d , | tail -1)
            i=$(sed -n 's/.*indirectly lost: \([0-9,]*\) bytes.*/\1/p' "$f" | tr -d , | tail -1)
            err=$((err + ${e:-0})); def=$((def + ${d:-0})); ind=$((ind + ${i:-0}))
            [ "${e:-0}" -eq 0 ] || bad=1
        else
            unsummarised=$((unsummarised + 1))
            if grep -Eq "$error_re" "$f"; then bad=1; err=$((err + 1)); fi
        fi
    done
    result=ok
    if [ "$rc" -ne 0 ] || [ "$bad" -ne 0 ]; then result=FAIL; failed+=("$n"); fi
    note=
    [ "$rc" -eq 0 ] || note+=" exit $rc"
    [ "$unsummarised" -eq 0 ] || note+=" ($unsummarised killed before their summary)"
    printf '%-24s %-6s %7d %6d %7d %16d %16d%s\n' "$n" "$result" "$secs" "$procs" "$err" "$def" "$ind" "$note"
    total_err=$((total_err + err)); total_def=$((total_def + def)); total_ind=$((total_ind + ind))
    total_procs=$((total_procs + procs))
    if [ "$result" = FAIL ]; then
        echo "---- $n: test output (last 20 lines; all in $logs/output.txt)"
        tail -n 20 "$logs/output.txt"
        for f in "$logs"/[0-9]*.log; do
            [ -e "$f" ] || continue
            if grep -Eq 'ERROR SUMMARY: [1-9]' "$f" || { ! grep -q 'ERROR SUMMARY:' "$f" && grep -Eq "$error_re" "$f"; }; then
                echo "---- $n: $f"
                cat "$f"
            fi
        done
    fi
done
printf '%-24s %-6s %7d %6d %7d %16d %16d\n' total "$([ ${#failed[@]} -eq 0 ] && echo ok || echo FAIL)" \
    $(( $(date +%s) - suite_start )) "$total_procs" "$total_err" "$total_def" "$total_ind"
echo "logs: $logroot/TEST/PID.log"
if [ ${#failed[@]} -gt 0 ]; then
    echo "valgrind.sh: failed under memcheck: ${failed[*]}" >&2
    exit 1
fi

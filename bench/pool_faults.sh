#!/usr/bin/env bash
# The prompt pool under faults (issue #7, item 4), end to end through the CLI with real processes:
#   kills        a large `icstr pool add` SIGKILLed at random moments, K times, resumed each time;
#                after every kill the pool must open, `pool check` must find every record intact,
#                and the records (id, image hash, content digest, label) must include all those
#                seen after the previous kill. At the end the resumed add completes: every crop
#                of the set is there exactly once.
#   disk         the pool on a small tmpfs that a filler file nearly fills: the add must fail with
#                a clear message and a non-zero exit, the pool must still check intact; after the
#                filler is removed the add resumes and completes.
#   concurrency  two writers adding disjoint sets at once, with readers looping `pool ls`,
#                `pool stats`, `pool check` and `recognize --pool` meanwhile: no reader fails, and
#                at the end each writer's labels are all there, once.
#   corruption   copies of a good pool with data.mdb truncated (to 0, 1 and 2 pages, half, half on
#                a page boundary, one page or one byte short) and with random bytes flipped (half
#                anywhere in the file, half in LMDB's meta, branch and leaf pages): `pool ls`,
#                `pool stats`, `pool check` and `recognize --pool` must refuse with a message and
#                exit 1, or succeed with the good pool's output; never die by a signal, never hang.
#                A success whose output differs from the good pool's is a silent corruption.
# Every add is of whole crops (--split-aspect 0): the rendered sets hold long lines whose pieces a
# default add would store as records of their own, and the record counts here are crops.
# Prints a table, and writes results.csv (campaign,metric,value), summary.txt and logs/ to the
# output folder. Needs only the icstr binary ($ICSTR), the shipped model, bash, coreutils and perl
# (perl only to find LMDB's structural pages; without it every flip is at a random offset).
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
ICSTR=${ICSTR:-build/icstr}
MODEL=${ICSTR_MODEL:-$ROOT/models/icstr.safetensors}
OUT=/tmp/icstr-pool-faults
ONLY="kills disk concurrency corruption"
KILLS=30
CROPS=2000
CHUNK=32
KILL_MIN_MS=150
KILL_MAX_MS=1500
WRITER_CROPS=400
READERS=4
DISK_MB=12
FILLER_MB=8
DISK_CROPS=300
FLIPS=200
CORRUPT_CROPS=200
SEED=1
TIMEOUT=60

usage() {
    cat <<EOF
usage: bench/pool_faults.sh [options]

Attacks an icstr prompt pool with kills, a full disk, concurrent writers and readers, and
truncated or corrupted files, through the CLI, and reports what survived.

  --out DIR            results folder (default $OUT)
  --only LIST          campaigns to run, comma- or space-separated (default: kills,disk,concurrency,corruption)
  --kills K            SIGKILLs of the large add (default $KILLS)
  --crops N            crops in the large add (default $CROPS)
  --chunk N            crops per add transaction (default $CHUNK)
  --kill-ms MIN:MAX    kill moments, ms after each add starts (default $KILL_MIN_MS:$KILL_MAX_MS)
  --writer-crops N     crops per writer in the concurrency campaign (default $WRITER_CROPS)
  --readers N          concurrent readers (default $READERS: ls, stats, check, recognize, ...)
  --disk-mb N          tmpfs size in MiB (default $DISK_MB), with a filler of --filler-mb (default $FILLER_MB)
  --disk-crops N       crops added onto the small disk (default $DISK_CROPS)
  --flips N            byte-flip trials in the corruption campaign (default $FLIPS)
  --corrupt-crops N    records in the pool that is corrupted (default $CORRUPT_CROPS)
  --seed S             seed for the crops and the random choices (default $SEED)
  --timeout S          seconds after which a command counts as hung (default $TIMEOUT)
  -h, --help           this text

Environment: ICSTR (the icstr binary, default build/icstr), ICSTR_MODEL (default the shipped
models/icstr.safetensors). The disk campaign mounts a tmpfs (root) and is skipped with a
note where mount is not permitted. The default run takes about 5-10 minutes on a busy 2-core
machine; run it under nice there. Exit 0 when every check held, 1 otherwise, 2 on misuse.
EOF
}

die_usage() {
    echo "pool_faults.sh: $1 (bench/pool_faults.sh --help)" >&2
    exit 2
}

num() { [[ $2 =~ ^[0-9]+$ ]] || die_usage "$1 wants a whole number, not '$2'"; }

while [ $# -gt 0 ]; do
    case $1 in
    -h | --help) usage; exit 0 ;;
    --out) OUT=${2:-}; shift ;;
    --only) ONLY=${2//,/ }; shift ;;
    --kills) num "$1" "${2:-}"; KILLS=$2; shift ;;
    --crops) num "$1" "${2:-}"; CROPS=$2; shift ;;
    --chunk) num "$1" "${2:-}"; CHUNK=$2; shift ;;
    --kill-ms)
        [[ ${2:-} =~ ^([0-9]+):([0-9]+)$ ]] || die_usage "--kill-ms wants MIN:MAX in ms"
        KILL_MIN_MS=${BASH_REMATCH[1]}; KILL_MAX_MS=${BASH_REMATCH[2]}
        [ "$KILL_MAX_MS" -ge "$KILL_MIN_MS" ] || die_usage "--kill-ms: MAX below MIN"
        shift ;;
    --writer-crops) num "$1" "${2:-}"; WRITER_CROPS=$2; shift ;;
    --readers) num "$1" "${2:-}"; READERS=$2; shift ;;
    --disk-mb) num "$1" "${2:-}"; DISK_MB=$2; shift ;;
    --filler-mb) num "$1" "${2:-}"; FILLER_MB=$2; shift ;;
    --disk-crops) num "$1" "${2:-}"; DISK_CROPS=$2; shift ;;
    --flips) num "$1" "${2:-}"; FLIPS=$2; shift ;;
    --corrupt-crops) num "$1" "${2:-}"; CORRUPT_CROPS=$2; shift ;;
    --seed) num "$1" "${2:-}"; SEED=$2; shift ;;
    --timeout) num "$1" "${2:-}"; TIMEOUT=$2; shift ;;
    *) die_usage "unknown option $1" ;;
    esac
    shift
done
for c in $ONLY; do
    case $c in kills | disk | concurrency | corruption) ;; *) die_usage "unknown campaign '$c'" ;; esac
done
[ "$CROPS" -ge 1 ] && [ "$CHUNK" -ge 1 ] && [ "$WRITER_CROPS" -ge 1 ] && [ "$CORRUPT_CROPS" -ge 8 ] ||
    die_usage "--crops, --chunk, --writer-crops must be at least 1, --corrupt-crops at least 8"
[[ $ICSTR == /* ]] || ICSTR=$PWD/$ICSTR
[ -x "$ICSTR" ] || { echo "pool_faults.sh: no icstr binary at $ICSTR (set ICSTR=path/to/icstr)" >&2; exit 2; }
[ -f "$MODEL" ] || { echo "pool_faults.sh: no model at $MODEL (set ICSTR_MODEL)" >&2; exit 2; }

# one thread everywhere: the campaigns are about processes, not speed
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive ICSTR_MODEL=$MODEL
# a sanitizer build: its reports must not pass for a refusal (exit 1)
export ASAN_OPTIONS=${ASAN_OPTIONS:-exitcode=86} UBSAN_OPTIONS=${UBSAN_OPTIONS:-exitcode=86:print_stacktrace=1}
RANDOM=$SEED

mkdir -p "$OUT/logs" || exit 1
OUT=$(cd "$OUT" && pwd)
WORK=$OUT/work
rm -rf "$WORK"
mkdir -p "$WORK"
LOG=$OUT/logs
CSV=$OUT/results.csv
echo "campaign,metric,value" >"$CSV"
: >"$OUT/summary.txt"
FAILED=0
MNT=""

# on exit: this shell's own unreaped background jobs only (never a pid that may have been reused)
cleanup() {
    local p
    for p in $(jobs -p); do kill -9 "$p" 2>/dev/null; done
    if [ -n "$MNT" ] && mountpoint -q "$MNT" 2>/dev/null; then umount "$MNT" 2>/dev/null || umount -l "$MNT"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

note() { echo "[$(date +%H:%M:%S)] $*" >&2; }
put() { echo "$1,$2,$3" >>"$CSV"; }
line() { printf '%s\n' "$*" | tee -a "$OUT/summary.txt"; }
fail() {
    FAILED=1
    note "FAILED: $*"
    echo "FAILED: $*" >>"$OUT/summary.txt"
}
rand_ms() { echo $(($1 + (RANDOM * 32768 + RANDOM) % ($2 - $1 + 1))); }
sleep_ms() { sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"; }
now_ms() { date +%s%3N; }
sanitizer_said() { grep -qE 'Sanitizer|runtime error:' "$1" 2>/dev/null; }

# render N crops with seed S into DIR (an STR LMDB) and unpack them beside it (DIR.un/gt.txt)
render() {
    "$ICSTR" data synth --n "$1" --out "$3" --seed "$2" --max-len 12 --threads 1 >"$LOG/synth-$(basename "$3").log" 2>&1 &&
        "$ICSTR" data unpack "$3" "$3.un" >>"$LOG/synth-$(basename "$3").log" 2>&1 ||
        { echo "pool_faults.sh: rendering $1 crops failed (see $LOG)" >&2; exit 1; }
}
labels_of_set() { cut -f2- "$1.un/gt.txt" | LC_ALL=C sort; }
create_pool() { "$ICSTR" pool create "$1" --model "$MODEL" >>"$LOG/create.log" 2>&1 || { fail "pool create $1"; return 1; }; }
# the intact records of pool $1 into $2 (ID, IMAGE_HASH, DIGEST, LABEL), sorted; the check's exit status
list_pool() {
    timeout "$TIMEOUT" "$ICSTR" pool check "$1" --list >"$2.tmp" 2>"$2.err"
    local rc=$?
    LC_ALL=C sort "$2.tmp" >"$2"
    rm -f "$2.tmp"
    return $rc
}

# ---------------------------------------------------------------------------------------------
campaign_kills() {
    note "kills: rendering $CROPS crops"
    local set=$WORK/kills.lmdb pool=$WORK/kills.pool
    render "$CROPS" "$SEED" "$set"
    create_pool "$pool" || return
    : >"$WORK/kills.prev"
    local k=0 lost_total=0 open_fail=0 check_fail=0 progressed=0 early=0 records=0 t0
    local -a moments=()
    t0=$(now_ms)
    while [ $k -lt "$KILLS" ]; do
        "$ICSTR" pool add "$pool" --data "$set" --split-aspect 0 --chunk "$CHUNK" --threads 1 --tag kills >>"$LOG/kills-add.log" 2>&1 &
        local pid=$! ms
        ms=$(rand_ms "$KILL_MIN_MS" "$KILL_MAX_MS")
        sleep_ms "$ms"
        if kill -0 "$pid" 2>/dev/null; then
            kill -9 "$pid" 2>/dev/null
            wait "$pid" 2>/dev/null
            k=$((k + 1))
        else
            wait "$pid"
            local rc=$?
            note "kills: the add finished (exit $rc) before kill $((k + 1)); $k kills done"
            early=1
            [ $rc -eq 0 ] || fail "kills: an unkilled add exited $rc (see $LOG/kills-add.log)"
            break
        fi
        # after every kill: it opens, everything checks, nothing committed before is gone
        if ! timeout "$TIMEOUT" "$ICSTR" pool stats "$pool" >"$WORK/kills.stats" 2>"$WORK/kills.stats.err"; then
            open_fail=$((open_fail + 1))
            fail "kills: after kill $k the pool does not open: $(head -c 300 "$WORK/kills.stats.err")"
        fi
        if ! list_pool "$pool" "$WORK/kills.cur"; then
            check_fail=$((check_fail + 1))
            fail "kills: after kill $k pool check failed: $(tail -c 400 "$WORK/kills.cur.err")"
        fi
        local lost new
        lost=$(LC_ALL=C comm -23 "$WORK/kills.prev" "$WORK/kills.cur" | wc -l)
        new=$(($(wc -l <"$WORK/kills.cur") - $(wc -l <"$WORK/kills.prev") + lost))
        records=$(wc -l <"$WORK/kills.cur")
        [ "$new" -gt 0 ] && progressed=$((progressed + 1))
        if [ "$lost" -gt 0 ]; then
            lost_total=$((lost_total + lost))
            fail "kills: kill $k lost $lost committed records"
            LC_ALL=C comm -23 "$WORK/kills.prev" "$WORK/kills.cur" | head -5 >&2
        fi
        echo "kill $k at ${ms} ms: $records records (+$new), lost $lost" >>"$LOG/kills.log"
        moments+=("$ms")
        cp "$WORK/kills.cur" "$WORK/kills.prev"
    done
    # resume to the end, unkilled
    note "kills: $k kills done, resuming the add to the end"
    "$ICSTR" pool add "$pool" --data "$set" --split-aspect 0 --chunk "$CHUNK" --threads 1 --tag kills >>"$LOG/kills-add.log" 2>&1
    local final_rc=$?
    [ $final_rc -eq 0 ] || fail "kills: the final add exited $final_rc"
    list_pool "$pool" "$WORK/kills.final" || fail "kills: the final pool check failed"
    local lost_end expected missing extra
    lost_end=$(LC_ALL=C comm -23 "$WORK/kills.prev" "$WORK/kills.final" | wc -l)
    lost_total=$((lost_total + lost_end))
    [ "$lost_end" -eq 0 ] || fail "kills: the final add lost $lost_end records"
    labels_of_set "$set" >"$WORK/kills.expected"
    cut -f4- "$WORK/kills.final" | LC_ALL=C sort >"$WORK/kills.got"
    expected=$(wc -l <"$WORK/kills.expected")
    missing=$(LC_ALL=C comm -23 "$WORK/kills.expected" "$WORK/kills.got" | wc -l)
    extra=$(LC_ALL=C comm -13 "$WORK/kills.expected" "$WORK/kills.got" | wc -l)
    records=$(wc -l <"$WORK/kills.final")
    [ "$missing" -eq 0 ] && [ "$extra" -eq 0 ] ||
        fail "kills: after the resumed add, $missing crops of the set are missing and $extra records extra (doubled)"
    local secs=$((($(now_ms) - t0) / 1000))
    local survived=$((k - open_fail - check_fail))
    put kills crops "$CROPS"; put kills chunk "$CHUNK"; put kills kills "$k"; put kills kills_survived "$survived"
    put kills kills_after_new_commits "$progressed"; put kills open_failures "$open_fail"
    put kills check_failures "$check_fail"; put kills records_lost "$lost_total"; put kills records_final "$records"
    put kills crops_missing_final "$missing"; put kills records_doubled_final "$extra"; put kills seconds "$secs"
    line "kills        $k SIGKILLs of \`pool add\` ($CROPS crops, chunks of $CHUNK, kill at ${KILL_MIN_MS}-${KILL_MAX_MS} ms): survived $survived," \
        "$progressed of them after new commits; records lost $lost_total; final $records records," \
        "missing $missing, doubled $extra ($secs s)"
}

# ---------------------------------------------------------------------------------------------
campaign_disk() {
    MNT=$WORK/disk
    mkdir -p "$MNT"
    if ! mount -t tmpfs -o size="${DISK_MB}m" tmpfs "$MNT" 2>"$LOG/disk-mount.log"; then
        note "disk: cannot mount a tmpfs here ($(head -c 200 "$LOG/disk-mount.log")): campaign skipped"
        put disk skipped 1
        line "disk         SKIPPED: mount -t tmpfs is not permitted here ($(head -c 120 "$LOG/disk-mount.log" | tr '\n' ' '))"
        MNT=""
        return
    fi
    note "disk: ${DISK_MB} MiB tmpfs, ${FILLER_MB} MiB filler, adding $DISK_CROPS crops"
    local set=$WORK/disk.lmdb pool=$MNT/pool
    render "$DISK_CROPS" "$((SEED + 10))" "$set"
    create_pool "$pool" || { umount "$MNT"; MNT=""; return; }
    dd if=/dev/zero of="$MNT/filler" bs=1M count="$FILLER_MB" status=none 2>>"$LOG/disk.log"
    "$ICSTR" pool add "$pool" --data "$set" --split-aspect 0 --chunk 16 --threads 1 --tag disk >"$LOG/disk-add1.out" 2>"$LOG/disk-add1.err"
    local rc1=$? msg
    msg=$(tr '\r' '\n' <"$LOG/disk-add1.err" | grep '^icstr pool add:' | tail -2 | tr '\n' ' ')
    local full_ok=1
    if [ $rc1 -eq 0 ]; then
        full_ok=0
        fail "disk: the add on a full disk exited 0 (grow --disk-crops or shrink --disk-mb)"
    elif [ $rc1 -gt 128 ] || sanitizer_said "$LOG/disk-add1.err"; then
        full_ok=0
        fail "disk: the add on a full disk died (exit $rc1)"
    elif ! grep -qi 'disk is full\|no space' <<<"$msg"; then
        full_ok=0
        fail "disk: the add failed (exit $rc1) without saying that the disk is full: $msg"
    fi
    local opens=1
    timeout "$TIMEOUT" "$ICSTR" pool stats "$pool" >/dev/null 2>"$LOG/disk-stats.err" || { opens=0; fail "disk: the full pool does not open: $(cat "$LOG/disk-stats.err")"; }
    list_pool "$pool" "$WORK/disk.full" || fail "disk: pool check on the full disk failed: $(tail -c 300 "$WORK/disk.full.err")"
    local committed
    committed=$(wc -l <"$WORK/disk.full")
    rm -f "$MNT/filler"
    "$ICSTR" pool add "$pool" --data "$set" --split-aspect 0 --chunk 16 --threads 1 --tag disk >"$LOG/disk-add2.out" 2>"$LOG/disk-add2.err"
    local rc2=$?
    [ $rc2 -eq 0 ] || fail "disk: after freeing space the add exited $rc2: $(tail -c 300 "$LOG/disk-add2.err")"
    list_pool "$pool" "$WORK/disk.final" || fail "disk: pool check after freeing space failed"
    local lost missing final
    lost=$(LC_ALL=C comm -23 "$WORK/disk.full" "$WORK/disk.final" | wc -l)
    labels_of_set "$set" >"$WORK/disk.expected"
    cut -f4- "$WORK/disk.final" | LC_ALL=C sort >"$WORK/disk.got"
    missing=$(LC_ALL=C comm -23 "$WORK/disk.expected" "$WORK/disk.got" | wc -l)
    final=$(wc -l <"$WORK/disk.final")
    [ "$lost" -eq 0 ] || fail "disk: $lost records committed before the disk filled are gone"
    [ "$missing" -eq 0 ] && [ "$final" -eq "$DISK_CROPS" ] || fail "disk: $final records after the resumed add, $missing crops missing"
    umount "$MNT" || umount -l "$MNT"
    MNT=""
    put disk tmpfs_mib "$DISK_MB"; put disk filler_mib "$FILLER_MB"; put disk crops "$DISK_CROPS"
    put disk full_add_exit "$rc1"; put disk full_add_clear_message "$full_ok"; put disk opens_when_full "$opens"
    put disk records_committed_when_full "$committed"; put disk records_lost "$lost"
    put disk resumed_add_exit "$rc2"; put disk records_final "$final"
    echo "$msg" >"$OUT/disk-full-message.txt"
    line "disk         add on a full ${DISK_MB} MiB tmpfs: exit $rc1, \"$msg\";" \
        "pool opens and checks with $committed records; after freeing space: exit $rc2, $final records, lost $lost"
}

# ---------------------------------------------------------------------------------------------
reader_loop() { # KIND STOPFILE LOGFILE POOL QUERIES...
    local kind=$1 stop=$2 log=$3 pool=$4
    shift 4
    local n=0 rc
    while [ ! -e "$stop" ]; do
        case $kind in
        ls) timeout "$TIMEOUT" "$ICSTR" pool ls "$pool" >/dev/null 2>"$log.err"; rc=$? ;;
        stats) timeout "$TIMEOUT" "$ICSTR" pool stats "$pool" >/dev/null 2>"$log.err"; rc=$? ;;
        check) timeout "$TIMEOUT" "$ICSTR" pool check "$pool" >/dev/null 2>"$log.err"; rc=$? ;;
        recognize) timeout "$TIMEOUT" "$ICSTR" recognize --pool "$pool" --threads 1 "$@" >/dev/null 2>"$log.err"; rc=$? ;;
        esac
        n=$((n + 1))
        if sanitizer_said "$log.err"; then rc=86; fi
        echo "$kind $rc" >>"$log"
        [ $rc -eq 0 ] || { echo "--- run $n exit $rc" >>"$log.failures"; cat "$log.err" >>"$log.failures"; }
    done
}

campaign_concurrency() {
    note "concurrency: rendering 2 x $WRITER_CROPS crops"
    local a=$WORK/writerA.lmdb b=$WORK/writerB.lmdb pool=$WORK/conc.pool stop=$WORK/conc.stop
    render "$WRITER_CROPS" "$((SEED + 20))" "$a"
    render "$WRITER_CROPS" "$((SEED + 21))" "$b"
    create_pool "$pool" || return
    rm -f "$stop" "$LOG"/reader-*
    local -a queries=()
    mapfile -t queries < <(ls "$a.un/images" | head -4 | sed "s|^|$a.un/images/|")
    local kinds=(ls stats check recognize) i
    local -a readers=()
    for ((i = 0; i < READERS; i++)); do
        reader_loop "${kinds[i % 4]}" "$stop" "$LOG/reader-$i.log" "$pool" "${queries[@]}" &
        readers+=($!)
    done
    local t0
    t0=$(now_ms)
    "$ICSTR" pool add "$pool" --data "$a" --split-aspect 0 --tag writerA --chunk "$CHUNK" --threads 1 >"$LOG/writerA.out" 2>"$LOG/writerA.err" &
    local wa=$!
    "$ICSTR" pool add "$pool" --data "$b" --split-aspect 0 --tag writerB --chunk "$CHUNK" --threads 1 >"$LOG/writerB.out" 2>"$LOG/writerB.err" &
    local wb=$!
    wait "$wa"
    local rca=$?
    wait "$wb"
    local rcb=$?
    local secs=$((($(now_ms) - t0) / 1000))
    touch "$stop"
    for p in "${readers[@]}"; do wait "$p"; done
    [ $rca -eq 0 ] && [ $rcb -eq 0 ] || fail "concurrency: writers exited $rca and $rcb"
    local runs=0 fails=0 per=""
    for ((i = 0; i < READERS; i++)); do
        local r f
        r=$(wc -l <"$LOG/reader-$i.log" 2>/dev/null || echo 0)
        f=$(grep -vc ' 0$' "$LOG/reader-$i.log" 2>/dev/null)
        runs=$((runs + r))
        fails=$((fails + f))
        per="$per ${kinds[i % 4]}:$r"
        [ "$f" -eq 0 ] || fail "concurrency: reader ${kinds[i % 4]} failed $f of $r runs (see $LOG/reader-$i.log.failures)"
    done
    list_pool "$pool" "$WORK/conc.final" || fail "concurrency: the final pool check failed"
    timeout "$TIMEOUT" "$ICSTR" pool ls "$pool" >"$WORK/conc.ls" 2>/dev/null || fail "concurrency: the final ls failed"
    local missing=0 extra=0 w
    for w in A B; do
        local set=$a
        [ $w = B ] && set=$b
        labels_of_set "$set" >"$WORK/conc.expected$w"
        awk -F'\t' -v t="writer$w" '$3 == t { print $2 }' "$WORK/conc.ls" | LC_ALL=C sort >"$WORK/conc.got$w"
        missing=$((missing + $(LC_ALL=C comm -23 "$WORK/conc.expected$w" "$WORK/conc.got$w" | wc -l)))
        extra=$((extra + $(LC_ALL=C comm -13 "$WORK/conc.expected$w" "$WORK/conc.got$w" | wc -l)))
    done
    local records
    records=$(wc -l <"$WORK/conc.final")
    [ "$records" -eq $((2 * WRITER_CROPS)) ] && [ "$missing" -eq 0 ] && [ "$extra" -eq 0 ] ||
        fail "concurrency: $records records for 2 x $WRITER_CROPS crops, $missing labels missing, $extra extra"
    put concurrency writers 2; put concurrency readers "$READERS"; put concurrency crops_per_writer "$WRITER_CROPS"
    put concurrency writer_exits "$rca $rcb"; put concurrency reader_runs "$runs"; put concurrency reader_failures "$fails"
    put concurrency records "$records"; put concurrency labels_missing "$missing"; put concurrency records_extra "$extra"
    put concurrency seconds "$secs"
    line "concurrency  2 writers x $WRITER_CROPS crops + $READERS readers ($runs runs:$per): reader failures $fails;" \
        "records $records of $((2 * WRITER_CROPS)), labels missing $missing, extra $extra ($secs s)"
}

# ---------------------------------------------------------------------------------------------
# flip one byte of $1 at offset $2 (xor with a random non-zero value)
flip_byte() {
    local b x
    b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
    x=$(((RANDOM % 255) + 1))
    printf "$(printf '\\%03o' $((b ^ x)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# runs the four readers on the trial copy; prints one verdict word per command
CMDS=(ls stats check recognize)
run_readers() { # POOL OUTPREFIX QUERIES...
    local pool=$1 pre=$2
    shift 2
    timeout "$TIMEOUT" "$ICSTR" pool ls "$pool" >"$pre.ls" 2>"$pre.ls.err"
    echo $? >"$pre.ls.rc"
    timeout "$TIMEOUT" "$ICSTR" pool stats "$pool" 2>"$pre.stats.err" | grep -v '^file_bytes\|^map_bytes\|^used_bytes' >"$pre.stats"
    echo "${PIPESTATUS[0]}" >"$pre.stats.rc"
    timeout "$TIMEOUT" "$ICSTR" pool check "$pool" --list >"$pre.check" 2>"$pre.check.err"
    echo $? >"$pre.check.rc"
    timeout "$TIMEOUT" "$ICSTR" recognize --pool "$pool" --threads 1 "$@" >"$pre.recognize" 2>"$pre.recognize.err"
    echo $? >"$pre.recognize.rc"
}

campaign_corruption() {
    note "corruption: a good pool of $CORRUPT_CROPS records"
    local set=$WORK/corrupt.lmdb good=$WORK/corrupt.good trial=$WORK/corrupt.trial
    render "$CORRUPT_CROPS" "$((SEED + 30))" "$set"
    create_pool "$good" || return
    # several commits, so the two meta pages and the free pages hold different states
    "$ICSTR" pool add "$good" --data "$set" --split-aspect 0 --chunk 50 --threads 1 --tag corrupt >"$LOG/corrupt-add.log" 2>&1 || { fail "corruption: building the good pool"; return; }
    rm -f "$good/lock.mdb"
    local -a queries=()
    mapfile -t queries < <(ls "$set.un/images" | head -6 | sed "s|^|$set.un/images/|")
    rm -rf "$trial"
    cp -r "$good" "$trial"
    run_readers "$trial" "$WORK/ref" "${queries[@]}"
    local c
    for c in "${CMDS[@]}"; do
        [ "$(cat "$WORK/ref.$c.rc")" = 0 ] || { fail "corruption: $c fails on the good pool: $(head -c 300 "$WORK/ref.$c.err")"; return; }
    done
    local size pages
    size=$(stat -c %s "$good/data.mdb")
    local psize=4096
    pages=$((size / psize))
    # LMDB's structural pages (meta, branch, leaf), read from the page headers
    local -a struct=()
    if command -v perl >/dev/null; then
        mapfile -t struct < <(perl -e 'open F, "<", $ARGV[0] or exit; binmode F; my ($p, $skip) = (0, 0);
            while (read(F, my $b, 4096) == 4096) {
                if ($skip > 0) { $skip--; $p++; next }
                my ($pg, $pad, $fl) = unpack("Q<vv", $b);
                if ($p < 2 || ($fl & 3)) { print "$p\n" } elsif ($fl & 4) { $skip = unpack("V", substr($b, 12, 4)) - 1 }
                $p++ }' "$good/data.mdb")
    fi
    # trials: NAME KIND ARG
    local -a trials=()
    local cut
    for cut in 0 $psize $((2 * psize)) $((size / 2)) $((size / 2 / psize * psize)) $((size - psize)) $((size - 1)) $((size * 3 / 4 / psize * psize)); do
        trials+=("truncate:$cut")
    done
    local t off pg
    for ((t = 0; t < FLIPS; t++)); do
        if [ $((t % 2)) = 1 ] && [ ${#struct[@]} -gt 0 ]; then
            pg=${struct[RANDOM % ${#struct[@]}]}
            if [ $((RANDOM % 2)) = 0 ]; then off=$((pg * psize + RANDOM % 64)); else off=$((pg * psize + RANDOM % psize)); fi
            trials+=("flip-struct:$off")
        else
            trials+=("flip-any:$(((RANDOM * 32768 + RANDOM) % size))")
        fi
    done
    local refused=0 fine=0 silent=0 crashed=0 hung=0 unclear=0 sanitizer=0 guarded=0 n=0
    local -A per_cmd=()
    echo "trial kind offset_or_size ls stats check recognize verdict" >"$LOG/corruption.log"
    : >"$OUT/corruption-messages.txt"
    for t in "${trials[@]}"; do
        local kind=${t%%:*} arg=${t#*:}
        rm -rf "$trial"
        mkdir -p "$trial"
        cp "$good/data.mdb" "$trial/data.mdb"
        if [ "$kind" = truncate ]; then truncate -s "$arg" "$trial/data.mdb"; else flip_byte "$trial/data.mdb" "$arg"; fi
        run_readers "$trial" "$WORK/t" "${queries[@]}"
        local words="" v any_refused=0 any_silent=0 any_crash=0 any_hang=0 any_unclear=0 any_san=0 any_guard=0
        for c in "${CMDS[@]}"; do
            local rc
            rc=$(cat "$WORK/t.$c.rc")
            if sanitizer_said "$WORK/t.$c.err"; then
                v=sanitizer; any_san=1; cp "$WORK/t.$c.err" "$LOG/corruption-sanitizer-$n-$c.txt"
            elif [ "$rc" = 124 ]; then
                v=hang; any_hang=1
            elif [ "$rc" -gt 128 ]; then
                v=signal$((rc - 128)); any_crash=1
            elif [ "$rc" = 0 ]; then
                if cmp -s "$WORK/t.$c" "$WORK/ref.$c"; then v=same; else v=SILENT; any_silent=1; fi
            elif [ "$rc" = 1 ] && grep -q 'icstr' "$WORK/t.$c.err"; then
                v=refused; any_refused=1
                # LMDB itself faulted and the fault guard (icstr_pool_guard_faults) said so
                grep -q 'is corrupt: reading its data.mdb faulted\|LMDB stopped on a failed internal check' "$WORK/t.$c.err" && any_guard=1
            else
                v=unclear$rc; any_unclear=1; cp "$WORK/t.$c.err" "$LOG/corruption-unclear-$n-$c.txt"
            fi
            per_cmd[$c.$v]=$((${per_cmd[$c.$v]:-0} + 1))
            words="$words $v"
        done
        local verdict=fine
        if [ $any_san = 1 ]; then verdict=sanitizer; sanitizer=$((sanitizer + 1))
        elif [ $any_crash = 1 ]; then verdict=crash; crashed=$((crashed + 1))
        elif [ $any_hang = 1 ]; then verdict=hang; hung=$((hung + 1))
        elif [ $any_silent = 1 ]; then verdict=SILENT; silent=$((silent + 1))
        elif [ $any_unclear = 1 ]; then verdict=unclear; unclear=$((unclear + 1))
        elif [ $any_refused = 1 ]; then verdict=refused; refused=$((refused + 1)); guarded=$((guarded + any_guard))
        else fine=$((fine + 1)); fi
        echo "$n $kind $arg$words $verdict" >>"$LOG/corruption.log"
        if [ "$verdict" != fine ] && [ "$verdict" != refused ]; then
            fail "corruption: trial $n ($kind $arg): $words"
            cp "$trial/data.mdb" "$LOG/corruption-$verdict-$n.data.mdb"
        fi
        # a sample of the refusals, to read what the user would see
        if [ $any_refused = 1 ] && [ "$(wc -l <"$OUT/corruption-messages.txt")" -lt 40 ]; then
            for c in "${CMDS[@]}"; do
                [ "$(cat "$WORK/t.$c.rc")" = 1 ] && { echo "[$kind $arg] $c: $(grep -m1 'icstr' "$WORK/t.$c.err")"; break; }
            done >>"$OUT/corruption-messages.txt"
        fi
        n=$((n + 1))
        [ $((n % 50)) = 0 ] && note "corruption: $n of ${#trials[@]} trials"
    done
    local ntrunc=8 nflip=$FLIPS
    put corruption records "$CORRUPT_CROPS"; put corruption file_pages "$pages"; put corruption structural_pages "${#struct[@]}"
    put corruption trials "$n"; put corruption truncations "$ntrunc"; put corruption flips "$nflip"
    put corruption refused "$refused"; put corruption opened_fine "$fine"; put corruption silent "$silent"
    put corruption crashed "$crashed"; put corruption hung "$hung"; put corruption unclear "$unclear"
    put corruption sanitizer_reports "$sanitizer"
    put corruption refused_after_an_lmdb_fault "$guarded"
    local k
    for k in $(printf '%s\n' "${!per_cmd[@]}" | sort); do put corruption "cmd.$k" "${per_cmd[$k]}"; done
    line "corruption   $n trials on a $CORRUPT_CROPS-record pool ($pages pages, ${#struct[@]} structural): $ntrunc truncations," \
        "$nflip byte flips (half in meta/branch/leaf pages): refused $refused ($guarded after LMDB faulted), opened fine $fine, silent $silent," \
        "crashed $crashed, hung $hung, unclear $unclear"
    local per=""
    for c in "${CMDS[@]}"; do
        per="$per $c: same ${per_cmd[$c.same]:-0} refused ${per_cmd[$c.refused]:-0};"
    done
    line "             per command:$per"
}

note "pool_faults: icstr $ICSTR, model $MODEL, results in $OUT"
line "pool under faults: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(getconf _NPROCESSORS_ONLN) cores, load $(cut -d' ' -f1-3 /proc/loadavg), icstr $ICSTR"
T_START=$(now_ms)
for c in $ONLY; do "campaign_$c"; done
line "total $((($(now_ms) - T_START) / 1000)) s; $([ $FAILED = 0 ] && echo 'every check held' || echo 'SOME CHECKS FAILED (see above)')"
put all seconds $((($(now_ms) - T_START) / 1000))
put all failed $FAILED
exit $FAILED

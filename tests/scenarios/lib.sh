# lib.sh - shared helpers of the samsep scenario suite (sourced, not run).
#
# Every scenario drives the real samsep binary ($SAMSEP_BIN, set by ctest; by
# default build/samsep) in a fresh temporary folder $T under ${TMPDIR:-/tmp},
# with XDG_CONFIG_HOME, XDG_STATE_HOME and HOME pointing inside it, so a test
# never reads or writes the real home. The folder, every mount a test made and
# every background process it started are removed on exit, pass or fail.
#
# Conventions: a scenario prints what it checks ("== ..."), calls fail() on
# the first broken expectation (message, then the last samsep command's
# output, exit 1) and skip() when it cannot run here (reason, exit 77).
# samsep is always run with stdin from /dev/null unless a test wants a
# terminal (pty-run), so a developer's terminal never turns a batch run into
# an interactive one.
#
# Run one by hand:  SAMSEP_BIN=build/samsep bash tests/scenarios/06_kill9_resume.sh
# (SCN_KEEP=1 keeps the temporary folder; PTY_RUN names a built pty-run, else
# it is compiled from pty.c.) All of them:  ctest --test-dir build -L scenario

set -eu

SCN_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SCN_NAME=$(basename "$0" .sh)

if [ -z "${SAMSEP_BIN:-}" ]; then
    SAMSEP_BIN=$SCN_DIR/../../build/samsep
fi
case $SAMSEP_BIN in /*) ;; *) SAMSEP_BIN=$PWD/$SAMSEP_BIN ;; esac
SAMSEP_EXAMPLES=${SAMSEP_EXAMPLES:-$SCN_DIR/../../examples}

T=$(mktemp -d "${TMPDIR:-/tmp}/samsep-scn-$SCN_NAME.XXXXXX")
T=$(cd "$T" && pwd -P)
export XDG_CONFIG_HOME=$T/xdg-config
export XDG_STATE_HOME=$T/xdg-state
export HOME=$T/home
mkdir -p "$HOME"

_scn_mounts=()
_scn_pids=()
_scn_hooks=()

# at_exit COMMAND: run COMMAND (through eval) when the scenario ends, pass
# or fail, before its processes are killed and its folder removed; the
# last registered runs first.
at_exit() { _scn_hooks+=("$*"); }

_scn_cleanup() {
    local rc=$? p m i
    trap - EXIT
    set +e
    for ((i = ${#_scn_hooks[@]} - 1; i >= 0; i--)); do
        eval "${_scn_hooks[$i]}"
    done
    for p in "${_scn_pids[@]:+${_scn_pids[@]}}"; do
        kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    for ((i = ${#_scn_mounts[@]} - 1; i >= 0; i--)); do
        m=${_scn_mounts[$i]}
        if mountpoint -q "$m" 2>/dev/null; then
            umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null ||
                echo "WARNING: could not unmount $m"
        fi
    done
    if [ -n "${SCN_KEEP:-}" ]; then
        echo "(kept $T)"
    else
        rm -rf --one-file-system "$T"
    fi
    if [ "$rc" -eq 0 ]; then
        echo "PASS: $SCN_NAME"
    elif [ "$rc" -eq 77 ]; then
        echo "SKIPPED: $SCN_NAME"
    fi
    exit "$rc"
}
trap _scn_cleanup EXIT
trap 'exit 1' INT TERM HUP

cd "$T"

# ---------------------------------------------------------------- reporting

say() { printf '== %s\n' "$*"; }

# Print the last samsep command, its exit status and its output (trimmed).
show_last() {
    [ -n "${LAST_CMD:-}" ] || return 0
    printf -- '--- last command: %s\n--- exit status: %s\n' "$LAST_CMD" "${RC:-?}"
    if [ -s "$T/.last.out" ]; then
        echo '--- stdout:'
        head -c 6000 "$T/.last.out"
        echo
    fi
    if [ -s "$T/.last.err" ]; then
        echo '--- stderr:'
        head -c 6000 "$T/.last.err"
        echo
    fi
}

fail() {
    printf 'FAIL: %s\n' "$*"
    show_last
    exit 1
}

skip() {
    printf 'SKIP: %s\n' "$*"
    exit 77
}

need() {
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 || skip "needs '$c', which is not installed"
    done
}

[ -x "$SAMSEP_BIN" ] || fail "samsep binary not found at $SAMSEP_BIN (set SAMSEP_BIN)"
need sox soxi python3

# ------------------------------------------------------------ running samsep

# ss ARGS...: run samsep (stdin /dev/null). stdout -> $OUT, stderr -> $ERR,
# exit status -> $RC. Never fails by itself.
OUT=$T/.last.out
ERR=$T/.last.err
ss() {
    LAST_CMD="samsep $*"
    printf '$ %s\n' "$LAST_CMD"
    set +e
    "$SAMSEP_BIN" "$@" </dev/null >"$OUT" 2>"$ERR"
    RC=$?
    set -e
    printf '  -> exit %s\n' "$RC"
}

# ss_bg LOG ARGS...: start samsep in the background (stdout LOG.out, stderr
# LOG.err); its pid in $BG_PID; it is killed at exit if still running.
ss_bg() {
    local log=$1
    shift
    printf '$ samsep %s &\n' "$*"
    "$SAMSEP_BIN" "$@" </dev/null >"$log.out" 2>"$log.err" &
    BG_PID=$!
    _scn_pids+=("$BG_PID")
}

# bg_wait PID: wait for a background samsep; its exit status -> $RC.
bg_wait() {
    set +e
    wait "$1"
    RC=$?
    set -e
}

# ---------------------------------------------------------------- assertions

assert_rc() {
    [ "$RC" = "$1" ] || fail "expected exit status $1, got $RC${2:+ ($2)}"
}

assert_exists() {
    local p
    for p in "$@"; do
        [ -e "$p" ] || fail "expected $p to exist"
    done
}

assert_absent() {
    local p
    for p in "$@"; do
        if [ -e "$p" ] || [ -L "$p" ]; then
            fail "expected $p not to exist"
        fi
    done
}

# assert_grep FILE ERE [what]: FILE has a line matching ERE.
assert_grep() {
    grep -Eq -- "$2" "$1" || fail "${3:-output} has no line matching /$2/"
}

assert_no_grep() {
    if grep -Eq -- "$2" "$1"; then
        fail "${3:-output} has a line matching /$2/: $(grep -E -- "$2" "$1" | head -3)"
    fi
}

assert_out() { assert_grep "$OUT" "$1" "stdout"; }
assert_err() { assert_grep "$ERR" "$1" "stderr"; }
assert_no_out() { assert_no_grep "$OUT" "$1" "stdout"; }

# assert_eq ACTUAL EXPECTED WHAT
assert_eq() {
    [ "$1" = "$2" ] || fail "$3: expected '$2', got '$1'"
}

# count_files DIR NAME-GLOB: regular, not hidden files below DIR matching
# the glob (hidden ones are samsep's temporaries and locks, checked apart).
count_files() {
    if [ -d "$1" ]; then
        find "$1" -type f -name "$2" ! -name '.*' | wc -l | tr -d ' '
    else
        echo 0
    fi
}

# assert_no_temps DIR...: no samsep temporary left anywhere below DIR.
assert_no_temps() {
    local d left
    for d in "$@"; do
        [ -d "$d" ] || continue
        left=$(find "$d" -name '*samsep-tmp*' | head -5)
        [ -z "$left" ] || fail "temporaries left behind: $left"
    done
}

# assert_no_leftovers DIR...: no temporary and no lock file of samsep below
# DIR (a run that ended, however it ended, releases its claims).
assert_no_leftovers() {
    local d left
    assert_no_temps "$@"
    for d in "$@"; do
        [ -d "$d" ] || continue
        left=$(find "$d" -name '*.samsep-lock' | head -5)
        [ -z "$left" ] || fail "lock files left behind: $left"
    done
}

# assert_no_loops DIR: no output of an output anywhere below DIR.
assert_no_loops() {
    local bad
    bad=$(find "$1" \( -iname '*_target_target*' -o -iname '*_target_residual*' \
        -o -iname '*_residual_target*' -o -iname '*_residual_residual*' \) | head -5)
    [ -z "$bad" ] || fail "outputs of outputs found: $bad"
}

# snapshot DIR: a listing of everything below DIR (path, type, size, mtime,
# inode) that changes if anything is created, removed or rewritten.
snapshot() {
    if [ -e "$1" ]; then
        find "$1" -printf '%p %y %s %T@ %i\n' | LC_ALL=C sort
    else
        echo "(absent)"
    fi
}

# snapshot_out DIR: as snapshot, for files only and without samsep's lock
# files (a run may leave those, and touch the folders, in an output folder).
snapshot_out() {
    if [ -e "$1" ]; then
        find "$1" ! -type d ! -name '*.samsep-lock' -printf '%p %y %s %T@ %i\n' | LC_ALL=C sort
    else
        echo "(absent)"
    fi
}

# assert_unchanged BEFORE-SNAPSHOT DIR WHAT [SNAPSHOT-FUNCTION]
assert_unchanged() {
    local now
    now=$(${4:-snapshot} "$2")
    if [ "$1" != "$now" ]; then
        diff <(echo "$1") <(echo "$now") | head -20
        fail "$3: files under $2 changed"
    fi
}

# frames FILE: number of sample frames in an audio file.
frames() { soxi -s "$1" 2>/dev/null; }

# assert_pair DIR STEM EXT [FRAMES]: both outputs exist, whole, FRAMES long.
assert_pair() {
    local dir=$1 stem=$2 ext=$3 n=${4:-} f
    for f in "$dir/${stem}_target.$ext" "$dir/${stem}_residual.$ext"; do
        [ -f "$f" ] || fail "expected output $f"
        if [ -n "$n" ]; then
            [ "$(frames "$f")" = "$n" ] || fail "$f has $(frames "$f") frames, expected $n"
        fi
    done
}

assert_no_pair() {
    local dir=$1 stem=$2 ext=$3
    assert_absent "$dir/${stem}_target.$ext" "$dir/${stem}_residual.$ext"
}

# inode FILE
inode() { stat -c %i "$1"; }

# ----------------------------------------------------------------- test audio

# tone FILE [SECONDS] [RATE] [CHANNELS] [FREQ]: a short 16-bit sine with a
# little noise (so the outputs are not silence), in FILE's format.
_tone_n=0
tone() {
    local f=$1 d=${2:-0.5} r=${3:-16000} c=${4:-1} hz=${5:-}
    _tone_n=$((_tone_n + 1))
    [ -n "$hz" ] || hz=$((300 + 37 * (_tone_n % 40)))
    mkdir -p "$(dirname "$f")"
    sox -q -n -r "$r" -c "$c" -b 16 "$f" synth "$d" sine "$hz" synth "$d" pinknoise mix vol 0.5 2>/dev/null ||
        sox -q -n -r "$r" -c "$c" -b 16 "$f" synth "$d" sine "$hz" vol 0.5
}

# long_file FILE SECONDS: pink noise at 48 kHz stereo (for kill/interrupt).
long_file() {
    mkdir -p "$(dirname "$1")"
    sox -q -n -r 48000 -c 2 -b 16 "$1" synth "$2" pinknoise vol 0.5
}

# ----------------------------------------------------------------- waiting

# wait_for_file DIR GLOB PID [SECONDS]: wait until something named GLOB
# (hidden names included) exists below DIR while PID is still running.
# Returns 0 when found, 1 when PID ended first, 2 on timeout.
wait_for_file() {
    local dir=$1 glob=$2 pid=$3 secs=${4:-60} i=0 max
    max=$((secs * 100))
    while [ "$i" -lt "$max" ]; do
        if [ -d "$dir" ] && [ -n "$(find "$dir" -name "$glob" -print -quit 2>/dev/null)" ]; then
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.01
        i=$((i + 1))
    done
    return 2
}

# --------------------------------------------------------- folder collisions

# collision_tree: the folders the collision scenarios mix up, under
# D=$T/data: recordings/a.wav, recordings/sub/b.wav, results/old/c.wav and
# recordings_link -> recordings; the shell then works in $D.
collision_tree() {
    D=$T/data
    tone "$D/recordings/a.wav"
    tone "$D/recordings/sub/b.wav"
    mkdir -p "$D/results"
    tone "$D/results/old/c.wav"
    ln -s recordings "$D/recordings_link"
    cd "$D"
}

# refused WHY INPUT-NAME OUTPUT-AS-GIVEN ARGS...: run, expect exit 2, nothing
# created under $D, and a message naming both folders and the reason.
refused() {
    local why=$1 in_name=$2 out_given=$3 before out_real
    shift 3
    before=$(snapshot "$D")
    ss "$@"
    assert_rc 2 "collision must be refused"
    assert_unchanged "$before" "$D" "a refused run"
    assert_err "$why"
    assert_err "$in_name"
    out_real=$(realpath -m "$out_given")
    out_given=${out_given%/}
    if ! grep -qF -- "$out_given" "$ERR" && ! grep -qF -- "$out_real" "$ERR"; then
        fail "the message does not name the output folder ('$out_given' or '$out_real')"
    fi
}

# ------------------------------------------------------------------- mounts

# try_mount DIR ARGS...: mount ARGS on DIR (registered for unmount at exit),
# or skip the scenario with the reason.
try_mount() {
    local dir=$1 msg
    shift
    mkdir -p "$dir"
    if ! msg=$(mount "$@" "$dir" 2>&1); then
        skip "cannot mount here (mount $* $dir: ${msg:-failed}); run as root with CAP_SYS_ADMIN to include this case"
    fi
    _scn_mounts+=("$dir")
}

# -------------------------------------------------------------- pseudo-tty

# need_pty: sets PTY_RUN to the pty-run helper (built by ctest, or compiled
# here from pty.c), or skips.
need_pty() {
    if [ -n "${PTY_RUN:-}" ] && [ -x "$PTY_RUN" ]; then
        return 0
    fi
    local cc=${CC:-cc}
    command -v "$cc" >/dev/null 2>&1 || skip "no pty-run helper and no C compiler to build it"
    "$cc" -std=c11 -D_DEFAULT_SOURCE -O1 -o "$T/.pty-run" "$SCN_DIR/pty.c" -lutil ||
        skip "could not build the pty-run helper from pty.c"
    PTY_RUN=$T/.pty-run
}

# pty ARGS...: pty-run ARGS (its transcript -> $OUT, its messages -> $ERR,
# exit status -> $RC).
pty() {
    LAST_CMD="pty-run $*"
    printf '$ %s\n' "$LAST_CMD"
    set +e
    "$PTY_RUN" "$@" </dev/null >"$OUT" 2>"$ERR"
    RC=$?
    set -e
    tr -d '\r' <"$OUT" | sed 's/^/  | /'
    echo
    printf '  -> exit %s\n' "$RC"
}

# ------------------------------------------------------------------- JSON

# json_lines FILE: every line of FILE is one JSON object with an "event".
json_lines() {
    python3 - "$1" <<'EOF' || fail "stdout of --json is not one JSON object per line"
import json, sys
bad = 0
for n, line in enumerate(open(sys.argv[1], encoding="utf-8"), 1):
    line = line.rstrip("\n")
    try:
        o = json.loads(line)
        if not isinstance(o, dict) or "event" not in o:
            raise ValueError("not an object with an 'event'")
    except Exception as e:
        print(f"line {n}: {e}: {line[:200]}")
        bad += 1
sys.exit(1 if bad else 0)
EOF
}

# json_query FILE PYTHON-EXPR: evaluate EXPR with `ev` = list of the events
# (dicts) in FILE, print the result.
json_query() {
    python3 - "$1" "$2" <<'EOF'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8") if l.strip()]
r = eval(sys.argv[2])
if isinstance(r, list):
    for x in r:
        print(x)
else:
    print(r)
EOF
}

# ------------------------------------------------------------- exec workers

# need_numpy: PY names a python3 that has numpy (Debian's python3-numpy is
# installed for /usr/bin/python3, which may not be the first on PATH), or
# the scenario is skipped.
need_numpy() {
    local c
    for c in /usr/bin/python3 python3; do
        if "$c" -c 'import numpy' 2>/dev/null; then
            PY=$c
            return 0
        fi
    done
    skip "needs a python3 with numpy (Debian: python3-numpy, see scripts/setup.sh)"
}

# The project's sources (workers, examples) and the C example worker. Python
# leaves no bytecode beside the sources.
export PYTHONDONTWRITEBYTECODE=1
SRC_DIR=$(cd "$SCN_DIR/../.." && pwd)
GAIN_WORKER=${EXEC_GAIN_WORKER:-$(dirname "$SAMSEP_BIN")/exec-gain-worker}
FAULT_WORKER=$SCN_DIR/exec_fault_worker.py

# f32 FILE: the samples of an audio file as raw float32 in $T/FILE-name.f32
# (for numpy); prints that path.
f32() {
    local out
    out=$T/$(echo "$1" | tr '/' '_').f32
    sox -V1 "$1" -t f32 "$out"
    echo "$out"
}

# numpy_check PYTHON-CODE ARGS...: run code with numpy as np and sys.argv;
# its exit status decides (print why before failing).
numpy_check() {
    local code=$1
    shift
    "$PY" -c "import sys, numpy as np
$code" "$@"
}

# ------------------------------------------------------------------- PNG

# png_stats FILE: "WIDTH HEIGHT NONWHITE DISTINCT" of a picture: the
# fraction of its pixels that are not white and the number of distinct
# colours (decoded by ffmpeg, so a test needs no imaging library).
png_stats() {
    local size
    size=$(ffprobe -v error -select_streams v:0 -show_entries stream=width,height \
        -of csv=p=0:s=x "$1") || return 1
    ffmpeg -v error -i "$1" -f rawvideo -pix_fmt rgb24 - |
        python3 -c '
import sys
w, h = map(int, sys.argv[1].split("x"))
px = sys.stdin.buffer.read()
if len(px) != w * h * 3:
    sys.exit("short picture")
pixels = [px[i:i + 3] for i in range(0, len(px), 3)]
white = pixels.count(b"\xff\xff\xff")
print(w, h, f"{1 - white / (w * h):.3f}", len(set(pixels)))
' "$size"
}

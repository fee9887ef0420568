#!/usr/bin/env bash
# Two ways the system stops a write, neither of which may leave anything
# behind. A file-size limit (ulimit -f): the input whose outputs pass it
# fails with "File too large", its temporaries and lock are removed, and the
# batch goes on to the next input, which fits; the exit status is 1. A
# closed output pipe (samsep --json ... | head -1): the run stops as on a
# signal, after the current block, with no temporary, lock or partial output
# and the exit status 141 (128 + SIGPIPE), whether the closed pipe arrives as
# SIGPIPE or, where SIGPIPE is ignored, as EPIPE; a re-run completes it.
. "$(dirname "$0")/lib.sh"

tone in/a_small.wav 0.5 16000
sox -q -n -r 48000 -c 2 -b 16 in/m_big.wav synth 30 pinknoise vol 0.5
tone in/z_small.wav 0.5 16000

# limited KIB ARGS...: samsep under `ulimit -f KIB` (bash counts in KiB).
limited() {
    local kib=$1
    shift
    LAST_CMD="(ulimit -f $kib; samsep $*)"
    printf '$ %s\n' "$LAST_CMD"
    set +e
    (ulimit -f "$kib" && exec "$SAMSEP_BIN" "$@") </dev/null >"$OUT" 2>"$ERR"
    RC=$?
    set -e
    printf '  -> exit %s\n' "$RC"
}

for fmt in wav flac; do
    say "ulimit -f 2048 (2 MiB), $fmt: the 30 s input fails, the small ones after it are done"
    limited 2048 --format "$fmt" in/a_small.wav in/m_big.wav in/z_small.wav -o "out_$fmt"
    assert_rc 1 "one input failed"
    assert_err "FAILED in/m_big\.wav: .*m_big_(target|residual)\.$fmt.*File too large"
    assert_no_pair "out_$fmt" m_big "$fmt"
    assert_pair "out_$fmt" a_small "$fmt" 8000
    assert_pair "out_$fmt" z_small "$fmt" 8000
    assert_no_leftovers "out_$fmt"
    left=$(find "out_$fmt" -name '*m_big*')
    [ -z "$left" ] || fail "files of the failed input left: $left"
done

# piped HOW RUN-DIR ARGS...: samsep --json ... | head -1, samsep's stdout
# and stderr in RUN-DIR.{out,err}, its exit status in $RC. HOW is "" or an
# env(1) option for samsep's signals.
piped() {
    local how=$1 run=$2
    shift 2
    LAST_CMD="samsep --json $* | head -1"
    set +e
    env $how "$SAMSEP_BIN" --json "$@" </dev/null 2>"$run.err" | head -1 >"$run.out"
    RC=${PIPESTATUS[0]}
    set -e
    cp "$run.out" "$OUT"
    cp "$run.err" "$ERR"
}

# The pipe closes at a moment that varies from run to run (before the first
# input, while one is being processed, between two): try it many times.
for how in "" --ignore-signal=PIPE; do
    say "samsep --json (3 inputs) | head -1, 8 times${how:+ ($how)}"
    outcomes=""
    for i in $(seq 1 8); do
        dir=out_pipe${how:+_ign}_$i
        piped "$how" "$T/pipe_$i" in/a_small.wav in/m_big.wav in/z_small.wav -o "$dir"
        assert_rc 141 "128 + SIGPIPE"
        assert_eq "$(wc -l <"$OUT" | tr -d ' ')" 1 "lines head printed"
        assert_err '^samsep: stopped: the output pipe was closed; [0-9] file\(s\) done'
        assert_no_leftovers "$dir"
        # whatever was written is whole: both outputs at full length
        for stem in a_small z_small; do
            if [ -e "$dir/${stem}_target.wav" ] || [ -e "$dir/${stem}_residual.wav" ]; then
                assert_pair "$dir" "$stem" wav 8000
            fi
        done
        if [ -e "$dir/m_big_target.wav" ] || [ -e "$dir/m_big_residual.wav" ]; then
            assert_pair "$dir" m_big wav 1440000
        fi
        [ ! -e "$dir/z_small_target.wav" ] || fail "the run went on to the last input after its output pipe closed"
        outcomes="$outcomes $(grep -o '[0-9] file(s) done' "$ERR" | cut -c1)"
    done
    echo "   files done before each stop:$outcomes"
done

say "a re-run completes what the closed pipe stopped"
ss --json in/a_small.wav in/m_big.wav in/z_small.wav -o out_pipe_1
assert_rc 0
json_lines "$OUT"
assert_pair out_pipe_1 a_small wav 8000
assert_pair out_pipe_1 m_big wav 1440000
assert_pair out_pipe_1 z_small wav 8000
assert_no_leftovers out_pipe_1

#!/usr/bin/env bash
# Ctrl-C (SIGINT) and SIGTERM during a long file: samsep stops after the
# current block, removes its temporaries and exits 130; no final output of
# the interrupted file exists, outputs finished before are kept, and a re-run
# completes what is left. Ctrl-C typed on a terminal does the same.
. "$(dirname "$0")/lib.sh"

LONG_SECS=${LONG_SECS:-600}
tone in/a_first.wav 0.5 16000
long_file in/m_long.wav "$LONG_SECS"
tone in/z_last.wav 0.5 16000

# Job control: without it bash starts background jobs with SIGINT ignored.
set -m

interrupt_with() { # SIGNAL OUTDIR
    local sig=$1 dir=$2 pid w t0 t1
    say "SIG$sig while the long file is being written"
    ss_bg "$T/run_$sig" in/a_first.wav in/m_long.wav in/z_last.wav -o "$dir"
    pid=$BG_PID
    set +e
    wait_for_file "$dir" '.m_long*samsep-tmp*' "$pid" 120
    w=$?
    set -e
    [ "$w" -ne 2 ] || fail "no temporary for m_long appeared within 120 s"
    [ "$w" -ne 1 ] || fail "samsep ended before the long file's temporary appeared; stderr: $(cat "$T/run_$sig.err")"
    sleep 0.2
    kill -0 "$pid" 2>/dev/null || fail "samsep finished before it could be interrupted"
    t0=$(date +%s%N)
    kill -"$sig" "$pid"
    bg_wait "$pid"
    t1=$(date +%s%N)
    echo "   stopped $(((t1 - t0) / 1000000)) ms after SIG$sig"
    LAST_CMD="(background run, SIG$sig)"
    cp "$T/run_$sig.out" "$OUT"
    cp "$T/run_$sig.err" "$ERR"
    assert_rc 130
    assert_no_pair "$dir" m_long wav
    assert_no_pair "$dir" z_last wav
    assert_no_temps "$dir"
    assert_pair "$dir" a_first wav 8000
    [ $(((t1 - t0) / 1000000)) -lt 10000 ] || fail "samsep took more than 10 s to stop"
}

interrupt_with INT out_int
interrupt_with TERM out_term

say "a re-run completes the rest and keeps what was done"
ino=$(inode out_int/a_first_target.wav)
ss in/a_first.wav in/z_last.wav -o out_int
assert_rc 0
assert_pair out_int z_last wav 8000
assert_eq "$(inode out_int/a_first_target.wav)" "$ino" "inode of a_first_target.wav"

say "a second Ctrl-C stops at once: exit 130, nothing under a final name"
ss_bg "$T/run_twice" in/m_long.wav -o out_twice
pid=$BG_PID
set +e
wait_for_file out_twice '.m_long*samsep-tmp*' "$pid" 120
w=$?
set -e
[ "$w" = 0 ] || fail "no temporary for m_long appeared (wait status $w)"
kill -INT "$pid"
kill -INT "$pid" 2>/dev/null || true
bg_wait "$pid"
assert_rc 130
assert_no_pair out_twice m_long wav
left=$(find out_twice -name '*m_long*' ! -name '.*')
[ -z "$left" ] || fail "non-hidden files of the interrupted input: $left"

need_pty
say "Ctrl-C typed on a terminal"
pty --timeout 120 --wait-glob "$T/out_tty/.m_long*samsep-tmp*" --raw $'\x03' -- "$SAMSEP_BIN" in/m_long.wav -o out_tty
assert_rc 130
assert_no_pair out_tty m_long wav
assert_no_temps out_tty

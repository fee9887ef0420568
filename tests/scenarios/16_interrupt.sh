#!/usr/bin/env bash
# Ctrl-C (SIGINT), SIGTERM and SIGHUP (terminal or ssh connection closed)
# during a long file: samsep stops after the current block, removes its
# temporaries and lock files and exits 128 + the signal's number (130, 143,
# 129); no final output of the interrupted file exists, outputs finished
# before are kept, and a re-run completes what is left. A second signal ends
# at once, still leaving nothing behind. Ctrl-C typed on a terminal does the
# same as SIGINT.
. "$(dirname "$0")/lib.sh"

# Run samsep with the stop signals at their defaults whatever this shell
# inherited: under nohup SIGHUP would be ignored, and samsep keeps an
# inherited SIG_IGN, as it must.
if env --default-signal=HUP true 2>/dev/null; then
    printf '#!/bin/sh\nexec env --default-signal=HUP,INT,TERM "%s" "$@"\n' \
        "$SAMSEP_BIN" >"$T/samsep-dfl"
    chmod +x "$T/samsep-dfl"
    SAMSEP_BIN=$T/samsep-dfl
fi

LONG_SECS=${LONG_SECS:-600}
tone in/a_first.wav 0.5 16000
long_file in/m_long.wav "$LONG_SECS"
tone in/z_last.wav 0.5 16000

# Job control: without it bash starts background jobs with SIGINT ignored.
set -m

interrupt_with() { # SIGNAL OUTDIR EXIT-STATUS
    local sig=$1 dir=$2 status=$3 pid w t0 t1
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
    assert_rc "$status"
    assert_no_pair "$dir" m_long wav
    assert_no_pair "$dir" z_last wav
    assert_no_leftovers "$dir"
    assert_pair "$dir" a_first wav 8000
    assert_grep "$ERR" "$4" "stderr"
    [ $(((t1 - t0) / 1000000)) -lt 10000 ] || fail "samsep took more than 10 s to stop"
}

interrupt_with INT out_int 130 '^samsep: interrupted; 1 file'
interrupt_with TERM out_term 143 '^samsep: stopped by SIGTERM; 1 file'
interrupt_with HUP out_hup 129 '^samsep: stopped by SIGHUP.*; 1 file'

say "a re-run completes the rest and keeps what was done"
for dir in out_int out_term out_hup; do
    ino=$(inode $dir/a_first_target.wav)
    ss in/a_first.wav in/z_last.wav -o $dir
    assert_rc 0
    assert_pair $dir z_last wav 8000
    assert_eq "$(inode $dir/a_first_target.wav)" "$ino" "inode of $dir/a_first_target.wav"
    assert_no_leftovers $dir
done

# Two different signals, so that the second is not merged into the first
# while that is pending: it ends samsep at once, by that signal (129), or
# finds it already done stopping after the first (143).
twice() { # FIRST SECOND OUTDIR
    local first=$1 second=$2 dir=$3 pid w
    say "SIG$first then SIG$second: ends at once, nothing left under any name"
    ss_bg "$T/run_$dir" in/m_long.wav -o "$dir"
    pid=$BG_PID
    set +e
    wait_for_file "$dir" '.m_long*samsep-tmp*' "$pid" 120
    w=$?
    set -e
    [ "$w" = 0 ] || fail "no temporary for m_long appeared (wait status $w)"
    kill -"$first" "$pid"
    kill -"$second" "$pid" 2>/dev/null || true
    bg_wait "$pid"
    LAST_CMD="(background run, SIG$first then SIG$second)"
    cp "$T/run_$dir.out" "$OUT"
    cp "$T/run_$dir.err" "$ERR"
    case $RC in
    "$4" | "$5") ;;
    *) fail "expected exit status $4 or $5, got $RC" ;;
    esac
    assert_no_pair "$dir" m_long wav
    assert_no_leftovers "$dir"
    # ($dir is gone when the first signal was enough: an empty output
    # folder is removed)
    left=$(find "$dir" -name '*m_long*' 2>/dev/null || true)
    [ -z "$left" ] || fail "files of the interrupted input: $left"
}
twice TERM HUP out_twice 129 143
twice INT INT out_twice_int 130 130

need_pty
say "Ctrl-C typed on a terminal"
pty --timeout 120 --wait-glob "$T/out_tty/.m_long*samsep-tmp*" --raw $'\x03' -- "$SAMSEP_BIN" in/m_long.wav -o out_tty
assert_rc 130
assert_no_pair out_tty m_long wav
assert_no_leftovers out_tty

#!/usr/bin/env bash
# kill -9 in the middle of a long file: no file under a final output name is
# ever incomplete (a watcher checks the whole time), only hidden temporaries
# are left; a re-run completes the rest, removes the stale temporaries and
# skips what was already done.
. "$(dirname "$0")/lib.sh"

LONG_SECS=${LONG_SECS:-180}
LONG_FRAMES=$((LONG_SECS * 48000))

say "inputs: a small file, a ${LONG_SECS} s 48 kHz stereo file, another small file"
tone in/a_first.wav 0.5 16000
long_file in/m_long.wav "$LONG_SECS"
tone in/z_last.wav 0.5 16000
assert_eq "$(frames in/m_long.wav)" "$LONG_FRAMES" "frames of the long input"

# A watcher: whenever a final output of the long file exists, it must be
# whole. Violations are written to $T/violations.
: >"$T/violations"
watch_finals() {
    local f n
    while :; do
        for f in out/m_long_target.wav out/m_long_residual.wav; do
            if [ -e "$f" ]; then
                n=$(soxi -s "$f" 2>/dev/null || echo unreadable)
                [ "$n" = "$LONG_FRAMES" ] || echo "$f existed with $n frames" >>"$T/violations"
            fi
        done
        sleep 0.02
    done
}
watch_finals &
_scn_pids+=("$!")

say "start the run and kill -9 it while the long file is being written"
ss_bg "$T/run1" in/a_first.wav in/m_long.wav in/z_last.wav -o out
pid=$BG_PID
set +e
wait_for_file out '.m_long*samsep-tmp*' "$pid" 120
w=$?
set -e
[ "$w" -ne 2 ] || fail "no temporary for m_long appeared within 120 s"
[ "$w" -ne 1 ] || fail "samsep ended before the long file's temporary appeared (it must write under a hidden temporary name); stderr: $(cat "$T/run1.err")"
sleep 0.3
kill -0 "$pid" 2>/dev/null || fail "samsep finished the long file before it could be killed (make LONG_SECS larger)"
kill -KILL "$pid"
bg_wait "$pid"
assert_eq "$RC" 137 "status of the killed run"

say "at that moment: no final output of the long file, only hidden temporaries"
assert_no_pair out m_long wav
left=$(find out -name '*m_long*' ! -name '.*')
[ -z "$left" ] || fail "non-hidden files of the killed input: $left"
[ -n "$(find out -name '.m_long*samsep-tmp*')" ] || fail "expected the killed run's temporary in out/"
assert_pair out a_first wav 8000
a_target_ino=$(inode out/a_first_target.wav)
a_residual_ino=$(inode out/a_first_residual.wav)
z_done_before=no
[ -e out/z_last_target.wav ] && z_done_before=yes

say "the plan of a re-run: the long file to do, the first file done"
ss --dry-run in/a_first.wav in/m_long.wav in/z_last.wav -o out
assert_rc 0
assert_out '^process .*m_long\.wav -> '
assert_out '^skip .*a_first\.wav: done'

say "re-run: completes the long file, removes the stale temporaries, skips what was done"
ss --json in/a_first.wav in/m_long.wav in/z_last.wav -o out
assert_rc 0
json_lines "$OUT"
assert_eq "$(json_query "$OUT" 'sum(1 for e in ev if e["event"]=="done" and e["input"].endswith("m_long.wav"))')" 1 \
    "done events of m_long.wav"
assert_eq "$(json_query "$OUT" 'sum(1 for e in ev if e["event"]=="done" and e["input"].endswith("a_first.wav"))')" 0 \
    "done events of a_first.wav (already done)"
assert_eq "$(json_query "$OUT" 'sum(1 for e in ev if e.get("input", "").endswith("a_first.wav") and
    (e["event"]=="skipped" or (e["event"]=="plan" and e["action"]=="skip")) and e["reason"].startswith("done"))')" 1 \
    "events that skip a_first.wav as done (plan action skip or a skipped event)"
if [ "$z_done_before" = no ]; then
    assert_eq "$(json_query "$OUT" 'sum(1 for e in ev if e["event"]=="done" and e["input"].endswith("z_last.wav"))')" 1 \
        "done events of z_last.wav"
fi
assert_eq "$(json_query "$OUT" '[e["failed"] for e in ev if e["event"]=="summary"][0]')" 0 "summary.failed"
assert_pair out m_long wav "$LONG_FRAMES"
assert_pair out z_last wav 8000
assert_eq "$(inode out/a_first_target.wav)" "$a_target_ino" "inode of a_first_target.wav (must not be rewritten)"
assert_eq "$(inode out/a_first_residual.wav)" "$a_residual_ino" "inode of a_first_residual.wav"
assert_no_temps out
assert_eq "$(count_files out '*')" 6 "files in out"

say "the watcher never saw an incomplete final file"
sleep 0.1
[ ! -s "$T/violations" ] || fail "incomplete final outputs seen: $(head -5 "$T/violations")"

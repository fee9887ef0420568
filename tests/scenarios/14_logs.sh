#!/usr/bin/env bash
# Logs: one file per run, samsep-YYYYmmdd-HHMMSS-PID.log, under --log-dir, or
# $XDG_STATE_HOME/samsep/logs, or ~/.local/state/samsep/logs; it holds the
# settings, the version, each input's result and time, and the peak RSS.
. "$(dirname "$0")/lib.sh"

tone in/a.wav 0.5 16000
tone in/b_target.wav 0.3 16000
: >in/empty.wav
version=$("$SAMSEP_BIN" --version </dev/null | grep -oE '[0-9]+\.[0-9]+(\.[0-9]+)?' | head -1)
[ -n "$version" ] || fail "samsep --version prints no version number"

say "--log-dir: one log for the run, with settings, version, results, peak RSS"
ss --log-dir "$T/logs" -p speech in -o out
assert_rc 1
logs=$(find "$T/logs" -type f)
assert_eq "$(echo "$logs" | grep -c .)" 1 "files in the log folder"
base=$(basename "$logs")
[[ $base =~ ^samsep-[0-9]{8}-[0-9]{6}-[0-9]+\.log$ ]] || fail "log name '$base' is not samsep-YYYYmmdd-HHMMSS-PID.log"
LOG=$logs
assert_grep "$LOG" "$version" "the log (version)"
assert_grep "$LOG" 'speech' "the log (prompt setting)"
assert_grep "$LOG" 'dsp' "the log (engine setting)"
assert_grep "$LOG" 'a\.wav' "the log (processed input)"
assert_grep "$LOG" 'b_target\.wav' "the log (skipped input)"
assert_grep "$LOG" 'empty\.wav' "the log (failed input)"
assert_grep "$LOG" '[Rr][Ss][Ss]' "the log (peak RSS)"
assert_no_grep "$LOG" 'samsep-tmp' "the log"
echo "--- the log:"
head -40 "$LOG"
echo "---"

say "a second run writes a second log"
ss --log-dir "$T/logs" in -o out
assert_eq "$(find "$T/logs" -type f | wc -l)" 2 "files in the log folder"

say "default: \$XDG_STATE_HOME/samsep/logs"
ss in/a.wav -o out2
assert_rc 0
assert_eq "$(find "$XDG_STATE_HOME/samsep/logs" -name 'samsep-*.log' | wc -l)" 1 "logs under XDG_STATE_HOME"

say "without XDG_STATE_HOME: ~/.local/state/samsep/logs"
(unset XDG_STATE_HOME; ss in/a.wav -o out3; [ "$RC" = 0 ] || fail "exit status $RC")
assert_eq "$(find "$HOME/.local/state/samsep/logs" -name 'samsep-*.log' | wc -l)" 1 "logs under ~/.local/state"

say "a run refused for a folder collision creates no output folder (a log is allowed)"
ss in -o in/out
assert_rc 2
assert_absent in/out

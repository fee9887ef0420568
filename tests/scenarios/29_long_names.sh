#!/usr/bin/env bash
# Long file names: an input whose outputs' names fit in 255 bytes (NAME_MAX)
# is processed, however close to the limit, because the hidden lock and
# temporary names are shortened to fit (a prefix of the name and a hash)
# instead of growing past it; nothing hidden is left behind, and a run killed
# mid-write leaves a temporary the next run recognises and removes. An input
# whose outputs cannot fit fails on its own with a message saying why; the
# others are done.
. "$(dirname "$0")/lib.sh"

# name BYTES [CHAR]: a file name of BYTES bytes: CHAR repeated, then "x"s to
# fill, then ".wav".
name() {
    local LC_ALL=C
    local n=$(($1 - 4)) c=${2:-a} s=
    while [ $((${#s} + ${#c})) -le "$n" ]; do s=$s$c; done
    while [ "${#s}" -lt "$n" ]; do s=${s}x; done
    printf '%s.wav\n' "$s"
}

say "inputs with names of 230 to 255 bytes, and one of 240 bytes of two-byte characters"
tone "$T/t.wav" 0.25 16000
mkdir -p in
for n in $(seq 230 255); do
    f=in/$(name "$n")
    [ "$(basename "$f" | wc -c)" = $((n + 1)) ] || fail "test setup: $f is not $n bytes"
    cp "$T/t.wav" "$f"
done
utf=$(name 240 é)
tone "in/$utf" 0.25 16000
# the outputs end in "_residual.wav": a 246-byte input name gives 255 bytes
fits=$(seq 230 246 | wc -l)

say "one run: the names that fit are done, the others fail one by one"
ss in -o out
assert_rc 1 "some inputs cannot have outputs"
assert_eq "$(count_files out '*_target.wav')" $((fits + 1)) "target files"
assert_eq "$(count_files out '*_residual.wav')" $((fits + 1)) "residual files"
for n in 230 246; do
    f=$(name "$n")
    assert_pair out "${f%.wav}" wav 4000
done
assert_pair out "${utf%.wav}" wav 4000
for n in $(seq 247 255); do
    assert_err "FAILED in/$(name "$n"): its output name .* would be $((n + 9)) bytes long, more than the 255"
done
assert_eq "$(grep -c FAILED "$ERR")" 9 "failed inputs"
[ -z "$(find out -name '.*')" ] || fail "hidden files left behind: $(find out -name '.*' | head -3)"

say "the dry run agrees; a re-run redoes nothing"
before=$(snapshot out)
ss --dry-run in -o out
assert_rc 0
assert_eq "$(grep -c '^skip .*: done' "$OUT")" $((fits + 1)) "inputs done"
assert_eq "$(grep -c '^fail .*would be 2[0-9][0-9] bytes long' "$OUT")" 9 "inputs failing"
ss in -o out
assert_rc 1
assert_unchanged "$before" out "a re-run"

say "kill -9 while a long-named file is written: its temporary fits and is cleaned up"
LONG_SECS=${LONG_SECS:-180}
long=$(name 243 é)
long_file "in2/$long" "$LONG_SECS"
ss_bg "$T/run" "in2/$long" -o out2
pid=$BG_PID
set +e
wait_for_file out2 '.*samsep-tmp*' "$pid" 120
w=$?
set -e
[ "$w" -ne 2 ] || fail "no temporary appeared within 120 s"
[ "$w" -ne 1 ] || fail "samsep ended before its temporary appeared; stderr: $(cat "$T/run.err")"
kill -0 "$pid" 2>/dev/null || fail "samsep finished before it could be killed (make LONG_SECS larger)"
kill -KILL "$pid"
bg_wait "$pid"
left=$(find out2 -name '.*samsep-tmp*')
[ -n "$left" ] || fail "expected the killed run's temporary in out2/"
python3 - "$left" <<'EOF' || fail "the temporary's name is not valid UTF-8 or is too long: $left"
import os, sys
b = os.fsencode(os.path.basename(sys.argv[1]))
b.decode("utf-8")
assert len(b) <= 255
EOF
ss "in2/$long" -o out2
assert_rc 0
assert_pair out2 "${long%.wav}" wav $((LONG_SECS * 48000))
[ -z "$(find out2 -name '.*')" ] || fail "hidden files left behind: $(find out2 -name '.*' | head -3)"

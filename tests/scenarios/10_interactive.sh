#!/usr/bin/env bash
# Interactive mode on a pseudo-terminal: samsep with no arguments asks for the
# input folder, output folder, prompt and engine, explains an unsafe output
# folder and asks again, shows the plan and asks to proceed, then runs. The
# answers are remembered in the config file and offered as defaults (Enter
# accepts them) by the next run (samsep -i).
. "$(dirname "$0")/lib.sh"
need_pty

tone in/a.wav 0.5 16000
tone in/b.flac 0.4 16000
CFG=$XDG_CONFIG_HOME/samsep/config.json

say "first run, no arguments: an unsafe output folder is explained and asked again"
pty --timeout 60 \
    --expect "Input folder" --answer "$T/in" \
    --expect "Output folder" --answer "$T/in/results" \
    --expect "Output folder" --answer "$T/out" \
    --expect "Prompt" --answer "" \
    --expect "Engine" --answer "" \
    --expect "Proceed? [y/N]" --answer "y" \
    -- "$SAMSEP_BIN"
assert_rc 0
assert_out 'is inside the input folder'
assert_absent in/results
assert_pair out a wav 8000
assert_pair out b flac 6400
assert_no_temps out
a_ino=$(inode out/a_target.wav)

say "the answers are remembered in the config file's \"last\" object"
assert_exists "$CFG"
python3 - "$CFG" "$T" <<'EOF' || fail "config file's \"last\" does not hold the folders: $(cat "$CFG")"
import json, os, sys
cfg = json.load(open(sys.argv[1]))
last = cfg["last"]
t = sys.argv[2]
assert os.path.realpath(last["input"]) == os.path.realpath(t + "/in"), last
assert os.path.realpath(last["output"]) == os.path.realpath(t + "/out"), last
EOF

say "second run (-i): the folders are the defaults and Enter accepts them"
tone in/c.wav 0.3 16000
pty --timeout 60 \
    --expect "Input folder" --answer "" \
    --expect "Output folder" --answer "" \
    --expect "Prompt" --answer "" \
    --expect "Engine" --answer "" \
    --expect "Proceed? [y/N]" --answer "y" \
    -- "$SAMSEP_BIN" -i
assert_rc 0
grep -qF "[$T/in]" "$OUT" || fail "the input folder default [$T/in] was not offered"
grep -qF "[$T/out]" "$OUT" || fail "the output folder default [$T/out] was not offered"
assert_pair out c wav 4800
assert_eq "$(inode out/a_target.wav)" "$a_ino" "inode of out/a_target.wav (done before, must not be redone)"
assert_eq "$(count_files out '*')" 6 "files in out"

say "the plan is shown and the default answer to Proceed is no: nothing written"
tone in/d.wav 0.3 16000
before=$(snapshot_out out)
pty --timeout 60 \
    --expect "Input folder" --answer "" \
    --expect "Output folder" --answer "" \
    --expect "Prompt" --answer "" \
    --expect "Engine" --answer "" \
    --expect "Proceed? [y/N]" --answer "" \
    -- "$SAMSEP_BIN" -i
case $RC in 124 | 125 | 126) fail "pty-run: the dialogue did not go as expected" ;; esac
assert_out 'done'   # the plan, with the reason the other inputs are skipped
assert_unchanged "$before" out "a declined run" snapshot_out
assert_no_pair out d wav

say "Ctrl-D at a question ends samsep (no endless re-asking), nothing written"
pty --timeout 20 --expect "Input folder" --raw $'\x04' -- "$SAMSEP_BIN" -i
case $RC in 124) fail "samsep did not end after end-of-input at a question" ;; 125 | 126) fail "pty-run failed" ;; esac
assert_unchanged "$before" out "a run ended by Ctrl-D" snapshot_out

say "an input folder that does not exist is explained and asked again"
pty --timeout 60 \
    --expect "Input folder" --answer "$T/no_such_folder" \
    --expect "Input folder" --answer "$T/in" \
    --expect "Output folder" --answer "$T/out" \
    --expect "Prompt" --answer "" \
    --expect "Engine" --answer "" \
    --expect "Proceed? [y/N]" --answer "y" \
    -- "$SAMSEP_BIN" -i
assert_rc 0
assert_absent no_such_folder
assert_pair out d wav 4800

say "an unknown prompt or engine is explained and both are asked again, with sane defaults"
say "(a first run: no remembered answers, so the defaults are the built-in ones)"
tone in2/e.wav 0.3 16000
pty --timeout 60 \
    --expect "Input folder" --answer "$T/in2" \
    --expect "Output folder" --answer "$T/out2" \
    --expect "Prompt" --answer "banjo" \
    --expect "Engine" --answer "" \
    --expect "banjo" \
    --expect "Prompt" --answer "" \
    --expect "Engine" --answer "no_such_engine" \
    --expect "no_such_engine" \
    --expect "Prompt" --answer "speech" \
    --expect "Engine" --answer "dsp" \
    --expect "Proceed? [y/N]" --answer "y" \
    -- env XDG_CONFIG_HOME="$T/fresh-config" "$SAMSEP_BIN"
assert_rc 0
# Each re-asked question offers a default that is one of the known answers
# (the original default or the last answer), never garbage.
bad=$(tr -d '\r' <"$OUT" | grep -aE '^(Prompt|Engine)' | grep -avE '\[(speech|banjo|dsp|no_such_engine)\]:' || true)
[ -z "$bad" ] || fail "a question offered a strange default: $bad"
assert_pair out2 e wav 4800

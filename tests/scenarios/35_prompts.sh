#!/usr/bin/env bash
# Several prompts in one pass (-p given more than once, or "prompts" in the
# config): one run writes <stem>_<prompt>_target and _residual per input and
# prompt, each equal to what a run for that prompt alone writes, with the
# whole prompt in its tags. The prompt becomes a short, stable file-name part
# (lowered ASCII letters and digits, '-' between; a hash of the prompt when
# it was cut, is empty, or two prompts would share it). Resume, locks,
# --dry-run, --json, the runaway guard and own-output skipping all work per
# (input, prompt). With one -p the names stay <stem>_target.
. "$(dirname "$0")/lib.sh"

tone in/song.wav 1.0 16000 2
tone in/talk.flac 0.5 16000

# raw FILE: the samples alone (the tags differ between runs by design)
raw() { sox "$1" -t raw -; }

say "three prompts: three pairs per input, named after the prompts"
ss -p drums -p music -p 'Vocals!' in -o out
assert_rc 0
for p in drums music vocals; do
    assert_pair out "song_$p" wav 16000
    assert_pair out "talk_$p" flac 8000
done
assert_eq "$(count_files out '*')" 12 "files in out"
assert_no_leftovers out

say "each pair is what a run for its prompt alone writes (dsp: bit for bit)"
for p in drums music 'Vocals!'; do
    rm -rf one
    ss -p "$p" in/song.wav -o one
    assert_rc 0
    assert_pair one song wav 16000
    part=$(echo "$p" | tr 'A-Z' 'a-z' | tr -d '!')
    cmp -s <(raw one/song_target.wav) <(raw "out/song_${part}_target.wav") ||
        fail "the $p target differs from a run of $p alone"
    cmp -s <(raw one/song_residual.wav) <(raw "out/song_${part}_residual.wav") ||
        fail "the $p residual differs from a run of $p alone"
done

say "the whole prompt is in the outputs' tags"
grep -aq 'role=target; engine=dsp; prompt=Vocals!;' out/song_vocals_target.wav ||
    fail "no prompt=Vocals! in the tags of out/song_vocals_target.wav"
grep -aq 'role=residual; engine=dsp; prompt=music;' out/talk_music_residual.flac ||
    fail "no prompt=music in the tags of out/talk_music_residual.flac"

say "a second run finds every (input, prompt) done"
before=$(snapshot_out out)
ss -p drums -p music -p 'Vocals!' in -o out --dry-run
assert_rc 0
assert_out '^0 to process, 6 skipped, 0 failing'
ss -p drums -p music -p 'Vocals!' in -o out
assert_rc 0
assert_unchanged "$before" out "a run with everything done" snapshot_out

say "a removed pair is redone alone; adding a prompt runs only that prompt"
rm out/song_music_target.wav
ss --json -p drums -p music -p 'Vocals!' -p hum in -o out
assert_rc 0
json_lines "$OUT"
assert_eq "$(json_query "$OUT" "sorted((e['input'].split('/')[-1], e['prompt']) for e in ev if e['event'] == 'done')")" \
    "$(printf "%s\n" "('song.wav', 'hum')" "('song.wav', 'music')" "('talk.flac', 'hum')")" "pairs done"
assert_eq "$(json_query "$OUT" "len([e for e in ev if e['event'] == 'start'])")" 2 "inputs started (one pass each)"
assert_pair out song_hum wav 16000
assert_pair out talk_hum flac 8000
assert_eq "$(stat -c %i out/song_drums_target.wav)" "$(echo "$before" | awk '$1 == "out/song_drums_target.wav" {print $5}')" \
    "inode of a done pair"

say "--dry-run and --json list one item per (input, prompt)"
ss --dry-run -p drums -p speech in/talk.flac -o out_dry
assert_rc 0
assert_out '^process in/talk\.flac -> out_dry/talk_drums_target\.flac$'
assert_out '^process in/talk\.flac -> out_dry/talk_speech_target\.flac$'
assert_out '^2 to process, 0 skipped, 0 failing'
ss --dry-run --json -p drums -p speech in/talk.flac -o out_dry
assert_rc 0
assert_eq "$(json_query "$OUT" "[(e['prompt'], e['target']) for e in ev if e['event'] == 'plan']")" \
    "$(printf "%s\n" "('drums', 'out_dry/talk_drums_target.flac')" "('speech', 'out_dry/talk_speech_target.flac')")" \
    "plan events"
assert_absent out_dry

say "two prompts that make the same name part both get a hash, stable from run to run"
ss --dry-run -p 'drums!' -p 'Drums?' in/talk.flac -o out_c
assert_rc 0
a=$(grep -o 'talk_drums-[0-9a-f]\{6\}_target' "$OUT" | sort)
assert_eq "$(echo "$a" | sort -u | wc -l)" 2 "distinct name parts"
ss -p 'drums!' -p 'Drums?' in/talk.flac -o out_c
assert_rc 0
assert_eq "$(ls out_c | grep -o 'talk_drums-[0-9a-f]\{6\}_target' | sort)" "$a" "names written"
assert_eq "$(count_files out_c '*')" 4 "files in out_c"
say "a long prompt is cut and hashed; one with no ASCII letter is its hash (exec:"
say "an engine opened once per prompt, one worker each)"
ss -e exec --worker "$GAIN_WORKER --gain 0.5" \
    -p 'the sound of a very distant church bell ringing at noon' -p '鐘' \
    in/talk.flac -o out_x
assert_rc 0
assert_eq "$(count_files out_x '*')" 4 "files in out_x"
ss --dry-run -e exec --worker "$GAIN_WORKER --gain 0.5" \
    -p 'the sound of a very distant church bell ringing at noon' -p '鐘' \
    in/talk.flac -o out_c
assert_rc 0
assert_out 'talk_the-sound-of-a-very-distant-chur-[0-9a-f]{6}_target\.flac$'
assert_out 'talk_[0-9a-f]{6}_target\.flac$'
grep -aq 'prompt=the sound of a very distant church bell ringing at noon;' \
    out_x/talk_the-sound-of-a-very-distant-chur-*_target.flac ||
    fail "the whole long prompt is not in its output's tags"
ss -e exec --worker "$GAIN_WORKER --gain 0.5" -p other in/talk.flac -o out_x1
assert_rc 0
cmp -s <(raw out_x1/talk_target.flac) <(raw out_x/talk_[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]_target.flac) ||
    fail "exec: a prompt's target differs from a run of it alone"
say "the same prompt twice is refused"
ss -p drums -p drums in -o out_twice
assert_rc 2
assert_err 'prompt "drums" is given twice'
assert_absent out_twice

say "a prompt whose outputs another process holds is skipped; the others run"
tone in2/song.wav 0.5 16000
mkdir -p out_lock
python3 - out_lock/.song_music_target.wav.samsep-lock "$T/locked" <<'EOF' &
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o666)
fcntl.lockf(fd, fcntl.LOCK_EX)
open(sys.argv[2], "w").close()
time.sleep(60)
EOF
locker=$!
at_exit "kill $locker 2>/dev/null || true"
wait_for_file "$T" locked "$locker" || fail "the lock was not taken"
ss -p drums -p music in2 -o out_lock
assert_rc 0
assert_pair out_lock song_drums wav 8000
assert_no_pair out_lock song_music wav
kill "$locker"
wait "$locker" 2>/dev/null || true
ss -p drums -p music in2 -o out_lock
assert_rc 0
assert_pair out_lock song_music wav 8000

say "the runaway guard counts (file, prompt) pairs"
ss -p drums -p music -p hum --max-files 5 in -o out_guard
assert_rc 2
assert_err 'refusing to process 6 \(file, prompt\) pairs'
assert_absent out_guard
ss -p drums -p music -p hum --max-files 6 in -o out_guard
assert_rc 0

say "outputs are never inputs: a run over the output folder skips them all"
ss --dry-run -p drums -p music out -o out_again
assert_rc 0
assert_out '^0 to process'
assert_no_out '^process'

say "\"prompts\" in the config file; \"prompt\" and \"prompts\" together are refused"
printf '{"prompts": ["drums", "speech"]}\n' >cfg.json
ss --config cfg.json in/talk.flac -o out_cfg
assert_rc 0
assert_pair out_cfg talk_drums flac 8000
assert_pair out_cfg talk_speech flac 8000
printf '{"prompt": "drums", "prompts": ["drums", "speech"]}\n' >bad.json
ss --config bad.json in/talk.flac -o out_bad
assert_rc 2
assert_err 'bad\.json: keys "prompt" and "prompts" both set'
ss --config cfg.json -p hum in/talk.flac -o out_flag
assert_rc 0
assert_pair out_flag talk flac 8000
assert_eq "$(count_files out_flag '*')" 2 "files in out_flag (-p beats the config)"

say "one -p: names as before"
ss -p drums in/talk.flac -o out_one
assert_rc 0
assert_pair out_one talk flac 8000
assert_eq "$(count_files out_one '*')" 2 "files in out_one"

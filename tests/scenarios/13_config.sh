#!/usr/bin/env bash
# The config file ($XDG_CONFIG_HOME/samsep/config.json, or --config FILE):
# its keys set defaults that flags override; a bad file (invalid JSON, an
# unknown key, a wrong type, a value out of the matching flag's range) is
# exit 2 with a message naming the file, the key and the value, and nothing
# written.
. "$(dirname "$0")/lib.sh"

CFG=$XDG_CONFIG_HOME/samsep/config.json
mkdir -p "$(dirname "$CFG")"
tone in/a.wav 0.5 16000
tone in/sub/b.wav 0.3 16000
tone in/y_clean.wav 0.3 16000

bad_config() { # WHAT JSON KEY-REGEX [VALUE-REGEX]
    say "bad config: $1"
    printf '%s\n' "$2" >"$CFG"
    ss in -o out
    assert_rc 2
    assert_absent out
    assert_eq "$(wc -c <"$OUT")" 0 "bytes on stdout"
    assert_err "config\.json"
    [ -z "$3" ] || assert_err "$3"
    [ -z "${4:-}" ] || assert_err "$4"
    sed 's/^/   /' "$ERR"
}
bad_config "unknown key" '{"prompt": "speech", "promtp": "noise"}' 'promtp'
bad_config "wrong type (string for a number)" '{"max_files": "lots"}' 'max_files'
bad_config "wrong type (number for a string)" '{"prompt": 5}' 'prompt'
bad_config "wrong type (string for a list)" '{"skip_suffixes": "_clean"}' 'skip_suffixes'
bad_config "wrong type (list of numbers)" '{"skip_suffixes": [1, 2]}' 'skip_suffixes'
bad_config "wrong type (string for a boolean)" '{"recursive": "yes"}' 'recursive'
bad_config "invalid JSON" '{"prompt": "speech",' ''
bad_config "not an object" '["prompt"]' ''

# Every key with a value of the wrong type: the message says which type it is.
while IFS='|' read -r json key value; do
    bad_config "wrong type: $json" "$json" "key \"$key\" must be" "not $value"
done <<'EOF'
{"threads": "4"}|threads|a string \("4"\)
{"threads": true}|threads|a boolean \(true\)
{"threads": null}|threads|null
{"max_files": [100]}|max_files|an array
{"chunk": "10"}|chunk|a string \("10"\)
{"chunk": {}}|chunk|an object
{"overlap": false}|overlap|a boolean \(false\)
{"format": 1}|format|a number \(1\)
{"subtype": null}|subtype|null
{"recursive": 1}|recursive|a number \(1\)
{"prompt": ["speech"]}|prompt|an array
{"engine": 3}|engine|a number \(3\)
{"model": true}|model|a boolean \(true\)
{"output": 5}|output|a number \(5\)
{"log_dir": null}|log_dir|null
{"skip_suffixes": {"a": "_x"}}|skip_suffixes|an object
{"last": "x"}|last|a string \("x"\)
{"last": {"input": 3}}|last\.input|a number \(3\)
EOF

# Every numeric or enumerated key with a value out of range: the same ranges
# as the flags (tests/test_cli.c), refused before anything is done.
while IFS='|' read -r json key value; do
    bad_config "out of range: $json" "$json" "key \"$key\" must be" "not $value\$"
done <<'EOF'
{"threads": 1.5}|threads|1\.5
{"threads": -1}|threads|-1
{"threads": 1025}|threads|1025
{"max_files": 2.5}|max_files|2\.5
{"max_files": -3}|max_files|-3
{"max_files": 1e10}|max_files|10000000000
{"chunk": 1e12}|chunk|1000000000000
{"chunk": 3601}|chunk|3601
{"chunk": 0}|chunk|0
{"chunk": -5}|chunk|-5
{"chunk": 1e400}|chunk|inf
{"overlap": -1}|overlap|-1
{"overlap": 1e9}|overlap|1000000000
{"format": "mp3"}|format|"mp3"
{"format": "WAV"}|format|"WAV"
{"subtype": "pcm8"}|subtype|"pcm8"
EOF
bad_config "an empty skip suffix" '{"skip_suffixes": ["_a", ""]}' \
    'key "skip_suffixes" must be an array of non-empty strings' 'a string \(""\)'
bad_config "overlap as long as the chunk" '{"chunk": 5, "overlap": 5}' \
    '"overlap" \(5 s\) must be shorter than "chunk" \(5 s\)'
bad_config "overlap as long as the default chunk" '{"overlap": 30}' \
    '"overlap" \(30 s\) must be shorter than the default chunk \(30 s\)'

say "a flag's overlap against the config's chunk names both"
echo '{"chunk": 5}' >"$CFG"
ss --overlap 8 in -o out
assert_rc 2
assert_absent out
assert_err '--overlap \(8 s\) must be shorter than "chunk" \(5 s\)'
assert_err 'config\.json'

say "the edges of the ranges are accepted"
echo '{"chunk": 3600, "overlap": 3599.999, "threads": 1024, "max_files": 0}' >"$CFG"
ss --dry-run --yes in -o out
assert_rc 0
echo '{"chunk": 0.001, "overlap": 0, "threads": 4.0, "max_files": 1000000000}' >"$CFG"
ss --dry-run in -o out
assert_rc 0

say "a bad file given with --config is named too"
echo '{"chunk": "long"}' >"$T/other.json"
echo '{}' >"$CFG"
ss --config "$T/other.json" in -o out
assert_rc 2
assert_absent out
assert_err 'other\.json'
assert_err 'chunk'

say "a missing --config file is an error"
ss --config "$T/missing.json" in -o out
assert_rc 2
assert_absent out

say "an empty object is fine"
echo '{}' >"$CFG"
ss --dry-run in -o out
assert_rc 0

say "config: output, recursive, format, skip_suffixes are used"
cat >"$CFG" <<EOF
{"output": "$T/cfg_out", "recursive": true, "format": "flac", "skip_suffixes": ["_clean"],
 "prompt": "speech", "engine": "dsp", "max_files": 100}
EOF
ss in
assert_rc 0
assert_pair cfg_out a flac 8000
assert_pair cfg_out/sub b flac 4800
assert_no_pair cfg_out y_clean flac
assert_eq "$(count_files cfg_out '*')" 4 "files in cfg_out"

say "flags override the config: -o, --format"
ss --format wav in -o flag_out
assert_rc 0
assert_pair flag_out a wav 8000
assert_no_pair flag_out a flac
assert_pair flag_out/sub b wav 4800
assert_eq "$(count_files cfg_out '*')" 4 "files in cfg_out (untouched)"

say "the prompt from the config is a setting of the outputs; -p overrides it"
echo '{"prompt": "noise", "output": "'"$T"'/p_out"}' >"$CFG"
ss in/a.wav
assert_rc 0
assert_pair p_out a wav 8000
ino=$(inode p_out/a_target.wav)
ss --dry-run in/a.wav
assert_out '^skip .*a\.wav: done'
ss --dry-run -p speech in/a.wav
assert_out '^process .*a\.wav -> '
ss -p noise in/a.wav
assert_rc 0
assert_eq "$(inode p_out/a_target.wav)" "$ino" "inode of the output (same prompt: not redone)"

say "max_files from the config, overridden by --max-files"
echo '{"max_files": 2}' >"$CFG"
ss -r in -o mf_out
assert_rc 2
assert_absent mf_out
ss --max-files 3 -r in -o mf_out
assert_rc 0
assert_eq "$(count_files mf_out '*_target.wav')" 3 "targets in mf_out"

say "log_dir from the config"
echo '{"log_dir": "'"$T"'/cfg_logs"}' >"$CFG"
ss in/a.wav -o log_out
assert_rc 0
assert_eq "$(find "$T/cfg_logs" -name 'samsep-*.log' | wc -l)" 1 "logs in cfg_logs"

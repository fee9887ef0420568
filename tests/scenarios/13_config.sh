#!/usr/bin/env bash
# The config file ($XDG_CONFIG_HOME/samsep/config.json, or --config FILE):
# its keys set defaults that flags override; a bad file (invalid JSON, an
# unknown key, a wrong type) is exit 2 with a message naming the file and the
# key, and nothing written.
. "$(dirname "$0")/lib.sh"

CFG=$XDG_CONFIG_HOME/samsep/config.json
mkdir -p "$(dirname "$CFG")"
tone in/a.wav 0.5 16000
tone in/sub/b.wav 0.3 16000
tone in/y_clean.wav 0.3 16000

bad_config() { # WHAT JSON KEY-REGEX
    say "bad config: $1"
    printf '%s\n' "$2" >"$CFG"
    ss in -o out
    assert_rc 2
    assert_absent out
    assert_err "config\.json"
    [ -z "$3" ] || assert_err "$3"
}
bad_config "unknown key" '{"prompt": "speech", "promtp": "noise"}' 'promtp'
bad_config "wrong type (string for a number)" '{"max_files": "lots"}' 'max_files'
bad_config "wrong type (number for a string)" '{"prompt": 5}' 'prompt'
bad_config "wrong type (string for a list)" '{"skip_suffixes": "_clean"}' 'skip_suffixes'
bad_config "wrong type (list of numbers)" '{"skip_suffixes": [1, 2]}' 'skip_suffixes'
bad_config "wrong type (string for a boolean)" '{"recursive": "yes"}' 'recursive'
bad_config "invalid JSON" '{"prompt": "speech",' ''
bad_config "not an object" '["prompt"]' ''

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

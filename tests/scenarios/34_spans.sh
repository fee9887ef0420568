#!/usr/bin/env bash
# Span prompts (--span, "spans" in the config) are refused before anything
# is written wherever they cannot be honoured: a malformed or empty span
# (the message names --span and says what a span looks like), an engine
# that takes none (dsp, exec: the message names the engines that do), a
# span that starts after the end of a file named on the command line, and
# bad spans in the config file (naming the file and the key). That the
# spans reach the model, chunk by chunk, is tested on the reference model
# (tests/test_model_spans_cli.c).
. "$(dirname "$0")/lib.sh"

tone in/a.wav 2.0 16000
SAM=(-e sam-audio --model "$T/no-model" -p "dog barking")

say "malformed and empty spans: usage errors naming --span"
for bad in 1:2 +2:1 +1:1 +a:b +1 "+1:2 " +-1:2; do
    ss "${SAM[@]}" --span "$bad" in/a.wav -o out
    assert_rc 2
    assert_err '^samsep: --span: span '
done
assert_absent out

say "an engine that takes no spans: refused, naming those that do"
ss --span +0.5:1 in/a.wav -o out
assert_rc 2
assert_err 'engine "dsp" takes no span prompts; the engines that do: sam-audio'
ss -e exec --worker true --span -0.5:1 in/a.wav -o out
assert_rc 2
assert_err 'engine "exec" takes no span prompts'
assert_absent out

say "a span that starts after the end of a named file: refused, naming it"
ss "${SAM[@]}" --span +0.5:1 --span -2.5:3 in/a.wav -o out
assert_rc 2
assert_err 'span -2.5:3 starts after the end of in/a\.wav \(2\.000 s long\)'
assert_absent out

say "the config's spans: read, and checked like the flag's"
mkdir -p "$XDG_CONFIG_HOME/samsep"
echo '{"spans": ["+0.5:1", "-1.2:1.5"]}' >"$XDG_CONFIG_HOME/samsep/config.json"
ss in/a.wav -o out
assert_rc 2
assert_err 'engine "dsp" takes no span prompts'
echo '{"spans": ["+0.5:1", "-1.5:1.2"]}' >"$XDG_CONFIG_HOME/samsep/config.json"
ss in/a.wav -o out
assert_rc 2
assert_err 'config\.json: key "spans": span .-1\.5:1\.2. is empty'
echo '{"spans": "+0.5:1"}' >"$XDG_CONFIG_HOME/samsep/config.json"
ss in/a.wav -o out
assert_rc 2
assert_err 'key "spans" must be an array'
assert_absent out

say "without spans, dsp runs as before"
rm "$XDG_CONFIG_HOME/samsep/config.json"
ss in/a.wav -o out
assert_rc 0
assert_pair out a wav 32000

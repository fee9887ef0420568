#!/usr/bin/env bash
# An engine's settings are checked without loading its model: a dry run and
# the interactive questions look at the sam-audio model folder (config.json
# understood, checkpoint and T5 files present) and never read the weights,
# which can be gigabytes. The proof: a model folder whose checkpoint is
# present but is not a checkpoint at all still dry-runs, with the plan; the
# real run, which loads it, is refused naming the file. A folder the check
# can fault without loading (no checkpoint, a config this code cannot run)
# is refused by the dry run too, as the run would be.
. "$(dirname "$0")/lib.sh"

tone in/a.wav 0.5 16000
tone in/b.wav 0.3 16000

# A model folder laid out like the official download, weights unreadable.
mkdir -p model/t5
cat >model/config.json <<'EOF'
{"in_channels": 768, "num_anchors": 3, "anchor_embedding_dim": 128,
 "transformer": {"dim": 1024, "n_heads": 8, "n_layers": 12, "context_dim": 1024,
                 "out_channels": 256},
 "audio_codec": {"codebook_dim": 128, "sample_rate": 48000},
 "text_encoder": {"dim": 768}, "vision_encoder": {"dim": 1024}}
EOF
cat >model/t5/config.json <<'EOF'
{"model_type": "t5", "d_model": 768, "d_kv": 64, "num_heads": 12, "d_ff": 3072,
 "num_layers": 12, "feed_forward_proj": "relu"}
EOF
printf 'not a checkpoint\n' >model/checkpoint.pt
printf 'not weights\n' >model/t5/model.safetensors
printf 'not a tokenizer\n' >model/t5/spiece.model
SAM=(-e sam-audio --model "$T/model" -p "dog barking")

say "a dry run checks the folder and prints the plan; the checkpoint is never read"
ss --dry-run "${SAM[@]}" in -o out
assert_rc 0
assert_out '^process .*in/a\.wav -> .*out/a_target\.wav$'
assert_out '^process .*in/b\.wav -> '
assert_absent out

say "the real run loads the checkpoint: refused, naming it, nothing written"
ss "${SAM[@]}" in -o out
assert_rc 2
assert_err 'checkpoint\.pt'
assert_absent out

say "nothing left to do: the model is not even loaded"
mkdir -p done_in done_out
tone done_in/c_target.wav 0.3 16000
ss "${SAM[@]}" done_in -o done_out
assert_rc 0
assert_no_grep "$ERR" 'checkpoint' "stderr"

say "what the check can see is refused by the dry run as by the run"
mv model/checkpoint.pt model/checkpoint.hidden
ss --dry-run "${SAM[@]}" in -o out
assert_rc 2
assert_err 'no checkpoint\.pt'
mv model/checkpoint.hidden model/checkpoint.pt
cp model/config.json config.good
python3 - model/config.json <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
c["transformer"]["no_cross_attention"] = True
json.dump(c, open(sys.argv[1], "w"))
EOF
ss --dry-run "${SAM[@]}" in -o out
assert_rc 2
assert_err 'config\.json.*no_cross_attention'
cp config.good model/config.json
mv model/t5/spiece.model model/t5/spiece.hidden
ss --dry-run "${SAM[@]}" in -o out
assert_rc 2
assert_err 'neither tokenizer\.json nor spiece\.model'
mv model/t5/spiece.hidden model/t5/spiece.model
ss --dry-run -e sam-audio --model "$T/model" -p "  " in -o out
assert_rc 2
assert_err 'needs a prompt'
assert_absent out

need_pty
say "interactive mode checks the engine answer without loading the model"
pty --timeout 60 \
    --expect "Input folder" --answer "$T/in" \
    --expect "Output folder" --answer "$T/out" \
    --expect "Prompt" --answer "dog barking" \
    --expect "Engine" --answer "sam-audio" \
    --expect "Proceed? [y/N]" --answer "n" \
    -- "$SAMSEP_BIN" -i --model "$T/model"
case $RC in 124 | 125 | 126) fail "pty-run: the dialogue did not go as expected" ;; esac
assert_out 'Plan: 2 to process'
assert_no_grep "$OUT" 'checkpoint' "the dialogue"
assert_absent out

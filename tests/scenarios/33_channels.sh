#!/usr/bin/env bash
# --channels keep|mono: an engine that works in mono (here exec workers that
# ask for mono chunks) on a stereo file. By default the outputs have the
# file's channels: a tone panned left and noise panned right, the worker
# isolating the tone from the mono downmix, give a target that keeps the
# tone on the left and next to nothing on the right, and target + residual
# is the mixture channel by channel; a gain worker's target is the gain
# times each channel. --channels mono gives mono outputs of the downmix.
# The config key, the flag beating it, refusals of bad values, resume
# telling the two apart, an engine that takes any channels (dsp) keeping
# them whatever the option says, and a mono input staying mono.
. "$(dirname "$0")/lib.sh"
need_numpy

mkdir -p in
sox -q -n -r 48000 -c 1 -b 16 "$T/left.wav" synth 3 sine 440 vol 0.5
sox -R -q -n -r 48000 -c 1 -b 16 "$T/right.wav" synth 3 whitenoise vol 0.3
sox -q -M "$T/left.wav" "$T/right.wav" in/pan.wav
n=$(frames in/pan.wav)
GATE="$PY $SRC_DIR/examples/spectral_gate_worker.py --mono --rate 16000 --threshold 4 --chunk 1 --overlap 0.25"

say "a mono worker isolating the left tone, default --channels keep: the target keeps its pan"
ss -e exec --worker "$GATE" --subtype float in/pan.wav -o out1
assert_rc 0
assert_pair out1 pan wav "$n"
assert_eq "$(soxi -V1 -c out1/pan_target.wav) $(soxi -V1 -r out1/pan_target.wav)" "2 48000" \
    "channels and rate of the target"
assert_eq "$(soxi -V1 -c out1/pan_residual.wav)" 2 "channels of the residual"
numpy_check '
x, t, r = (np.fromfile(f, "<f4").reshape(-1, 2).astype(np.float64) for f in sys.argv[1:])
e = np.abs(t + r - x).max()
db = lambda a, b: 10 * np.log10(np.sum(a * a) / np.sum(b * b))
pan = db(t[:, 0], t[:, 1])             # the target: left over right
kept = db(x[:, 0], t[:, 0] - x[:, 0])  # the left tone against what the target missed of it
noise = db(x[:, 1], r[:, 1] - x[:, 1]) # the right noise against what the residual missed of it
print(f"   |t + r - x| <= {e:.2e}; target left/right {pan:.1f} dB; "
      f"left tone kept to {kept:.1f} dB; right noise in the residual to {noise:.1f} dB")
sys.exit(0 if e < 1e-5 and pan > 20 and kept > 15 and noise > 15 else 1)' \
    "$(f32 in/pan.wav)" "$(f32 out1/pan_target.wav)" "$(f32 out1/pan_residual.wav)" ||
    fail "the stereo target does not keep the tone on its side"

say "--channels mono: mono outputs of the downmix, target + residual = the downmix"
ss -e exec --worker "$GATE --no-residual" --subtype float --channels mono in/pan.wav -o out2
assert_rc 0
assert_pair out2 pan wav "$n"
assert_eq "$(soxi -V1 -c out2/pan_target.wav)" 1 "channels of the target"
numpy_check '
x, t, r = (np.fromfile(f, "<f4") for f in sys.argv[1:])
m = (x[0::2] + x[1::2]) * np.float32(0.5)
e = np.abs(t + r - m).max()
print(f"   |t + r - downmix| <= {e:.2e}")
sys.exit(0 if e < 1e-5 else 1)' \
    "$(f32 in/pan.wav)" "$(f32 out2/pan_target.wav)" "$(f32 out2/pan_residual.wav)" ||
    fail "the mono outputs are not a split of the downmix"

say "a mono gain worker (0.5, its own residual): each channel's target is half that channel"
ss -e exec --worker "$GAIN_WORKER --mono --gain 0.5 --residual --chunk 0.5 --overlap 0.1" \
    --subtype float in/pan.wav -o out3
assert_rc 0
assert_pair out3 pan wav "$n"
numpy_check '
x, t, r = (np.fromfile(f, "<f4") for f in sys.argv[1:])
e1, e2 = np.abs(t - 0.5 * x).max(), np.abs(t + r - x).max()
print(f"   |t - x/2| <= {e1:.2e}, |t + r - x| <= {e2:.2e}")
sys.exit(0 if len(t) == len(x) and e1 < 1e-5 and e2 < 1e-6 else 1)' \
    "$(f32 in/pan.wav)" "$(f32 out3/pan_target.wav)" "$(f32 out3/pan_residual.wav)" ||
    fail "the gain worker's stereo target is not half of each channel"

say "resume: the other --channels redoes the input, the same one skips it"
ss --json -e exec --worker "$GATE" --subtype float in/pan.wav -o out1
assert_rc 0
assert_eq "$(json_query "$OUT" 'sum(1 for e in ev if e["event"]=="done")')" 0 "inputs redone"
ss --json -e exec --worker "$GATE" --subtype float --channels mono in/pan.wav -o out1
assert_rc 0
assert_eq "$(json_query "$OUT" 'sum(1 for e in ev if e["event"]=="done")')" 1 \
    "inputs redone with --channels mono"
assert_eq "$(soxi -V1 -c out1/pan_target.wav)" 1 "channels of the redone target"

say "the config key, and the flag beating it"
mkdir -p "$XDG_CONFIG_HOME/samsep"
printf '{"channels": "mono"}\n' >"$XDG_CONFIG_HOME/samsep/config.json"
ss -e exec --worker "$GAIN_WORKER --mono" in/pan.wav -o out4
assert_rc 0
assert_eq "$(soxi -V1 -c out4/pan_target.wav)" 1 "channels with the config's mono"
ss -e exec --worker "$GAIN_WORKER --mono" --channels keep in/pan.wav -o out5
assert_rc 0
assert_eq "$(soxi -V1 -c out5/pan_target.wav)" 2 "channels with --channels keep over the config"
printf '{"channels": "stereo"}\n' >"$XDG_CONFIG_HOME/samsep/config.json"
ss -e exec --worker "$GAIN_WORKER --mono" in/pan.wav -o out6
assert_rc 2
assert_err 'channels'
assert_err 'stereo'
assert_absent out6
printf '{"channels": 2}\n' >"$XDG_CONFIG_HOME/samsep/config.json"
ss -e exec --worker "$GAIN_WORKER --mono" in/pan.wav -o out6
assert_rc 2
assert_err 'key "channels"'
assert_absent out6
rm "$XDG_CONFIG_HOME/samsep/config.json"

say "a bad --channels is refused before anything is written"
ss -e exec --worker "$GAIN_WORKER --mono" --channels both in/pan.wav -o out7
assert_rc 2
assert_err '--channels.*keep.*mono'
assert_err 'both'
assert_absent out7

say "an engine that takes any channels (dsp) keeps them, whatever --channels says"
ss --channels mono in/pan.wav -o out8
assert_rc 0
assert_eq "$(soxi -V1 -c out8/pan_target.wav)" 2 "channels of dsp's target"

say "a mono input stays mono"
sox -q "$T/left.wav" in/mono.wav
ss -e exec --worker "$GAIN_WORKER --mono" in/mono.wav -o out9
assert_rc 0
assert_pair out9 mono wav "$(frames in/mono.wav)"
assert_eq "$(soxi -V1 -c out9/mono_target.wav)" 1 "channels of a mono input's target"

#!/usr/bin/env bash
# The exec engine with the example workers, end to end: the C gain worker
# and the numpy spectral gate give outputs of the input's rate, length and
# channels (or mono, when the worker asks for it and --channels mono for
# mono outputs; tests/scenarios/33_channels.sh has the default, keep); target + residual is the
# mixture where the worker promises it; the rate and channels a worker asks
# for are what it receives; each chunk's start frame is its place in the
# file; the worker's stderr reaches the run log (and the terminal with -v);
# `worker` in the config file; resume knows the worker's command; the
# SAM-Audio worker compiles and, without its package, is refused before
# anything is written.
. "$(dirname "$0")/lib.sh"
need_numpy

mkdir -p in
sox -q -n -r 44100 -c 2 -b 16 in/st.wav synth 3.3 sine 440 synth 3.3 pinknoise mix vol 0.5
sox -q -n -r 44100 -c 2 -b 16 in/tones.wav synth 3.3 sine 300 sine 1000 vol 0.4
sox -q -n -r 22050 -c 1 -b 16 in/pos.wav synth 5.3 sine 200 vol 0.5

say "--list-engines shows exec"
ss --list-engines
assert_rc 0
assert_out '^exec .*--worker'

say "C worker, gain 0.5 with its residual: stereo 44.1 kHz in, out; t = x/2, t + r = x"
ss -e exec --worker "$GAIN_WORKER --gain 0.5 --residual --chunk 1 --overlap 0.25" \
    --subtype float in/st.wav -o out1
assert_rc 0
assert_pair out1 st wav "$(frames in/st.wav)"
assert_eq "$(soxi -V1 -c out1/st_target.wav) $(soxi -V1 -r out1/st_target.wav)" "2 44100" \
    "channels and rate of the target"
numpy_check '
x, t, r = (np.fromfile(f, "<f4") for f in sys.argv[1:])
e1, e2 = np.abs(t - 0.5 * x).max(), np.abs(t + r - x).max()
print(f"   |t - x/2| <= {e1:.2e}, |t + r - x| <= {e2:.2e}")
sys.exit(0 if len(t) == len(x) and e1 < 1e-6 and e2 < 1e-6 else 1)' \
    "$(f32 in/st.wav)" "$(f32 out1/st_target.wav)" "$(f32 out1/st_residual.wav)" ||
    fail "the gain worker's outputs are not x/2 and x/2"

say "C worker asking for 16 kHz mono: mono 44.1 kHz outputs of the input's length, t + r = mix"
ss -e exec --worker "$GAIN_WORKER --gain 0.5 --rate 16000 --mono" --subtype float \
    --channels mono in/tones.wav -o out2
assert_rc 0
assert_pair out2 tones wav "$(frames in/tones.wav)"
assert_eq "$(soxi -V1 -c out2/tones_target.wav) $(soxi -V1 -r out2/tones_target.wav)" "1 44100" \
    "channels and rate of the target"
numpy_check '
x, t, r = (np.fromfile(f, "<f4") for f in sys.argv[1:])
m = (x[0::2] + x[1::2]) * np.float32(0.5)       # the mono mix, as samsep makes it
e_sum = np.abs(t + r - m).max()
mid = slice(len(m) // 10, -len(m) // 10)        # away from the resampler edges
e_t = np.abs(t[mid] - 0.5 * m[mid]).max()
print(f"   |t + r - mix| <= {e_sum:.2e}, |t - mix/2| <= {e_t:.2e} (through 16 kHz)")
sys.exit(0 if e_sum < 1e-4 and e_t < 5e-3 else 1)' \
    "$(f32 in/tones.wav)" "$(f32 out2/tones_target.wav)" "$(f32 out2/tones_residual.wav)" ||
    fail "16 kHz mono through the worker: outputs do not match the mixture"

say "numpy spectral gate at the file's rate: t + r = x, stereo kept"
ss -e exec --worker "$PY $SRC_DIR/examples/spectral_gate_worker.py --chunk 1 --overlap 0.2" \
    --subtype float in/st.wav -o out3
assert_rc 0
assert_pair out3 st wav "$(frames in/st.wav)"
assert_eq "$(soxi -V1 -c out3/st_target.wav)" 2 "channels of the target"
numpy_check '
x, t, r = (np.fromfile(f, "<f4") for f in sys.argv[1:])
e = np.abs(t + r - x).max()
share = np.sum(t * t) / np.sum(x * x)
print(f"   |t + r - x| <= {e:.2e}; target holds {100 * share:.0f}% of the energy")
sys.exit(0 if e < 1e-5 and 0.05 < share < 0.999 else 1)' \
    "$(f32 in/st.wav)" "$(f32 out3/st_target.wav)" "$(f32 out3/st_residual.wav)" ||
    fail "the spectral gate's target + residual is not the mixture"

say "numpy spectral gate asking for 16 kHz mono (it refuses any other chunk)"
ss -e exec --worker "$PY $SRC_DIR/examples/spectral_gate_worker.py --rate 16000 --mono" \
    --channels mono in/st.wav -o out4
assert_rc 0
assert_pair out4 st wav "$(frames in/st.wav)"
assert_eq "$(soxi -V1 -c out4/st_target.wav) $(soxi -V1 -r out4/st_target.wav)" "1 44100" \
    "channels and rate of the target"

say "start frames: a worker that returns each frame's position in the file"
ss -e exec --worker "$PY $FAULT_WORKER --mode position --chunk-seconds 1 --overlap-seconds 0.3" \
    --subtype float --json in/pos.wav -o out5
assert_rc 0
numpy_check '
t = np.fromfile(sys.argv[1], "<f4")
want = (np.arange(len(t)) % 65536 / 65536.0).astype(np.float32)
e = np.abs(t - want).max()
print(f"   {len(t)} frames, |target - position| <= {e:.2e}")
sys.exit(0 if len(t) == 116865 and e < 1e-6 else 1)' "$(f32 out5/pos_target.wav)" ||
    fail "the target is not each frame's position: wrong start frames"
assert_eq "$(json_query "$OUT" '[e for e in ev if e["event"]=="done"][0]["frames"]')" 116865 \
    "frames of pos.wav"

say "the worker's stderr: in the run log always, on the terminal only with -v"
ss -e exec --worker "$GAIN_WORKER" in/pos.wav -o out6 --log-dir "$T/logs"
assert_rc 0
assert_no_grep "$ERR" 'exec-gain-worker: gain' "stderr without -v"
log=$(ls "$T"/logs/*.log | head -1)
assert_grep "$log" 'info: worker [0-9]+: exec-gain-worker: gain 1, settings \{"protocol":1' "the run log"
assert_grep "$log" '^worker: .*exec-gain-worker' "the run log's header"
ss -v -e exec --worker "$GAIN_WORKER" --overwrite in/pos.wav -o out6 --log-dir "$T/logs"
assert_rc 0
assert_err 'worker [0-9]+: exec-gain-worker: gain 1'

say "resume: the same worker skips the done input, another worker command redoes it"
ss --json -e exec --worker "$GAIN_WORKER" in/pos.wav -o out6
assert_rc 0
assert_eq "$(json_query "$OUT" 'sum(1 for e in ev if e["event"]=="done")')" 0 "inputs redone"
ss --json -e exec --worker "$GAIN_WORKER --gain 0.9" in/pos.wav -o out6
assert_rc 0
assert_eq "$(json_query "$OUT" 'sum(1 for e in ev if e["event"]=="done")')" 1 \
    "inputs redone with another worker"

say "worker and timeouts from the config file"
mkdir -p "$XDG_CONFIG_HOME/samsep"
printf '{"engine": "exec", "worker": "%s --gain 0.25", "worker_timeout": 30,\n "worker_start_timeout": 30}\n' \
    "$GAIN_WORKER" >"$XDG_CONFIG_HOME/samsep/config.json"
ss --subtype float in/pos.wav -o out7
assert_rc 0
numpy_check '
x, t = (np.fromfile(f, "<f4") for f in sys.argv[1:])
sys.exit(0 if np.abs(t - 0.25 * x).max() < 1e-6 else 1)' \
    "$(f32 in/pos.wav)" "$(f32 out7/pos_target.wav)" || fail "the config's worker was not used"
printf '{"worker": 3}\n' >"$XDG_CONFIG_HOME/samsep/config.json"
ss -e exec in/pos.wav -o out8
assert_rc 2
assert_err 'key "worker" must be a string'
printf '{"worker_start_timeout": 0}\n' >"$XDG_CONFIG_HOME/samsep/config.json"
ss -e exec --worker "$GAIN_WORKER" in/pos.wav -o out8
assert_rc 2
assert_err 'worker_start_timeout'
assert_absent out8
rm "$XDG_CONFIG_HOME/samsep/config.json"

say "usage errors: exec without a worker, a worker without exec, a bad timeout"
ss -e exec in/pos.wav -o out9
assert_rc 2
assert_err 'needs --worker'
ss --worker "$GAIN_WORKER" in/pos.wav -o out9
assert_rc 2
assert_err '--worker is for the exec engine'
ss -e exec --worker "$GAIN_WORKER" --worker-timeout 0 in/pos.wav -o out9
assert_rc 2
assert_err 'worker-timeout wants a number of seconds from 0.001 to 604800, not "0"'
assert_absent out9

say "the SAM-Audio worker: it compiles, --help needs no torch, and without sam_audio it is refused"
for f in workers/sam_audio_worker.py workers/samsep_protocol.py examples/spectral_gate_worker.py; do
    "$PY" -c 'import py_compile, sys; py_compile.compile(sys.argv[1], cfile=sys.argv[2], doraise=True)' \
        "$SRC_DIR/$f" "$T/compiled.pyc" || fail "$f does not compile"
done
"$PY" "$SRC_DIR/workers/sam_audio_worker.py" --help >"$T/help.txt" ||
    fail "sam_audio_worker.py --help failed"
assert_grep "$T/help.txt" 'reranking-candidates' "its --help"
if "$PY" -c 'import sam_audio' 2>/dev/null; then
    echo "   (sam_audio is installed here: the refusal case is not checked)"
else
    ss -e exec --worker "$PY $SRC_DIR/workers/sam_audio_worker.py" -p "dog barking" in -o out10
    assert_rc 2
    assert_err 'cannot start: .*exited with status 1.*cannot import the official sam_audio package'
    assert_absent out10
fi

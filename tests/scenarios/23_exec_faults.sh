#!/usr/bin/env bash
# The exec engine survives its worker. A real worker process misbehaves on
# chunk 1 of the second of three inputs: it SIGKILLs itself, hangs past
# --worker-timeout, writes garbage, answers with a frame one frame short or
# cut in the middle, returns NaN, or reports an error. Each time samsep
# retries the chunk once (on a fresh worker unless the worker reported the
# error itself), then fails that input with the reason and the worker's last
# stderr lines (exit 1), writes none of its outputs, and still does the
# other two; no worker process outlives samsep. A fault that happens only
# once is absorbed by the retry. A worker that cannot start (not found,
# exits or writes garbage during the handshake, too slow, another protocol
# version, refuses the settings) is a usage error before anything is made.
. "$(dirname "$0")/lib.sh"
need_numpy

mkdir -p in
for n in a b c; do
    tone "in/$n.wav" 2.2 16000
done
FRAMES=35200
# worker: 1 s chunks with 0.25 s overlap, so each input has 3 chunks
W="$PY $FAULT_WORKER --chunk-seconds 1 --overlap-seconds 0.25 --file 1 --chunk 1"

# No worker of this scenario may be left running: each is given the marker
# argument "--tag $T" to be found by.
no_worker_left() {
    local left
    sleep 0.2
    left=$(pgrep -f -- "--tag $T" || true)
    [ -z "$left" ] || fail "worker processes left running: $(ps -o pid,args -p "${left//$'\n'/,}")"
}

# fault KIND REASON-ERE: a persistent fault at file 1, chunk 1.
fault() {
    local kind=$1 why=$2 out=out_$1 t0 t1 limit=600
    say "worker fault '$kind': b.wav fails (retried once), a.wav and c.wav are done"
    [ "$kind" != hang ] || limit=3
    t0=$(date +%s)
    ss -e exec --worker "$W --fault $kind --tag $T" --worker-timeout "$limit" \
        --log-dir "$T/logs_$kind" in -o "$out"
    t1=$(date +%s)
    assert_rc 1
    assert_pair "$out" a wav "$FRAMES"
    assert_pair "$out" c wav "$FRAMES"
    assert_no_pair "$out" b wav
    assert_no_temps "$out"
    assert_err "FAILED in/b\.wav: engine \"exec\" failed on chunk 1: the worker failed twice on this chunk: $why"
    assert_err "its last stderr lines: .*fault worker: $kind at file 1 chunk 1"
    assert_err "warning: worker failed on chunk 1 of file 1: .*retrying it"
    assert_err '1 input\(s\) failed, 2 done'
    assert_grep "$(ls "$T/logs_$kind"/*.log)" "FAILED in/b\.wav: .*$why" "the run log"
    assert_grep "$(ls "$T/logs_$kind"/*.log)" "info: worker [0-9]+: fault worker: $kind at file 1" \
        "the run log (the worker's stderr)"
    echo "   took $((t1 - t0)) s"
    no_worker_left
}

fault kill 'it closed its output \(and (exited with status 137: 128 \+ signal 9|was killed by signal 9)'
fault hang 'it did not answer within 3 s'
fault garbage 'it sent bytes that are not a frame header \(54 72 61 63'
fault short 'its RSLT frame is 64012 bytes long; a result of 16000 frames of 1 channel\(s\) takes 64016'
fault truncate 'it closed its output in the middle of a RSLT frame \(32016 of 64016 payload bytes\) \(and exited with status 3\)'
fault nan 'it returned 1 sample\(s\) that are not finite numbers'
fault error 'it reported: CUDA out of memory \(simulated\)'

say "a worker that stops reading while samsep writes a chunk larger than the pipe: EPIPE, not SIGPIPE"
mkdir -p big
sox -q -n -r 48000 -c 2 -b 16 big/x.wav synth 6 sine 440 vol 0.5
tone big/y.wav 1 16000
ss -e exec --worker "$PY $FAULT_WORKER --chunk-seconds 4 --overlap-seconds 1 --fault stop-reading --tag $T" \
    big -o out_epipe
assert_rc 1
assert_err 'FAILED big/x\.wav: .*failed twice on this chunk: it stopped reading its input \(and exited with status 5\)'
assert_pair out_epipe y wav 16000
assert_no_pair out_epipe x wav
no_worker_left

say "a worker killed once: the retry on a fresh worker succeeds and every input is done"
ss -e exec --worker "$W --fault kill --once $T/fired --tag $T" --subtype float in -o out_once
assert_rc 0
assert_pair out_once b wav "$FRAMES"
assert_err 'warning: worker failed on chunk 1 of file 1: it closed its output'
[ -e "$T/fired" ] || fail "the fault did not fire"
numpy_check '
x, t = (np.fromfile(f, "<f4") for f in sys.argv[1:])
sys.exit(0 if len(t) == len(x) and np.abs(t - x).max() < 1e-6 else 1)' \
    "$(f32 in/b.wav)" "$(f32 out_once/b_target.wav)" || fail "b.wav's target is not its input"
no_worker_left

# refused WHY ARGS...: exit 2, nothing created, the reason on stderr.
start_refused() {
    local why=$1
    shift
    ss -e exec "$@" in -o out_refused --log-dir "$T/logs_refused"
    assert_rc 2
    assert_absent out_refused "$T/logs_refused"
    assert_err "$why"
    no_worker_left
}

say "workers that cannot start: usage errors (exit 2) before anything is written"
start_refused 'cannot start: it closed its output \(and exited with status 127: command not found\); its last stderr lines: .*no-such-worker.*not found' \
    --worker "no-such-worker --tag $T"
start_refused 'cannot start: it closed its output \(and exited with status 4\); its last stderr lines: .*exiting during the handshake' \
    --worker "$W --fault exit-handshake --tag $T"
start_refused 'cannot start: it sent bytes that are not a frame header \(4c 6f 61 64' \
    --worker "$W --fault garbage-handshake --tag $T"
start_refused 'cannot start: it did not answer within 1 s' \
    --worker "$W --fault hang-handshake --tag $T" --worker-start-timeout 1
start_refused 'cannot start: it speaks protocol version 99; this samsep speaks version 1' \
    --worker "$W --fault version --tag $T"
start_refused 'cannot start: it refused the settings: no such model: imaginary-large' \
    --worker "$W --fault refuse --tag $T"

# The signal cases: samsep with the stop signals at their defaults, and job
# control, without which bash starts background jobs with SIGINT ignored
# (as 16_interrupt.sh does).
if env --default-signal=INT true 2>/dev/null; then
    printf '#!/bin/sh\nexec env --default-signal=HUP,INT,TERM "%s" "$@"\n' \
        "$SAMSEP_BIN" >"$T/samsep-dfl"
    chmod +x "$T/samsep-dfl"
    SAMSEP_BIN=$T/samsep-dfl
fi
set -m

say "Ctrl-C while the worker hangs (no short --worker-timeout): samsep stops at once, exit 130"
ss_bg "$T/int" -e exec --worker "$W --fault hang --file 0 --once $T/hung --tag $T" in -o out_int
pid=$BG_PID
for _ in $(seq 1 300); do
    [ -e "$T/hung" ] || sleep 0.1
done
[ -e "$T/hung" ] || fail "the worker never reached its hang"
sleep 0.3
t0=$(date +%s)
kill -INT "$pid"
bg_wait "$pid"
t1=$(date +%s)
assert_eq "$RC" 130 "exit status after Ctrl-C"
[ $((t1 - t0)) -le 3 ] || fail "samsep took $((t1 - t0)) s to stop after Ctrl-C"
assert_grep "$T/int.err" 'interrupted; 0 file\(s\) done' "stderr"
assert_no_pair out_int a wav
assert_no_temps out_int
no_worker_left

say "a worker that stays after its input ends, deaf to SIGTERM: killed after the grace period"
t0=$(date +%s)
ss -e exec --worker "$W --fault linger --tag $T" -v in/a.wav -o out_linger
t1=$(date +%s)
assert_rc 0
assert_pair out_linger a wav "$FRAMES"
echo "   took $((t1 - t0)) s"
[ $((t1 - t0)) -le 20 ] || fail "samsep took $((t1 - t0)) s to end a lingering worker"
no_worker_left

say "SIGTERM twice while samsep waits for that worker to end: both end at once"
ss_bg "$T/term" -e exec --worker "$W --fault linger --tag $T" in/a.wav -o out_term
pid=$BG_PID
for _ in $(seq 1 300); do
    [ -e out_term/a_target.wav ] || sleep 0.1
done
[ -e out_term/a_target.wav ] || fail "samsep did not finish a.wav"
sleep 0.5
kill -TERM "$pid"
sleep 0.2
kill -TERM "$pid"
bg_wait "$pid"
assert_eq "$RC" 143 "exit status after two SIGTERMs"
no_worker_left

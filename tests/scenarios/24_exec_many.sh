#!/usr/bin/env bash
# The exec engine with many samsep processes: 4 processes, each with its own
# worker, on one folder do each input exactly once (the locks hold), and
# --shard splits the inputs between workers. samsep's own peak memory does
# not grow with the file's length: a 10-minute file takes what a 1-minute
# file takes.
. "$(dirname "$0")/lib.sh"
need_numpy

say "24 inputs of 1.5 s"
mkdir -p in
tone "$T/seed.wav" 1.5 16000
for i in $(seq -w 1 24); do cp "$T/seed.wav" "in/s$i.wav"; done

say "4 processes at once, each with a numpy worker"
for k in 1 2 3 4; do
    ss_bg "$T/p$k" --json -e exec --log-dir "$T/logs" \
        --worker "$PY $SRC_DIR/examples/spectral_gate_worker.py --chunk 0.5 --overlap 0.1" in -o out
    pids[$k]=$BG_PID
done
for k in 1 2 3 4; do
    bg_wait "${pids[$k]}"
    [ "$RC" = 0 ] || { cat "$T/p$k.err"; fail "process $k exited with $RC"; }
done
cat "$T"/p[1-4].out >"$T/all.jsonl"
json_lines "$T/all.jsonl"
assert_eq "$(json_query "$T/all.jsonl" 'sum(1 for e in ev if e["event"]=="done")')" 24 "done events"
assert_eq "$(json_query "$T/all.jsonl" 'len(set(e["input"] for e in ev if e["event"]=="done"))')" 24 \
    "distinct inputs done"
assert_eq "$(json_query "$T/all.jsonl" 'sum(e["failed"] for e in ev if e["event"]=="summary")')" 0 \
    "failures"
assert_eq "$(count_files out '*_target.wav')" 24 "target files"
assert_eq "$(count_files out '*_residual.wav')" 24 "residual files"
assert_no_temps out
workers=$(grep -ho 'info: worker [0-9]*: spectral gate' "$T"/logs/*.log | sort -u | wc -l)
assert_eq "$workers" 4 "workers started (one per process)"

say "--shard 1/2 and 2/2 with C workers: together every input once"
ss_bg "$T/sh1" --json -e exec --worker "$GAIN_WORKER" --shard 1/2 in -o out_sh
p1=$BG_PID
ss_bg "$T/sh2" --json -e exec --worker "$GAIN_WORKER" --shard 2/2 in -o out_sh
p2=$BG_PID
bg_wait "$p1"
assert_rc 0
bg_wait "$p2"
assert_rc 0
cat "$T/sh1.out" "$T/sh2.out" >"$T/sh.jsonl"
n1=$(json_query "$T/sh1.out" 'sum(1 for e in ev if e["event"]=="done")')
n2=$(json_query "$T/sh2.out" 'sum(1 for e in ev if e["event"]=="done")')
echo "   shard 1: $n1 inputs, shard 2: $n2"
[ "$n1" -gt 0 ] && [ "$n2" -gt 0 ] || fail "a shard did nothing"
assert_eq "$(json_query "$T/sh.jsonl" 'len(set(e["input"] for e in ev if e["event"]=="done"))')" 24 \
    "distinct inputs over both shards"
assert_eq "$((n1 + n2))" 24 "inputs done over both shards"

say "peak memory of samsep itself: a 10-minute file takes what a 1-minute file takes"
mkdir -p long
sox -q -n -r 16000 -c 1 -b 16 long/m01.wav synth 60 pinknoise vol 0.5
sox -q -n -r 16000 -c 1 -b 16 long/m10.wav synth 600 pinknoise vol 0.5
for f in m01 m10; do
    ss --json -e exec --worker "$GAIN_WORKER --chunk 10 --overlap 1" "long/$f.wav" -o "out_$f"
    assert_rc 0
    assert_pair "out_$f" "$f" wav "$(frames "long/$f.wav")"
    json_query "$OUT" '[e["peak_rss_kib"] for e in ev if e["event"]=="summary"][0]' >"$T/rss_$f"
    rm -rf "out_$f"
done
short=$(cat "$T/rss_m01")
long=$(cat "$T/rss_m10")
echo "   peak RSS: 1 minute $short KiB, 10 minutes $long KiB"
[ "$long" -le $((short + short / 20 + 1024)) ] ||
    fail "peak RSS grows with the file's length: $short KiB for 1 minute, $long KiB for 10"

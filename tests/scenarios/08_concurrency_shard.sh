#!/usr/bin/env bash
# Several workers on one folder: 4 samsep processes started at once on the
# same 40 inputs and output folder process each input exactly once; --shard
# I/N splits the inputs deterministically (union = all, pairwise disjoint,
# the same split every time and from any working folder).
. "$(dirname "$0")/lib.sh"

say "make 40 inputs of 2 s (30 in in/, 10 in in/sub/)"
mkdir -p in/sub
sox -q -n -r 16000 -c 1 -b 16 "$T/seed.wav" synth 2 sine 440 synth 2 pinknoise mix vol 0.5
for i in $(seq -w 1 30); do cp "$T/seed.wav" "in/s$i.wav"; done
for i in $(seq -w 31 40); do cp "$T/seed.wav" "in/sub/s$i.wav"; done

say "4 processes at once"
for k in 1 2 3 4; do
    ss_bg "$T/w$k" --json -r in -o out
    pids[$k]=$BG_PID
done
for k in 1 2 3 4; do
    bg_wait "${pids[$k]}"
    [ "$RC" = 0 ] || { cat "$T/w$k.err"; fail "worker $k exited with $RC"; }
    python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1]) if l.strip()]' "$T/w$k.out" ||
        fail "worker $k: stdout is not JSON lines"
done
cat "$T"/w[1-4].out >"$T/all.jsonl"
per_input=$(json_query "$T/all.jsonl" '
sorted(f"{n} {i}" for i, n in __import__("collections").Counter(
    e["input"] for e in ev if e["event"] == "done").items())')
echo "$per_input" | awk '{print $1}' | sort | uniq -c | sed 's/^/   done-count histogram: /'
assert_eq "$(echo "$per_input" | grep -c .)" 40 "inputs with a done event"
bad=$(echo "$per_input" | awk '$1 != 1' | head -5)
[ -z "$bad" ] || fail "inputs done more than once: $bad"
summed=$(json_query "$T/all.jsonl" 'sum(e["processed"] for e in ev if e["event"]=="summary")')
assert_eq "$summed" 40 "sum of summary.processed over the 4 workers"
assert_eq "$(json_query "$T/all.jsonl" 'sum(e["failed"] for e in ev if e["event"]=="summary")')" 0 \
    "sum of summary.failed"
workers_that_worked=$(for k in 1 2 3 4; do
    json_query "$T/w$k.out" 'sum(1 for e in ev if e["event"]=="done")'; done | awk '$1 > 0' | wc -l)
echo "   workers that processed something: $workers_that_worked"
assert_eq "$(count_files out '*_target.wav')" 40 "target files"
assert_eq "$(count_files out '*_residual.wav')" 40 "residual files"
assert_eq "$(count_files out/sub '*_target.wav')" 10 "target files in out/sub"
assert_pair out s01 wav 32000
assert_pair out/sub s40 wav 32000
assert_no_temps out
assert_no_loops out

say "--shard: the three shards of a dry run partition the inputs"
for k in 1 2 3; do
    ss --dry-run --shard "$k/3" -r in -o out_sh
    assert_rc 0
    assert_absent out_sh
    sed -n 's/^process \(.*\) -> .*/\1/p' "$OUT" | sed 's#.*/in/##; s#^in/##' | sort >"$T/shard$k"
    grep -Eq '^skip .*: other shard' "$OUT" || fail "shard $k/3: no input skipped as 'other shard'"
    n=$(grep -c . "$T/shard$k" || true)
    echo "   shard $k/3: $n inputs"
    [ "$n" -gt 0 ] || fail "shard $k/3 is empty (a poor hash?)"
done
cat "$T"/shard[1-3] | sort >"$T/union"
assert_eq "$(sort -u "$T/union" | grep -c .)" 40 "distinct inputs over the shards"
assert_eq "$(grep -c . "$T/union")" 40 "inputs over the shards (each once)"

say "the same split on a second dry run, and from another folder with absolute paths"
for k in 1 2 3; do
    ss --dry-run --shard "$k/3" -r in -o out_sh
    sed -n 's/^process \(.*\) -> .*/\1/p' "$OUT" | sed 's#.*/in/##; s#^in/##' | sort >"$T/again$k"
    cmp -s "$T/shard$k" "$T/again$k" || fail "shard $k/3 differs between two dry runs"
    (cd / && "$SAMSEP_BIN" --dry-run --shard "$k/3" -r "$T/in/" -o "$T/out_sh" </dev/null >"$OUT" 2>"$ERR") ||
        fail "dry run from / failed"
    sed -n 's/^process \(.*\) -> .*/\1/p' "$OUT" | sed 's#.*/in/##' | sort >"$T/abs$k"
    cmp -s "$T/shard$k" "$T/abs$k" || {
        diff "$T/shard$k" "$T/abs$k" | head
        fail "shard $k/3 differs when the input folder is named by its absolute path"
    }
done

say "three sharded workers at once do everything exactly once"
for k in 1 2 3; do
    ss_bg "$T/sh$k" --json --shard "$k/3" -r in -o out_sh
    pids[$k]=$BG_PID
done
for k in 1 2 3; do
    bg_wait "${pids[$k]}"
    [ "$RC" = 0 ] || { cat "$T/sh$k.err"; fail "shard worker $k exited with $RC"; }
    json_query "$T/sh$k.out" '[e["input"] for e in ev if e["event"]=="done"]' |
        sed 's#^in/##' | sort >"$T/done$k"
    cmp -s "$T/shard$k" "$T/done$k" || fail "shard worker $k did not do exactly its planned share"
done
assert_eq "$(count_files out_sh '*_target.wav')" 40 "target files"
assert_eq "$(count_files out_sh '*_residual.wav')" 40 "residual files"
assert_no_temps out_sh

say "bad --shard values are usage errors"
for bad in 0/3 4/3 1/0 x 3 1/3x; do
    ss --shard "$bad" in -o out_bad
    assert_rc 2 "--shard $bad"
    assert_absent out_bad
done

#!/usr/bin/env bash
# --json: stdout carries only JSON objects, one per line: a plan event per
# input, start/done (or failed, skipped) events, and a final summary whose
# counts and exit code are right.
. "$(dirname "$0")/lib.sh"

tone in/a.wav 0.5 16000
tone in/b.flac 0.4 16000
tone in/c_target.wav 0.3 16000
: >in/empty.wav

say "a run with two inputs to do, one own output, one empty file"
ss --json in -o out
assert_rc 1
json_lines "$OUT"
python3 - "$OUT" "$T" <<'EOF' || fail "the JSON events are not what the run did"
import json, os, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
os.chdir(sys.argv[2])
def name(e): return e["input"].split("/")[-1]
def check(cond, msg):
    if not cond:
        print("JSON check failed:", msg)
        sys.exit(1)

plan = {name(e): e for e in ev if e["event"] == "plan"}
check(set(plan) == {"a.wav", "b.flac", "c_target.wav", "empty.wav"}, f"plan events for {sorted(plan)}")
check(plan["a.wav"]["action"] == "process", "a.wav planned to process")
check(plan["a.wav"]["target"].endswith("out/a_target.wav"), "a.wav's planned target")
check(plan["a.wav"]["residual"].endswith("out/a_residual.wav"), "a.wav's planned residual")
check(plan["b.flac"]["action"] == "process", "b.flac planned to process")
check(plan["c_target.wav"]["action"] == "skip" and plan["c_target.wav"].get("reason"),
      "c_target.wav planned to skip, with a reason")
check(plan["empty.wav"]["action"] in ("process", "fail"), "empty.wav's plan action")

starts = [name(e) for e in ev if e["event"] == "start"]
done = {name(e): e for e in ev if e["event"] == "done"}
check(set(done) == {"a.wav", "b.flac"}, f"done events for {sorted(done)}")
check({"a.wav", "b.flac"} <= set(starts), "start events for a.wav and b.flac")
for n, frames in (("a.wav", 8000), ("b.flac", 6400)):
    d = done[n]
    check(d["frames"] == frames, f"{n}: frames {d['frames']} != {frames}")
    check(os.path.isfile(d["target"]) and os.path.isfile(d["residual"]), f"{n}: outputs exist")
    check(isinstance(d["seconds"], (int, float)) and d["seconds"] >= 0, f"{n}: seconds")
    check(isinstance(d["clipped"], int) and d["clipped"] >= 0, f"{n}: clipped")
    check(starts.index(n) < ev.index(d), f"{n}: start before done")

failed = [name(e) for e in ev if e["event"] == "failed"]
check(failed == ["empty.wav"] or (failed == [] and plan["empty.wav"]["action"] == "fail"),
      f"failed events {failed}")
for e in ev:
    if e["event"] == "failed":
        check(isinstance(e.get("error"), str) and e["error"], "a failed event has an error text")

check(ev[-1]["event"] == "summary", "the summary is the last event")
s = ev[-1]
check((s["processed"], s["skipped"], s["failed"], s["exit"]) == (2, 1, 1, 1),
      f"summary {s}")
check(sum(1 for e in ev if e["event"] == "summary") == 1, "one summary")
EOF

say "a second run: the two done are skipped, the counts say so"
ss --json in -o out
assert_rc 1
json_lines "$OUT"
assert_eq "$(json_query "$OUT" '[(e["processed"], e["skipped"], e["failed"], e["exit"]) for e in ev if e["event"]=="summary"][0]')" \
    "(0, 3, 1, 1)" "summary (processed, skipped, failed, exit)"
assert_eq "$(json_query "$OUT" 'sum(1 for e in ev if e["event"]=="done")')" 0 "done events"

say "all good: exit 0 in the summary"
rm in/empty.wav
ss --json in -o out
assert_rc 0
assert_eq "$(json_query "$OUT" '[(e["processed"], e["skipped"], e["failed"], e["exit"]) for e in ev if e["event"]=="summary"][0]')" \
    "(0, 3, 0, 0)" "summary (processed, skipped, failed, exit)"

say "a refusal under --json: exit 2, and stdout is still only JSON"
ss --json in -o in/x
assert_rc 2
assert_absent in/x
[ ! -s "$OUT" ] || json_lines "$OUT"

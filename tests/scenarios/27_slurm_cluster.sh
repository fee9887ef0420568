#!/usr/bin/env bash
# A real one-node Slurm cluster (Debian's slurm-wlm: slurmctld and slurmd,
# authenticated by munge), configured in the scenario's folder and started
# and stopped here, as root, runs the README's job-array recipe:
#   1. sbatch --array=1-4 of `samsep --shard ${SLURM_ARRAY_TASK_ID}/4` over
#      40 nested inputs: each task does exactly its share, every input is
#      done exactly once, every output is whole and target + residual is
#      the mixture;
#   2. an array of 4 tasks without --shard, all racing on the claim locks
#      over the same inputs: the same holds;
#   3. one task cancelled (scancel) in the middle of a long file, then
#      requeued: the re-run skips what the first run finished, redoes the
#      long file, and nothing is lost or done twice.
# The daemons run in the foreground of background jobs with their own
# configuration, ports, sockets, state, pid and log files under $T; they
# are stopped, and any process of the cluster killed, however the test
# ends. It skips, saying why, only where the daemons cannot be started.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || skip "a test cluster's slurmd must run as root (this is uid $(id -u))"
for c in slurmctld slurmd munged sbatch squeue scancel scontrol sinfo; do
    command -v "$c" >/dev/null 2>&1 ||
        skip "needs '$c' (Debian packages slurm-wlm and munge; sh scripts/setup.sh installs them)"
done

C=$T/cluster
CONF=$C/slurm.conf
SECONDS=0
step() { say "$* [${SECONDS} s]"; }
mkdir -p "$C/munge" "$C/state" "$C/spool" "$C/log" "$C/jobs"
chmod 700 "$C/munge"

# sl COMMAND...: a Slurm client command talking to this cluster.
sl() { SLURM_CONF=$CONF "$@"; }

# ------------------------------------------------------------- the cluster

cluster_log() {
    local f
    for f in "$C"/log/*.log "$C/munge/munged.log"; do
        [ -s "$f" ] && { echo "--- $f (last lines)"; tail -8 "$f"; }
    done
    return 0
}

# running PID: PID is alive (a child that ended but was not waited for is not).
running() {
    kill -0 "$1" 2>/dev/null && ! grep -q '^[0-9]* (.*) Z' "/proc/$1/stat" 2>/dev/null
}

# Stop everything this cluster runs: its jobs, its daemons, and anything
# left with this cluster's configuration in its environment (slurmstepd
# and the jobs' processes), and nothing else.
cluster_down() {
    local p i ids
    if [ -n "${CTLD_PID:-}" ] && kill -0 "$CTLD_PID" 2>/dev/null; then
        ids=$(sl squeue -h -o %A 2>/dev/null | sort -u)
        [ -z "$ids" ] || sl scancel --quiet $ids 2>/dev/null
        for i in $(seq 50); do
            [ -z "$(sl squeue -h 2>/dev/null)" ] && break
            sleep 0.1
        done
    fi
    for p in ${SLURMD_PID:-} ${CTLD_PID:-} ${MUNGED_PID:-}; do
        kill -TERM "$p" 2>/dev/null
    done
    for p in ${SLURMD_PID:-} ${CTLD_PID:-} ${MUNGED_PID:-}; do
        for i in $(seq 50); do
            running "$p" || break
            sleep 0.1
        done
        kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    for p in $(python3 -c '
import os, sys
want = sys.argv[1].encode()
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        if want in open(f"/proc/{pid}/environ", "rb").read().split(b"\0"):
            print(pid)
    except OSError:
        pass' "SLURM_CONF=$CONF"); do
        kill -KILL "$p" 2>/dev/null && echo "   (killed leftover process $p of the cluster)"
    done
    return 0
}
at_exit cluster_down

step "munge: a fresh key and socket in $C/munge"
dd if=/dev/urandom of="$C/munge/munge.key" bs=1024 count=1 2>/dev/null
chmod 400 "$C/munge/munge.key"
munged --foreground --force --key-file="$C/munge/munge.key" \
    --socket="$C/munge/munge.socket" --pid-file="$C/munge/munged.pid" \
    --log-file="$C/munge/munged.log" --seed-file="$C/munge/munged.seed" \
    </dev/null >"$C/log/munged.out" 2>&1 &
MUNGED_PID=$!
_scn_pids+=("$MUNGED_PID")
for i in $(seq 50); do
    [ -S "$C/munge/munge.socket" ] && break
    kill -0 "$MUNGED_PID" 2>/dev/null || break
    sleep 0.1
done
[ -S "$C/munge/munge.socket" ] || { cluster_log; cat "$C/log/munged.out"; skip "munged could not start here"; }

step "slurm.conf: one node ($(hostname -s)), 4 CPUs, free ports, everything under $C"
read -r CTLD_PORT SLURMD_PORT < <(python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s:
    x.bind(("127.0.0.1", 0))
print(*(x.getsockname()[1] for x in s))')
NODE=$(hostname -s)
cat >"$CONF" <<EOF
ClusterName=samseptest
SlurmctldHost=$NODE
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$C/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$C/state
SlurmdSpoolDir=$C/spool
SlurmctldPidFile=$C/slurmctld.pid
SlurmdPidFile=$C/slurmd.pid
SlurmctldLogFile=$C/log/slurmctld.log
SlurmdLogFile=$C/log/slurmd.log
ProctrackType=proctrack/pgid
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SwitchType=switch/none
MpiDefault=none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
ReturnToService=2
KillWait=10
MinJobAge=600
MailProg=/bin/true
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=4 State=UNKNOWN
PartitionName=test Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF

step "slurmctld and slurmd"
SLURM_CONF=$CONF slurmctld -D -i -f "$CONF" </dev/null >"$C/log/slurmctld.out" 2>&1 &
CTLD_PID=$!
_scn_pids+=("$CTLD_PID")
SLURM_CONF=$CONF slurmd -D -f "$CONF" -N "$NODE" </dev/null >"$C/log/slurmd.out" 2>&1 &
SLURMD_PID=$!
_scn_pids+=("$SLURMD_PID")
state=
for i in $(seq 150); do
    state=$(sl sinfo -h -n "$NODE" -o %T 2>/dev/null || true)
    [ "$state" = idle ] && break
    kill -0 "$CTLD_PID" 2>/dev/null && kill -0 "$SLURMD_PID" 2>/dev/null || break
    sleep 0.2
done
if [ "$state" != idle ]; then
    cluster_log
    skip "the one-node cluster did not come up here (node state '${state:-none}'; logs above)"
fi
sl sinfo | sed 's/^/   /'

# --------------------------------------------------------------- helpers

# submit NAME ARRAY SAMSEP-ARGS...: sbatch an array whose tasks run
# `exec samsep --json --yes SAMSEP-ARGS` (${SLURM_ARRAY_TASK_ID} expands in
# the task); each task's events go to $C/jobs/NAME_<task>.out (appended
# across requeues). Sets JOB to the array's job id. The exec matters: when
# the batch shell ends, slurmstepd kills what is left of the job at once, so
# a samsep that is the shell's child gets no time to stop cleanly on
# scancel's SIGTERM; as the batch step itself, it gets KillWait.
submit() {
    local name=$1 array=$2
    shift 2
    {
        echo '#!/bin/sh'
        echo "#SBATCH --array=$array"
        echo "#SBATCH --output=$C/jobs/${name}_%a.out"
        echo "#SBATCH --error=$C/jobs/${name}_%a.err"
        echo '#SBATCH --open-mode=append'
        echo '#SBATCH --requeue'
        echo "cd \"$T\""
        echo "exec \"$SAMSEP_BIN\" --json --yes $*"
    } >"$C/jobs/$name.sh"
    JOB=$(sl sbatch --parsable "$C/jobs/$name.sh") || fail "sbatch refused $C/jobs/$name.sh"
    JOB=${JOB%%;*}
    echo "   submitted job array $JOB ($name): samsep --json --yes $*"
}

# wait_job ID [SECONDS]: until no task of job ID is pending or running.
wait_job() {
    local i max=$((${2:-90} * 10))
    for ((i = 0; i < max; i++)); do
        [ -z "$(sl squeue -h -j "$1" -t PD,R,CG,CF,S 2>/dev/null)" ] && return 0
        sleep 0.1
    done
    sl squeue -j "$1"
    cluster_log
    fail "job $1 did not finish within ${2:-90} s"
}

# task_states ID: "task state exitcode" per array task of job ID.
task_states() {
    sl scontrol show job "$1" -o |
        sed -n 's/.*ArrayTaskId=\([0-9]*\) .*JobState=\([A-Z_]*\) .*ExitCode=\([0-9:]*\).*/\1 \2 \3/p' |
        sort -n
}

# check_outputs INDIR OUTDIR N: N inputs below INDIR, each with both outputs
# below OUTDIR (mirrored), as long as the input, and target + residual
# equal to the input within 16-bit rounding; no temporaries, no loops.
check_outputs() {
    python3 - "$@" <<'EOF' || fail "outputs in $2 are not complete and correct"
import array, os, re, struct, subprocess, sys
ind, outd, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
def read(p, samples=True):
    """frames, channels, samples (or None) of a 16-bit PCM WAV"""
    b = open(p, "rb").read() if samples else open(p, "rb").read(1 << 16)
    if b[:4] != b"RIFF" or b[8:12] != b"WAVE":
        raise ValueError("not a WAV file")
    pos, ch, bits, data = 12, None, None, None
    while pos + 8 <= len(b):
        kind, size = b[pos:pos + 4], struct.unpack("<I", b[pos + 4:pos + 8])[0]
        if kind == b"fmt ":
            ch, bits = struct.unpack("<H", b[pos + 10:pos + 12])[0], struct.unpack("<H", b[pos + 22:pos + 24])[0]
        elif kind == b"data":
            data = size
            break
        pos += 8 + size + (size & 1)
    if bits != 16 or data is None:
        raise ValueError(f"not 16-bit PCM ({bits} bits)")
    a = array.array("h", b[pos + 8:pos + 8 + data]) if samples else None
    return data // 2 // ch, ch, a
def worst_lsb(m, t, r):
    """max |target + residual - mixture| in 16-bit steps (sox for long files)"""
    if os.path.getsize(m) < 4 << 20:
        a, b, c = (read(x)[2] for x in (t, r, m))
        return max(abs(x + y - z) for x, y, z in zip(a, b, c))
    out = subprocess.run(["sox", "-m", "-v", "1", t, "-v", "1", r, "-v", "-1", m, "-n", "stat"],
                         capture_output=True, text=True).stderr
    amp = [abs(float(v)) for v in re.findall(r"(?:Maximum|Minimum) amplitude:\s*(\S+)", out)]
    return round(max(amp) * 32768) if len(amp) == 2 else 1 << 20
ins = sorted(os.path.relpath(os.path.join(d, f), ind)
             for d, _, fs in os.walk(ind) for f in fs if f.endswith(".wav"))
bad = [] if len(ins) == n else [f"{len(ins)} inputs, expected {n}"]
worst = 0
for rel in ins:
    stem = os.path.join(outd, rel[:-4])
    files = (os.path.join(ind, rel), stem + "_target.wav", stem + "_residual.wav")
    try:
        (fm, cm, _), (ft, ct, _), (fr, cr, _) = (read(f, False) for f in files)
    except Exception as e:
        bad.append(f"{rel}: {e}")
        continue
    if not (fm == ft == fr and cm == ct == cr):
        bad.append(f"{rel}: {fm}/{ft}/{fr} frames, {cm}/{ct}/{cr} channels")
        continue
    d = worst_lsb(*files)
    worst = max(worst, d)
    if d > 2:
        bad.append(f"{rel}: target + residual differs from the input by {d} LSB")
extra = [f for d, _, fs in os.walk(outd) for f in fs
         if "samsep-tmp" in f or "_target_" in f or "_residual_" in f]
if extra:
    bad.append(f"temporaries or outputs of outputs: {extra[:3]}")
print(f"   {len(ins)} inputs: outputs whole, |target + residual - input| <= {worst} LSB")
for b in bad[:10]:
    print("   BAD:", b)
sys.exit(1 if bad else 0)
EOF
}

# done_once N FILES...: in the --json events of FILES (one file per task),
# N inputs have a "done" event, each in exactly one file and once; prints
# "task-file done-count" per file.
done_once() {
    local n=$1
    shift
    python3 - "$n" "$@" <<'EOF' || fail "not every input was done exactly once by exactly one task"
import collections, json, os, sys
n, files = int(sys.argv[1]), sys.argv[2:]
by = collections.defaultdict(list)
for f in files:
    for line in open(f, encoding="utf-8"):
        e = json.loads(line)
        if e["event"] == "done":
            by[e["input"]].append(os.path.basename(f))
for f in files:
    print(f"   {os.path.basename(f)}: {sum(1 for v in by.values() for x in v if x == os.path.basename(f))} done")
twice = {k: v for k, v in by.items() if len(v) != 1}
ok = len(by) == n and not twice
if not ok:
    print(f"   {len(by)} inputs done, expected {n}; more than once: {dict(list(twice.items())[:5])}")
sys.exit(0 if ok else 1)
EOF
}

# logs_done_once N: the run logs of all tasks together say "done" once for
# each of N inputs (the logs of this phase only: the log folder is emptied
# before each phase).
logs_done_once() {
    local got dup
    got=$(cat "$XDG_STATE_HOME"/samsep/logs/*.log | sed -n 's/^[0-9-]* [0-9:]* done \(.*\) -> .*/\1/p' | sort)
    dup=$(echo "$got" | uniq -d | head -3)
    assert_eq "$(echo "$got" | grep -c .)" "$1" "inputs with a 'done' line in the tasks' logs"
    [ -z "$dup" ] || fail "logs say these were done twice: $dup"
    echo "   $(ls "$XDG_STATE_HOME"/samsep/logs | wc -l) task logs, $1 inputs done once"
}

# ----------------------------------------------------------- the inputs

step "40 inputs of 1 s in a nested folder: 20 in in/, 10 in in/x/, 10 in in/x/y/"
for k in 1 2 3 4; do tone "$T/seed$k.wav" 1 16000 1 $((200 * k + 50)); done
mkdir -p in/x/y
for i in $(seq -w 1 40); do
    d=in
    [ "$i" -gt 20 ] && d=in/x
    [ "$i" -gt 30 ] && d=in/x/y
    cp "$T/seed$(((10#$i % 4) + 1)).wav" "$d/r$i.wav"
done

# ------------------------------------------------- 1. a sharded job array

step "1. sbatch --array=1-4: samsep --shard \${SLURM_ARRAY_TASK_ID}/4 -r in -o out1"
rm -rf "$XDG_STATE_HOME/samsep/logs"
submit shard 1-4 '--shard ${SLURM_ARRAY_TASK_ID}/4 -r in -o out1'
wait_job "$JOB"
task_states "$JOB" | sed 's/^/   task /'
assert_eq "$(task_states "$JOB" | grep -c ' COMPLETED 0:0$')" 4 "tasks COMPLETED with exit 0"
done_once 40 "$C"/jobs/shard_[1-4].out
logs_done_once 40
for k in 1 2 3 4; do
    "$SAMSEP_BIN" --dry-run --shard "$k/4" -r in -o out1_plan </dev/null |
        sed -n 's/^process \(.*\) -> .*/\1/p' | sort >"$T/plan$k"
    json_query "$C/jobs/shard_$k.out" '[e["input"] for e in ev if e["event"]=="done"]' |
        sort >"$T/did$k"
    cmp -s "$T/plan$k" "$T/did$k" || {
        diff "$T/plan$k" "$T/did$k" | head
        fail "task $k did not do exactly its shard"
    }
done
echo "   each task did exactly its shard ($(wc -l <"$T/plan1"), $(wc -l <"$T/plan2"), $(wc -l <"$T/plan3"), $(wc -l <"$T/plan4") inputs)"
check_outputs in out1 40

# ------------------------------------------- 2. four tasks racing on locks

step "2. sbatch --array=1-4 without --shard: all four race on the locks, -r in -o out2"
rm -rf "$XDG_STATE_HOME/samsep/logs"
submit race 1-4 '-r in -o out2'
wait_job "$JOB"
task_states "$JOB" | sed 's/^/   task /'
assert_eq "$(task_states "$JOB" | grep -c ' COMPLETED 0:0$')" 4 "tasks COMPLETED with exit 0"
done_once 40 "$C"/jobs/race_[1-4].out
logs_done_once 40
cat "$C"/jobs/race_[1-4].out >"$T/race_all.out"
assert_eq "$(json_query "$T/race_all.out" 'sum(e["processed"] for e in ev if e["event"]=="summary")')" \
    40 "processed, summed over the tasks' summaries"
check_outputs in out2 40

# ------------------------------------ 3. cancel in the middle, then requeue

LONG_SECS=${LONG_SECS:-300}
step "3. a ${LONG_SECS} s 48 kHz stereo file among 10 small ones, in 2 shards"
mkdir -p in3
long_file in3/m_long.wav "$LONG_SECS"
for i in 1 2 3 4 5; do
    cp "$T/seed1.wav" "in3/a_$i.wav"
    cp "$T/seed2.wav" "in3/z_$i.wav"
done
for k in 1 2; do
    "$SAMSEP_BIN" --dry-run --shard "$k/2" -r in3 -o out3 </dev/null |
        grep -q '^process .*m_long.wav' && K=$k
done
echo "   the long file is in shard $K/2"
rm -rf "$XDG_STATE_HOME/samsep/logs"
submit cancel 1-2 '--shard ${SLURM_ARRAY_TASK_ID}/2 -r in3 -o out3'
for i in $(seq 600); do
    [ -n "$(find out3 -name '.m_long*samsep-tmp*' 2>/dev/null | head -1)" ] && break
    sleep 0.1
done
[ -n "$(find out3 -name '.m_long*samsep-tmp*' 2>/dev/null | head -1)" ] ||
    fail "task $K never started on the long file"
sl scancel "${JOB}_$K"
echo "   scancel ${JOB}_$K while it writes the long file"
for i in $(seq 300); do
    [ -z "$(sl squeue -h -j "${JOB}_$K" -t R,CG 2>/dev/null)" ] && break
    sleep 0.1
done
task_states "$JOB" | sed 's/^/   task /'
task_states "$JOB" | grep -q "^$K CANCELLED" || fail "task $K is not CANCELLED"
first=$C/jobs/cancel_$K.out
cp "$first" "$T/first_run.out"
json_lines "$first"
assert_eq "$(json_query "$first" 'sum(1 for e in ev if e["event"]=="start" and e["input"].endswith("m_long.wav"))')" 1 \
    "starts of the long file before the cancel"
assert_eq "$(json_query "$first" 'sum(1 for e in ev if e["event"]=="done" and e["input"].endswith("m_long.wav"))')" 0 \
    "the long file must not be done when cancelled"
assert_eq "$(json_query "$first" '[e["exit"] for e in ev if e["event"]=="summary"]')" 143 \
    "the cancelled task's exit status (128 + SIGTERM)"
before=$(json_query "$first" 'sorted(e["input"] for e in ev if e["event"]=="done")')
echo "   done before the cancel: $(echo "$before" | grep -c . || true) input(s)"
assert_no_pair out3 m_long wav
[ -z "$(find out3 -name '*samsep-tmp*')" ] || fail "the cancelled task left temporaries: $(find out3 -name '*samsep-tmp*')"

step "requeue the cancelled task (and let it start now rather than in 2 minutes)"
sl scontrol requeue "${JOB}_$K" || fail "scontrol requeue ${JOB}_$K failed"
sl scontrol update JobId="${JOB}_$K" StartTime=now || fail "could not make the requeued task eligible now"
wait_job "$JOB" 120
task_states "$JOB" | sed 's/^/   task /'
assert_eq "$(task_states "$JOB" | grep -c ' COMPLETED 0:0$')" 2 "tasks COMPLETED with exit 0 after the requeue"
sl scontrol show job "${JOB}_$K" | grep -q 'Restarts=1' || fail "task $K was not restarted once"
tail -n +"$(($(wc -l <"$T/first_run.out") + 1))" "$first" >"$T/second_run.out"
json_lines "$T/second_run.out"
assert_eq "$(json_query "$T/second_run.out" 'sum(1 for e in ev if e["event"]=="done" and e["input"].endswith("m_long.wav"))')" 1 \
    "the re-run does the long file"
again=$(python3 -c '
import json, sys
done = [{e["input"] for e in map(json.loads, open(f)) if e["event"] == "done"} for f in sys.argv[1:]]
print(" ".join(sorted(done[0] & done[1])))' "$T/first_run.out" "$T/second_run.out")
[ -z "$again" ] || fail "the re-run did again what the first run had done: $again"
skipped=$(json_query "$T/second_run.out" 'sum(1 for e in ev if e["event"]=="plan" and e["action"]=="skip" and "current" in e.get("reason",""))')
echo "   the re-run skipped $skipped finished input(s) and did the rest"
assert_eq "$skipped" "$(echo "$before" | grep -c . || true)" "inputs the re-run skipped as finished"
done_once 11 "$C"/jobs/cancel_[12].out
check_outputs in3 out3 11
step "all checked"

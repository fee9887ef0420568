#!/bin/bash
# Quality and speed of samsep's dsp engine beside the peers of
# ../shared/eval/BASELINES.md, all in one run on the same files.
#
#   bash bench/quality/run.sh            (EVAL=path to the eval set, default ../shared/eval)
#
# The evaluation set is not part of the repository: without it the script
# says so and exits 2.
#
# Quality: every case of the eval set (s01-s16 speech in noise, m01-m04 music)
# is copied once to float32 WAV (bench/results/quality/in/<case>.wav, exact:
# the sources are 24-bit) and given to each tool:
#   samsep_speech  samsep -e dsp -p speech                       (all cases)
#   samsep_drums   samsep -e dsp -p drums      (m cases; skipped if the engine lacks the prompt)
#   samsep_music   samsep -e dsp -p music      (m cases; skipped if the engine lacks the prompt)
#   afftdn         ffmpeg afftdn, default settings
#   afftdn_prof    ffmpeg afftdn=nr=20:nf=-40, noise profile learned over 0-0.5 s (asendcmd)
#   sox_050        sox noisered 0.5 (its default amount), profile from the first 0.5 s
#   sox_021        sox noisered 0.21, profile from the first 0.5 s
# with the settings of ../shared/eval/baselines/run_baselines.py (ffmpeg's
# 1200-sample afftdn delay is removed with apad+atrim; sox pads 0.1 s and trims
# to the input length). Each target goes to bench/results/quality/est/<tool>/
# <case>_target.wav and is scored by build/sisdr (zero-mean SI-SDR improvement
# over the mixture). The music cases are also scored against their reference
# residual (backing / tonal part) for samsep's music target and drums residual.
#
# Speed: each tool, and samsep -p hum and -p vocals (timed only: the eval set
# has no reference for them), on one 10-minute 48 kHz mono float WAV (make_long.py, or the
# bundled example looped with sox when numpy is missing), pinned to core 0 with
# taskset and timed by build/runstat (start-up and file I/O included); best
# wall time of SPEED_REPS runs (default 3; runs interleaved across tools).
#
# Checks: the scorer on known cases (reference -> +inf, mixture -> 0 dB) and
# samsep's scores against ../shared/eval/score.py (needs numpy in /usr/bin/python3).
#
# Output: the tables on stdout, bench/results/quality.md (the same tables),
# bench/results/quality/ (estimates, JSON scores, logs, report.txt).
# Environment: EVAL, SPEED_REPS (3), SKIP_SPEED=1, SKIP_XCHECK=1, SKIP_BUILD=1 (use build/ as
# it is), PY (/usr/bin/python3).
set -eu
cd "$(dirname "$0")/../.."
EVAL=${EVAL:-../shared/eval}
if [ ! -d "$EVAL" ] || ! ls "$EVAL"/*/meta.json >/dev/null 2>&1; then
    echo "run.sh: needs the evaluation set (case folders with meta.json) at $EVAL;" \
         "it is not part of the repository: give its folder with EVAL=path" >&2
    exit 2
fi
EVAL=$(cd "$EVAL" && pwd)
PY=${PY:-/usr/bin/python3}
SPEED_REPS=${SPEED_REPS:-3}
R=bench/results/quality
MD=bench/results/quality.md
T0=$(date +%s)

for t in ffmpeg sox soxi jq taskset awk; do
    command -v "$t" >/dev/null || { echo "run.sh: needs $t" >&2; exit 2; }
done
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build build -j "$(nproc)" --target samsep_cli sisdr runstat >/dev/null
fi
SAMSEP=./build/samsep SISDR=./build/sisdr RUNSTAT=./build/runstat

rm -rf "$R"
mkdir -p "$R/in" "$R/est" "$R/scores" "$R/logs"
: >"$MD"
exec > >(tee "$R/report.txt") 2>&1

out() { printf '%s\n' "$*" | tee -a "$MD"; }     # to stdout and to quality.md
fmt() { awk -v v="$1" 'BEGIN { if (v == "" || v == "-" || v == "null") print "–"; else printf "%+.2f", v }'; }

CASES=()
for d in "$EVAL"/*/; do
    [ -f "$d/meta.json" ] && CASES+=("$(basename "$d")")
done
SCASES=() MCASES=()
for c in "${CASES[@]}"; do
    case $(jq -r .kind "$EVAL/$c/meta.json") in
        speech*) SCASES+=("$c") ;;
        music*) MCASES+=("$c") ;;
    esac
done
[ ${#SCASES[@]} -gt 0 ] || { echo "run.sh: no speech cases in $EVAL" >&2; exit 2; }

# --- inputs: one float32 WAV per case, read by every tool --------------------
for c in "${CASES[@]}"; do
    sox "$EVAL/$c/$(jq -r .mix_file "$EVAL/$c/meta.json")" -e floating-point -b 32 "$R/in/$c.wav"
done

declare -A LABEL=(
    [samsep_speech]='samsep dsp speech'
    [samsep_drums]='samsep dsp drums'
    [samsep_music]='samsep dsp music'
    [samsep_hum]='samsep dsp hum'
    [samsep_vocals]='samsep dsp vocals (mono)'
    [afftdn]='ffmpeg afftdn (default)'
    [afftdn_prof]='ffmpeg afftdn, noise profile 0–0.5 s'
    [sox_050]='sox noisered 0.5, profile 0–0.5 s'
    [sox_021]='sox noisered 0.21, profile 0–0.5 s'
)
label() { printf '%s' "${LABEL[$1]}"; }
PEERS=(afftdn afftdn_prof sox_050 sox_021)

AFFTDN_PROF="asendcmd=c='0.0 afftdn sn start;0.5 afftdn sn stop',afftdn=nr=20:nf=-40"
# run_peer TOOL IN OUT TMP RUNNER: the peer's command(s), each through RUNNER
run_peer() {
    local t=$1 in=$2 o=$3 tmp=$4 run=$5 n
    case $t in
        afftdn | afftdn_prof)
            local f=afftdn
            [ "$t" = afftdn_prof ] && f=$AFFTDN_PROF
            $run ffmpeg -nostdin -y -v error -i "$in" \
                -af "apad=pad_len=1200,$f,atrim=start_sample=1200" -c:a pcm_f32le "$o" ;;
        sox_050 | sox_021)
            local amt=0.5
            [ "$t" = sox_021 ] && amt=0.21
            n=$(soxi -s "$in")
            $run sox "$in" -n trim 0 0.5 noiseprof "$tmp.prof"
            $run sox "$in" -e floating-point -b 32 "$o" pad 0 0.1 noisered "$tmp.prof" "$amt" trim 0 "${n}s" ;;
    esac
}
plain() { "$@"; }

# --- quality: run every tool -------------------------------------------------
SAMSEP_TOOLS=(samsep_speech)
"$SAMSEP" -q -e dsp -p speech --subtype float "$R/in" -o "$R/est/samsep_speech" \
    2>"$R/logs/samsep_speech.log" || echo "NOTE: samsep -p speech exited $? (see $R/logs/samsep_speech.log)"
ODD=()
for p in drums music; do
    [ ${#MCASES[@]} -gt 0 ] || break
    args=()
    for c in "${MCASES[@]}"; do args+=("$R/in/$c.wav"); done
    if "$SAMSEP" -q -e dsp -p "$p" --subtype float "${args[@]}" -o "$R/est/samsep_$p" \
        2>"$R/logs/samsep_$p.log"; then
        SAMSEP_TOOLS+=("samsep_$p")
    else
        ODD+=("samsep -e dsp -p $p not run: $(head -1 "$R/logs/samsep_$p.log")")
        rm -rf "$R/est/samsep_$p"
    fi
done
for t in "${PEERS[@]}"; do
    mkdir -p "$R/est/$t"
    for c in "${CASES[@]}"; do
        run_peer "$t" "$R/in/$c.wav" "$R/est/$t/${c}_target.wav" "$R/est/$t/$c" plain \
            2>>"$R/logs/$t.log" || ODD+=("$t failed on $c (see $R/logs/$t.log)")
    done
    rm -f "$R/est/$t"/*.prof
done
TOOLS=("${SAMSEP_TOOLS[@]}" "${PEERS[@]}")
# Speed covers every tool above and the prompts the eval set has no
# reference for (timed only).
SPEED_TOOLS=("${SAMSEP_TOOLS[@]}")
for p in hum vocals; do
    "$SAMSEP" --list-prompts 2>/dev/null | grep -qw "$p" && SPEED_TOOLS+=("samsep_$p")
done
SPEED_TOOLS+=("${PEERS[@]}")
for t in "${TOOLS[@]}"; do
    [ -s "$R/logs/$t.log" ] && ODD+=("$t wrote $(wc -l <"$R/logs/$t.log") line(s) to stderr: $(head -1 "$R/logs/$t.log")")
done
T_RUN=$(date +%s)

# --- scoring -----------------------------------------------------------------
for t in "${TOOLS[@]}"; do
    sel=()
    case $t in samsep_drums | samsep_music) sel=(--cases m) ;; esac
    "$SISDR" "$EVAL" "$R/est/$t" --json "${sel[@]}" >"$R/scores/$t.json" \
        || ODD+=("sisdr: $t has missing or unreadable estimates")
    jq -r '.cases[] | [.case, .si_sdri] | @tsv' "$R/scores/$t.json" >"$R/scores/$t.tsv"
    L=$(jq -r '[.cases[] | select(.length_mismatch) | .case] | join(" ")' "$R/scores/$t.json")
    [ -z "$L" ] || ODD+=("$t: estimate length differs from the reference on $L (zero-padded/truncated)")
done
# Music cases against their reference residual (backing / tonal part): an eval
# folder whose meta.json swaps target_file and residual_file.
HAVE_SWAP=0
if [ ${#MCASES[@]} -gt 0 ] && [ ${#SAMSEP_TOOLS[@]} -gt 1 ]; then
    HAVE_SWAP=1
    for c in "${MCASES[@]}"; do
        mkdir -p "$R/eval_swap/$c"
        for f in "$EVAL/$c"/*; do ln -s "$f" "$R/eval_swap/$c/"; done
        rm "$R/eval_swap/$c/meta.json"
        jq '.target_file as $t | .target_file = .residual_file | .residual_file = $t' \
            "$EVAL/$c/meta.json" >"$R/eval_swap/$c/meta.json"
    done
    for p in drums music; do
        [ -d "$R/est/samsep_$p" ] || continue
        for k in target residual; do
            d=$R/est/swap_${p}_$k
            mkdir -p "$d"
            for c in "${MCASES[@]}"; do
                ln -s "$(pwd)/$R/est/samsep_$p/${c}_$k.wav" "$d/${c}_target.wav"
            done
            "$SISDR" "$R/eval_swap" "$d" --json >"$R/scores/swap_${p}_$k.json" || true
            jq -r '.cases[] | [.case, .si_sdri] | @tsv' "$R/scores/swap_${p}_$k.json" >"$R/scores/swap_${p}_$k.tsv"
        done
    done
fi

# shellcheck disable=SC2016 # jq program
MED='def med: sort as $s | ($s|length) as $n | if $n == 0 then null
       elif $n % 2 == 1 then $s[(($n - 1) / 2) | floor] else ($s[$n / 2 - 1] + $s[$n / 2]) / 2 end;'
speech_row() {   # -5 0 +5 +10 all median, tab-separated
    jq -r "$MED"' def g($l): ([.groups[] | select(.group == $l) | .mean_si_sdri][0]);
        [g("speech snr=-5 dB"), g("speech snr=+0 dB"), g("speech snr=+5 dB"), g("speech snr=+10 dB"),
         g("speech all"), ([.cases[] | select(.kind | startswith("speech")) | .si_sdri] | med)]
        | map(if . == null then "-" else tostring end) | @tsv' "$R/scores/$1.json"
}
case_val() { awk -F'\t' -v c="$2" '$1 == c { print $2 }' "$R/scores/$1.tsv"; }

out "# samsep quality and speed beside ffmpeg and sox"
out ""
out "$(date -u '+%Y-%m-%d %H:%M UTC'); samsep $(git describe --always --dirty 2>/dev/null || echo '?'); $(nproc) cores; uptime:$(uptime | sed 's/.*up/ up/')"
out "$(ffmpeg -version | head -1 | cut -d' ' -f1-3); $(sox --version 2>&1 | sed 's/^sox: *//'); eval set: $EVAL (${#SCASES[@]} speech, ${#MCASES[@]} music cases)"
out ""
out "## Speech: mean SI-SDR improvement (dB) of the target, per SNR group"
out ""
out "| tool | −5 dB | 0 dB | +5 dB | +10 dB | all speech | median all |"
out "|---|---|---|---|---|---|---|"
BEST=(-1e9 -1e9 -1e9 -1e9 -1e9 -1e9)
for t in samsep_speech "${PEERS[@]}"; do
    IFS=$'\t' read -r -a v <<<"$(speech_row "$t")"
    row="| $(label "$t") |"
    for i in 0 1 2 3 4 5; do
        row="$row $(fmt "${v[$i]}") |"
        if [ "$t" = samsep_speech ]; then
            S[i]=${v[$i]}
        elif [ "${v[$i]}" != - ]; then
            BEST[i]=$(awk -v a="${BEST[$i]}" -v b="${v[$i]}" 'BEGIN { print (b > a ? b : a) }')
        fi
    done
    out "$row"
done
row="| samsep − best peer |"
for i in 0 1 2 3 4 5; do
    row="$row $(fmt "$(awk -v a="${S[$i]}" -v b="${BEST[$i]}" 'BEGIN { print a - b }')") |"
done
out "$row"
out ""
out "Per case (SI-SDRi, dB):"
out ""
hdr="| case | SNR |" sep="|---|---|"
for t in samsep_speech "${PEERS[@]}"; do hdr="$hdr $(label "$t") |"; sep="$sep---|"; done
out "$hdr"
out "$sep"
for c in "${SCASES[@]}"; do
    row="| $c | $(jq -r '.snr_db | if . > 0 then "+\(.)" else tostring end' "$EVAL/$c/meta.json") |"
    for t in samsep_speech "${PEERS[@]}"; do row="$row $(fmt "$(case_val "$t" "$c")") |"; done
    out "$row"
done

if [ ${#MCASES[@]} -gt 0 ]; then
    out ""
    out "## Music: SI-SDR improvement (dB) of each tool's target against the case's reference target"
    out ""
    out "(m01–m03: target = guitar stem, residual = backing; m04: target = drums, residual = tonal guitar/piano.)"
    out ""
    hdr="| case | kind |" sep="|---|---|"
    for t in "${TOOLS[@]}"; do hdr="$hdr $(label "$t") |"; sep="$sep---|"; done
    out "$hdr"
    out "$sep"
    for c in "${MCASES[@]}"; do
        row="| $c | $(jq -r .kind "$EVAL/$c/meta.json" | sed 's/^music://') |"
        for t in "${TOOLS[@]}"; do row="$row $(fmt "$(case_val "$t" "$c")") |"; done
        out "$row"
    done
    if [ "$HAVE_SWAP" = 1 ]; then
        out ""
        out "samsep's outputs against the case's reference **residual** (m01–m03 backing, m04 tonal part):"
        out "SI-SDR improvement (dB). On m04, \`music\`'s target should rise here, and \`drums\`' residual."
        out ""
        hdr="| case |" sep="|---|"
        for p in drums music; do
            [ -d "$R/est/samsep_$p" ] || continue
            hdr="$hdr samsep $p: target | samsep $p: residual |"; sep="$sep---|---|"
        done
        out "$hdr"
        out "$sep"
        for c in "${MCASES[@]}"; do
            row="| $c |"
            for p in drums music; do
                [ -d "$R/est/samsep_$p" ] || continue
                for k in target residual; do row="$row $(fmt "$(case_val "swap_${p}_$k" "$c")") |"; done
            done
            out "$row"
        done
    fi
fi
T_SCORE=$(date +%s)

# --- speed -------------------------------------------------------------------
LONG=bench/data/long/L10/mix.wav
if [ "${SKIP_SPEED:-0}" != 1 ]; then
    if [ ! -f "$LONG" ]; then
        mkdir -p bench/data/long
        if "$PY" -c 'import numpy' 2>/dev/null; then
            "$PY" "$EVAL/make_long.py" "$EVAL" bench/data/long/L10 10 >/dev/null
            rm -f bench/data/long/L10/speech.wav bench/data/long/L10/noise.wav
        else
            mkdir -p bench/data/long/L10
            sox examples/speech_in_noise.flac -e floating-point -b 32 "$LONG" repeat 55 trim 0 600
        fi
    fi
    LONGDESC="examples/speech_in_noise.flac looped, float32"
    [ -f bench/data/long/L10/meta.json ] && LONGDESC="make_long.py speech in noise, float32"
    AUDIO_S=$(awk -v n="$(soxi -s "$LONG")" -v r="$(soxi -r "$LONG")" 'BEGIN { print n / r }')
    SO=$R/speed_out
    ST=$R/speed.tsv
    : >"$ST"
    # timed CMD...: pinned to core 0; adds runstat's wall/cpu and the peak RSS to W C M
    timed() {
        local line
        taskset -c 0 "$RUNSTAT" "$@" >/dev/null 2>"$R/logs/speed_cmd.err" || {
            ODD+=("speed: $1 failed: $(head -1 "$R/logs/speed_cmd.err")"); }
        line=$(tail -1 "$R/logs/speed_cmd.err")
        W=$(awk -v a="$W" -v l="$line" 'BEGIN { sub(/.*wall_s=/, "", l); print a + l }')
        C=$(awk -v a="$C" -v l="$line" 'BEGIN { sub(/.*cpu_s=/, "", l); print a + l }')
        M=$(awk -v a="$M" -v l="$line" 'BEGIN { sub(/.*maxrss_kib=/, "", l); l += 0; print (l > a ? l : a) }')
    }
    for rep in $(seq "$SPEED_REPS"); do
        for t in "${SPEED_TOOLS[@]}"; do
            rm -rf "$SO"
            mkdir -p "$SO"
            W=0 C=0 M=0
            case $t in
                samsep_*) timed "$SAMSEP" -q -e dsp -p "${t#samsep_}" --subtype float "$LONG" -o "$SO" ;;
                *) run_peer "$t" "$LONG" "$SO/target.wav" "$SO/noise" timed ;;
            esac
            printf '%s\t%s\t%s\t%s\t%s\n' "$t" "$rep" "$W" "$C" "$M" >>"$ST"
        done
    done
    rm -rf "$SO"
    out ""
    out "## Speed: one 10-minute 48 kHz mono file (${AUDIO_S} s; $LONGDESC), one core (taskset -c 0)"
    out ""
    out "Whole commands timed by build/runstat (start-up, decoding, processing and writing included;"
    out "sox: noiseprof + noisered). Best wall time of $SPEED_REPS runs; CPU time of that run."
    out ""
    out "| tool | wall s (best of $SPEED_REPS) | × real time (wall) | CPU s | × real time (CPU) | all walls s | peak RSS MiB |"
    out "|---|---|---|---|---|---|---|"
    for t in "${SPEED_TOOLS[@]}"; do
        out "$(awk -F'\t' -v t="$t" -v a="$AUDIO_S" -v l="$(label "$t")" '
            $1 == t { walls = walls (walls == "" ? "" : ", ") sprintf("%.2f", $3)
                      if (best == "" || $3 < best) { best = $3; cpu = $4 }
                      if ($5 > rss) rss = $5 }
            END { printf "| %s | %.2f | %.1f× | %.2f | %.1f× | %s | %.1f |", l, best, a / best, cpu, a / cpu, walls, rss / 1024 }' "$ST")"
    done
    out ""
    out "samsep writes both outputs (target and residual); the peers write the target only."
fi
T_SPEED=$(date +%s)

# --- checks ------------------------------------------------------------------
out ""
out "## Checks"
out ""
mkdir -p "$R/est/check_perfect" "$R/est/check_mixture"
for c in "${CASES[@]}"; do
    tf=$(jq -r .target_file "$EVAL/$c/meta.json")
    ln -s "$EVAL/$c/$tf" "$R/est/check_perfect/${c}_target.${tf##*.}"
    ln -s "$(pwd)/$R/in/$c.wav" "$R/est/check_mixture/${c}_target.wav"
done
"$SISDR" "$EVAL" "$R/est/check_perfect" >"$R/scores/check_perfect.txt" || true
"$SISDR" "$EVAL" "$R/est/check_mixture" >"$R/scores/check_mixture.txt" || true
"$SISDR" "$EVAL" "$R/est/check_mixture" --json >"$R/scores/check_mixture.json" || true
n_inf=$(awk -v n=${#CASES[@]} 'NR > 1 && NR <= n + 1 && $(NF - 2) == "+inf" && $NF == "+inf"' "$R/scores/check_perfect.txt" | wc -l)
mx=$(jq '[.cases[].si_sdri | fabs] | max' "$R/scores/check_mixture.json")
n_mix=$(jq '.cases | length' "$R/scores/check_mixture.json")
out "- scorer, perfect estimate (the reference itself): SI-SDR and SI-SDRi = +inf on $n_inf of ${#CASES[@]} cases"
out "- scorer, estimate = mixture (the float WAV copies the tools read): SI-SDRi on $n_mix of ${#CASES[@]} cases, largest |value| $mx dB"
if [ "${SKIP_XCHECK:-0}" != 1 ] && "$PY" -c 'import numpy' 2>/dev/null; then
    for t in samsep_speech sox_021; do
        "$PY" "$EVAL/score.py" "$EVAL" "$R/est/$t" --quiet --json "$R/scores/scorepy_$t.json" >/dev/null
        out "- $(label "$t"): tools/sisdr vs ../shared/eval/score.py, $("$PY" - "$R/scores/$t.json" "$R/scores/scorepy_$t.json" <<'EOF'
import json, sys
a = {c['case']: c['si_sdri'] for c in json.load(open(sys.argv[1]))['cases']}
b = {r['case']: r['t_si_sdri'] for r in json.load(open(sys.argv[2]))['rows']}
common = sorted(set(a) & set(b))
d = max(abs(a[c] - b[c]) for c in common)
worst = max(common, key=lambda c: abs(a[c] - b[c]))
print('%d cases, largest |difference| %.1e dB (%s: %.10f vs %.10f)' % (len(common), d, worst, a[worst], b[worst]))
EOF
)"
    done
else
    out "- score.py cross-check skipped (SKIP_XCHECK=1 or no numpy in $PY)"
fi
T_END=$(date +%s)
if [ ${#ODD[@]} -gt 0 ]; then
    out ""
    out "## Notes from this run"
    out ""
    for o in "${ODD[@]}"; do out "- $o"; done
fi
out ""
out "Load at the end:$(uptime | sed 's/.*up/ up/')"
out "Run time: $((T_END - T0)) s (tools $((T_RUN - T0)) s, scoring $((T_SCORE - T_RUN)) s, speed $((T_SPEED - T_SCORE)) s, checks $((T_END - T_SPEED)) s). Files: $R/, $MD."

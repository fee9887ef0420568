#!/usr/bin/env bash
# The report in a real browser: headless Chromium opens index.html of a
# batch of three inputs (one failing); its DOM has the three rows with
# their statuses, two pictures and seven players, and its screenshot shows
# the pictures (a page of text alone is mostly white and has few colours).
# Skips, saying why, where Chromium is missing or cannot start.
. "$(dirname "$0")/lib.sh"
need ffmpeg ffprobe
command -v chromium >/dev/null 2>&1 ||
    skip "needs Chromium (Debian package chromium) to open the report"

# browse OUT-FILE CHROMIUM-ARGS...: run headless Chromium on the report
# (as root it needs --no-sandbox); its messages go to $T/chromium.log.
browse() {
    local out=$1
    shift
    timeout 90 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
        --no-first-run --user-data-dir="$T/chromium-profile" "$@" \
        "file://$T/rep/index.html" >"$out" 2>>"$T/chromium.log"
}

say "a batch of three inputs, one of them not audio, with --report"
tone in/speech.wav 3 16000 1 300
sox -q -n -r 44100 -c 2 -b 16 in/sweep.wav synth 4 sine 100-8000 vol 0.4
printf 'not audio either\n' >in/broken.wav
ss --report rep in -o out
assert_rc 1 "one input fails"
assert_exists rep/index.html rep/speech.png rep/sweep.png

say "Chromium's DOM of the page"
if ! browse "$T/dom.html" --dump-dom || ! grep -q '<table' "$T/dom.html"; then
    tail -5 "$T/chromium.log"
    skip "headless Chromium could not open the page here (its log is above)"
fi
python3 - "$T/dom.html" <<'EOF' || fail "the page Chromium built is not the report"
import html.parser, sys
class Dom(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows, self.imgs, self.audio = [], [], 0
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr" and "item" in (a.get("class") or "").split():
            self.rows.append(a["class"].split()[1])
        if tag == "img":
            self.imgs.append(a.get("src"))
        if tag == "audio":
            self.audio += 1
d = Dom()
d.feed(open(sys.argv[1], encoding="utf-8").read())
print(f"   rows: {d.rows}; pictures: {d.imgs}; players: {d.audio}")
ok = d.rows == ["failed", "done", "done"] and d.imgs == ["speech.png", "sweep.png"] \
    and d.audio == 7
sys.exit(0 if ok else 1)
EOF

say "Chromium's screenshot of the page shows the pictures"
browse /dev/null --screenshot="$T/screenshot.png" --window-size=1400,1300 ||
    fail "Chromium could not take a screenshot (log: $(tail -3 "$T/chromium.log"))"
assert_exists "$T/screenshot.png"
read -r w h nonwhite colours <<<"$(png_stats "$T/screenshot.png")"
echo "   screenshot ${w}x$h: $nonwhite not white, $colours colours"
python3 -c "import sys; sys.exit(0 if $nonwhite > 0.15 and $colours > 3000 else 1)" ||
    fail "the screenshot shows no pictures ($nonwhite not white, $colours colours)"
for f in rep/speech.png rep/sweep.png; do
    read -r w h nonwhite colours <<<"$(png_stats "$f")"
    echo "   $f ${w}x$h: $nonwhite not white, $colours colours"
    python3 -c "import sys; sys.exit(0 if $nonwhite > 0.4 and $colours > 100 else 1)" ||
        fail "$f looks blank"
done
if [ -n "${SCN_KEEP:-}" ]; then
    echo "   screenshot: $T/screenshot.png"
fi

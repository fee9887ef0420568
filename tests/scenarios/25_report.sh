#!/usr/bin/env bash
# --report DIR: per input a PNG of the spectrograms (mixture, target,
# residual) and one index.html with a row per input - status and why,
# figures (repaired NaN/infinite samples among them), the picture, players
# for the input and both outputs - all linked
# relative to DIR. A re-run that skips finished inputs still shows their
# pictures; --dry-run writes no report; the config file's "report" key
# works like the flag. (26_report_browser.sh opens the page in a browser.)
. "$(dirname "$0")/lib.sh"
need ffmpeg ffprobe

# check_page DIR EXPECT...: index.html in DIR has one row per EXPECT
# ("input=status[:picture]", picture "pic" when the row must show one), in
# order; every link in it (pictures, players, inputs) resolves to a file
# under DIR's relative view, and players point at the right files.
check_page() {
    python3 - "$@" <<'EOF' || fail "index.html in $1 is not what it should be"
import html.parser, os, sys, urllib.parse
d = sys.argv[1]
want = [a.split("=", 1) for a in sys.argv[2:]]

class Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows, self.cls, self.text, self.summary = [], [], None, ""
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        c = (a.get("class") or "").split()
        if tag == "tr" and "item" in c:
            self.rows.append({"class": c, "img": [], "audio": [], "a": [], "status": ""})
        elif self.rows and tag == "img":
            self.rows[-1]["img"].append(a["src"])
        elif self.rows and tag == "audio":
            self.rows[-1]["audio"].append(a["src"])
        elif self.rows and tag == "a":
            self.rows[-1]["a"].append(a["href"])
        self.cls.append(c)
    def handle_endtag(self, tag):
        if self.cls:
            self.cls.pop()
    def handle_data(self, data):
        here = self.cls[-1] if self.cls else []
        if "status" in here and self.rows:
            self.rows[-1]["status"] += data
        if "summary" in here or (len(self.cls) > 1 and "summary" in self.cls[-2]):
            self.summary += data

p = Page()
p.feed(open(os.path.join(d, "index.html"), encoding="utf-8").read())
bad = []
if len(p.rows) != len(want):
    bad.append(f"{len(p.rows)} rows, expected {len(want)}")
for row, (name, exp) in zip(p.rows, want):
    status, _, pic = exp.partition(":")
    if status not in row["class"]:
        bad.append(f"{name}: class {row['class']}, expected {status}")
    if not row["status"].startswith(status if status != "not-reached" else "not reached"):
        bad.append(f"{name}: status text {row['status']!r}")
    if (pic == "pic") != bool(row["img"]):
        bad.append(f"{name}: pictures {row['img']}, expected {'one' if pic else 'none'}")
    for link in row["img"] + row["audio"] + row["a"]:
        path = os.path.join(d, urllib.parse.unquote(link))
        if not os.path.isfile(path):
            bad.append(f"{name}: link {link} -> {path} is not a file")
    if row["audio"] and os.path.realpath(os.path.join(d, urllib.parse.unquote(row["audio"][0]))) != os.path.realpath(name):
        bad.append(f"{name}: the first player is {row['audio'][0]}, not the input")
    if status == "done" and len(row["audio"]) != 3:
        bad.append(f"{name}: {len(row['audio'])} players, expected 3")
    print(f"   row {name}: {row['status'].strip()[:70]}; {len(row['img'])} picture(s), "
          f"{len(row['audio'])} player(s)")
print(f"   summary: {' '.join(p.summary.split())}")
for b in bad:
    print("   BAD:", b)
sys.exit(1 if bad else 0)
EOF
}

say "three inputs: a mono float WAV with a NaN and an infinity, a stereo FLAC with an awkward name in a sub-folder, and a file that is not audio"
mkdir -p in
python3 - in/a.wav <<'EOF'
import math, random, struct, sys
rate, n = 16000, 32000
random.seed(3)
x = [0.3 * math.sin(2 * math.pi * 440 * i / rate) + 0.1 * (random.random() - 0.5)
     for i in range(n)]
x[1000], x[20000] = float("nan"), float("inf")
data = struct.pack("<%df" % n, *x)
fmt = struct.pack("<HHIIHH", 3, 1, rate, rate * 4, 4, 32)
with open(sys.argv[1], "wb") as f:
    f.write(b"RIFF" + struct.pack("<I", 4 + 8 + len(fmt) + 8 + len(data)) + b"WAVE")
    f.write(b"fmt " + struct.pack("<I", len(fmt)) + fmt)
    f.write(b"data" + struct.pack("<I", len(data)) + data)
EOF
mkdir -p in/sub
sox -q -n -r 48000 -c 2 -b 16 "in/sub/b #1 50%.flac" synth 3 sine 200-4000 vol 0.4
printf 'this is not audio\n' >in/c.wav

say "--dry-run writes no report"
ss --dry-run -r --report rep in -o out
assert_rc 0
assert_absent rep out

say "a batch with --report: two done, one failed"
ss --json -r --report rep in -o out
assert_rc 1 "one input fails"
json_lines "$OUT"
assert_eq "$(json_query "$OUT" 'sum(1 for e in ev if e["event"]=="done")')" 2 "done events"
assert_exists rep/index.html rep/a.png "rep/sub/b #1 50%.png"
left=$(find rep -name '.*' | head -3)
[ -z "$left" ] || fail "temporaries left in the report folder: $left"
check_page rep "in/a.wav=done:pic" "in/c.wav=failed" "in/sub/b #1 50%.flac=done:pic"
assert_grep rep/index.html 'failed: .*not a readable audio file' "index.html"
assert_grep rep/index.html 'finished.*exit status 1' "index.html"
assert_grep rep/index.html '<dd class="duration">2.00 s</dd>' "index.html"
assert_grep rep/index.html '<dd class="clamped">0 samples</dd>' "index.html"
assert_grep rep/index.html '<dd class="repaired">2 samples</dd>' "index.html"
assert_grep rep/index.html '<dd class="repaired">0 samples</dd>' "index.html"

say "the pictures: one size whatever the file, and not blank"
for f in rep/a.png "rep/sub/b #1 50%.png"; do
    read -r w h nonwhite colours <<<"$(png_stats "$f")"
    echo "   $f: ${w}x$h, $nonwhite not white, $colours colours"
    assert_eq "${w}x$h" 958x556 "size of $f"
    python3 -c "import sys; sys.exit(0 if $nonwhite > 0.4 and $colours > 100 else 1)" ||
        fail "$f looks blank ($nonwhite of it not white, $colours colours)"
done

say "a re-run skips the finished inputs and still shows their pictures"
ss -r --report rep in -o out
assert_rc 1
check_page rep "in/a.wav=skipped:pic" "in/c.wav=failed" "in/sub/b #1 50%.flac=skipped:pic"

say "without samsep-picture beside it (nor installed), --report is refused before any work"
mkdir -p "$T/bin"
cp "$SAMSEP_BIN" "$T/bin/samsep"
LAST_CMD="samsep (a copy alone) --report rep_none in/a.wav -o out_none"
set +e
"$T/bin/samsep" --report rep_none in/a.wav -o out_none </dev/null >"$OUT" 2>"$ERR"
RC=$?
set -e
if [ "$RC" = 0 ]; then
    echo "   (it found an installed samsep-picture: not checked here)"
else
    assert_rc 2
    assert_err 'cannot find samsep-picture'
    assert_absent out_none rep_none
fi

say "the config file's \"report\" key"
mkdir -p "$XDG_CONFIG_HOME/samsep"
echo '{"report": "rep_cfg"}' >"$XDG_CONFIG_HOME/samsep/config.json"
ss --overwrite in/a.wav -o out
assert_rc 0
check_page rep_cfg "in/a.wav=done:pic"

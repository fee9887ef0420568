#!/bin/sh
# Check the C sources against .clang-format: lists each file that clang-format
# would change and exits 1 when there is any (0 when all follow it). With -i,
# rewrites those files in place instead. Covers the tracked *.c and *.h files
# of src cli include tools tests bench fuzz examples; CLANG_FORMAT names the
# program (default clang-format).
set -eu
cd "$(dirname "$0")/.."
CLANG_FORMAT=${CLANG_FORMAT:-clang-format}

apply=0
case "${1:-}" in
-i) apply=1 ;;
"") ;;
*) echo "usage: scripts/format.sh [-i]" >&2; exit 2 ;;
esac
command -v "$CLANG_FORMAT" >/dev/null 2>&1 || {
    echo "format: $CLANG_FORMAT not found (scripts/setup.sh installs clang-format)" >&2
    exit 2
}

files=$(git ls-files -- 'src/*.[ch]' 'cli/*.[ch]' 'include/*.[ch]' 'tools/*.[ch]' \
        'tests/*.[ch]' 'bench/*.[ch]' 'fuzz/*.[ch]' 'examples/*.[ch]')
differ=0
for f in $files; do
    if ! "$CLANG_FORMAT" --style=file "$f" | cmp -s - "$f"; then
        if [ "$apply" -eq 1 ]; then
            "$CLANG_FORMAT" --style=file -i "$f"
            echo "formatted $f"
        else
            echo "$f"
            differ=1
        fi
    fi
done
[ "$differ" -eq 0 ] || echo "format: the files above differ from .clang-format (scripts/format.sh -i)" >&2
exit "$differ"

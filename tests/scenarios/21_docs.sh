#!/usr/bin/env bash
# The documentation cannot drift from the program: every option in samsep's
# getopt table (cli/options.c) is in `samsep --help`, in the README's options
# table and among the man page's OPTIONS; every option those three name is
# one the program accepts; and every file of the project the README and the
# man page name exists.
. "$(dirname "$0")/lib.sh"

ROOT=$(cd "$SCN_DIR/../.." && pwd)
README=$ROOT/README.md
MAN=$ROOT/doc/samsep.1

# The program's options, from its getopt_long table and option string.
longs=$(grep -oE '\{ *"[a-z0-9-]+", *(no|required|optional)_argument' "$ROOT/cli/options.c" |
    sed -E 's/\{ *"([a-z0-9-]+)".*/\1/' | sort -u)
shorts=$(grep -oE 'getopt_long\([^"]*"[^"]*"' "$ROOT/cli/options.c" |
    sed -E 's/.*"([^"]*)"$/\1/' | tr -d ':' | fold -w1 | sort -u)
[ "$(echo "$longs" | wc -l)" -ge 20 ] || fail "could not read the option table: $longs"
[ -n "$shorts" ] || fail "could not read the getopt option string"

ss --help
assert_rc 0
help=$OUT
# The README's options table: the first cell of each row naming an option.
readme_opts=$(grep -E '^\| `-' "$README" | cut -d'`' -f2- | sed -E 's/` \|.*//')
# The man page's OPTIONS section: the line after each .TP names the option.
man_opts=$(sed -n '/^\.SH OPTIONS/,/^\.SH /p' "$MAN" | awk 'p { print; p = 0 } /^\.TP/ { p = 1 }' |
    sed 's/\\-/-/g')

say "every long option is in --help, the README's table and the man page"
for o in $longs; do
    grep -qE -- "--$o([^a-z0-9-]|$)" "$help" || fail "--$o is missing from samsep --help"
    echo "$readme_opts" | grep -qE -- "--$o([^a-z0-9-]|$)" ||
        fail "--$o is missing from the options table in README.md"
    echo "$man_opts" | grep -qE -- "--$o([^a-z0-9-]|$)" ||
        fail "--$o is missing from the OPTIONS of doc/samsep.1"
done

say "every short option likewise"
for o in $shorts; do
    grep -qE -- "(^|[^a-z0-9-])-$o([^a-z0-9-]|$)" "$help" || fail "-$o is missing from samsep --help"
    echo "$readme_opts" | grep -qE -- "(^|[^a-z0-9-])-$o([^a-z0-9-]|$)" ||
        fail "-$o is missing from the options table in README.md"
    echo "$man_opts" | grep -qE -- "(^|[^a-z0-9-])-$o([^a-z0-9-]|$)" ||
        fail "-$o is missing from the OPTIONS of doc/samsep.1"
done

say "every option the three name is one samsep accepts"
named=$( { grep -oE -- '--[a-z0-9][a-z0-9-]*' "$help"
           echo "$readme_opts" | grep -oE -- '--[a-z0-9][a-z0-9-]*'
           sed -n '/^\.SH SYNOPSIS/,/^\.SH SAFETY/p' "$MAN" | sed 's/\\-/-/g' |
               grep -oE -- '--[a-z0-9][a-z0-9-]*'; } | sort -u)
for o in $named; do
    echo "$longs" | grep -qx -- "${o#--}" || fail "$o is documented but samsep has no such option"
done

say "every project file the README and the man page name exists"
paths=$( { grep -oE '`[A-Za-z0-9_./-]+`' "$README" | tr -d '`'
           sed 's/\\-/-/g; s/\\f[BIRP]//g' "$MAN" | grep -oE '[A-Za-z0-9_./-]+' ; } |
    grep -E '^(include|src|cli|tests|bench|tools|doc|scripts|examples|fuzz)/|^[A-Za-z0-9_./-]+\.md$' |
    sed 's/[.]$//' | sort -u)
[ -n "$paths" ] || fail "found no file names in README.md and doc/samsep.1"
for p in $paths; do
    [ -e "$ROOT/$p" ] || fail "$p is named in the documentation but does not exist"
done
echo "   checked: $(echo $paths)"

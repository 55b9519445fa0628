#!/bin/sh
# loops.sh - calls between the files of common/ go one way: no two object
# files of the library use each other's symbols (A calls B and B calls A).
# tests/layers.sh checks the folders on the includes; this checks the
# files on what the compiler actually left undefined, so a call through a
# prototype written by hand, or an inline helper of a private header
# calling the other file, is caught too.
#
# Run by `make check` on the objects of the build ($top_builddir/common/
# */*.o whose .c is in $top_srcdir); `tests/loops.sh DIR` checks the build
# tree at DIR. Exit 0 with no loop, 1 with one line per pair ("a.o <-> b.o:
# what each uses of the other"), 77 when nm is missing, 99 when there are
# no objects.
root=${1:-${top_builddir:-.}}
src=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
NM=${NM:-nm}
command -v "$NM" >/dev/null 2>&1 || { echo "loops.sh: $NM not found: cannot check"; exit 77; }
cd "$root" || exit 99
# Only the objects of sources that still exist: a file moved or removed
# leaves its old object in the build tree.
set --
for o in common/*/*.o; do
	[ -f "$src/${o%.o}.c" ] && set -- "$@" "$o"
done
[ $# -gt 0 ] || { echo "loops.sh: $root/common/*/*.o: no objects (build the library first)" >&2; exit 99; }

tmp=${TMPDIR:-/tmp}/loops.$$
trap 'rm -f "$tmp" "$tmp.nm" "$tmp.out"' EXIT
trap 'exit 99' INT TERM
# One line per global symbol: "OBJECT TYPE NAME", in POSIX format so that
# the columns do not depend on the nm at hand (undefined ones have no
# address). U is undefined, w and v are weak references; every other
# type defines the name.
for o in "$@"; do
	"$NM" -P -g "$o" >"$tmp.nm" || { echo "loops.sh: $NM $o failed" >&2; exit 99; }
	awk -v o="$o" 'NF >= 2 { print o, $2, $1 }' "$tmp.nm"
done >"$tmp"

awk '
$2 == "U" || $2 == "w" || $2 == "v" { use[++n] = $1 " " $3; next }
{ if (!($3 in def)) def[$3] = $1 }
END {
	# edge[a " " b]: the names a uses that b defines
	for (i = 1; i <= n; i++) {
		split(use[i], u, " ")
		if (!(u[2] in def) || def[u[2]] == u[1])
			continue
		k = u[1] " " def[u[2]]
		edge[k] = edge[k] " " u[2]
	}
	for (k in edge) {
		split(k, ab, " ")
		back = ab[2] " " ab[1]
		if (ab[1] < ab[2] && (back in edge))
			printf "%s <-> %s: %s uses%s; %s uses%s\n", ab[1], ab[2], ab[1],
				edge[k], ab[2], edge[back]
	}
}' "$tmp" | sort >"$tmp.out"
if [ -s "$tmp.out" ]; then
	cat "$tmp.out"
	bad=$(wc -l <"$tmp.out" | tr -d ' ')
	echo "loops.sh: $bad pair(s) of files in common/ call each other: move the" \
		"shared part into a lower file, or the caller of both into a higher one"
	exit 1
fi
exit 0

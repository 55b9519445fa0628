# testlib.sh - the checks the CLI tests share, sourced after they set
# $tmp (a scratch directory) and passes=0 fails=0:
#   expect STATUS CMD...   run CMD (stdout to $tmp/out, stderr to $tmp/err)
#                          and check its exit status
#   has FILE PATTERN WHAT  FILE matches the grep PATTERN
#   eq GOT WANT WHAT       two strings are equal
#   same A B WHAT          two files are equal
#   absent PATH WHAT       PATH does not exist
#   empty FILE WHAT        FILE is empty
# ok and fail count; each failure prints one "FAIL:" line.
ok() { passes=$((passes + 1)); }
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
expect() {
	want=$1; shift
	"$@" >"$tmp/out" 2>"$tmp/err"
	got=$?
	if [ "$got" -eq "$want" ]; then ok; else
		fail "exit $got (expected $want): $*"; sed 's/^/  stderr: /' "$tmp/err" | head -20
	fi
}
has() { if grep -q -e "$2" "$1"; then ok; else fail "$3: no '$2' in: $(head -c 600 "$1")"; fi; }
eq() { if [ "$1" = "$2" ]; then ok; else fail "$3: got '$1', expected '$2'"; fi; }
same() { if cmp -s "$1" "$2"; then ok; else fail "$3: $1 and $2 differ"; fi; }
absent() { if [ ! -e "$1" ]; then ok; else fail "$2: $1 exists"; fi; }
empty() { if [ ! -s "$1" ]; then ok; else fail "$2: $1 is not empty"; fi; }

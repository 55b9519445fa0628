#!/bin/sh
# tokenize-parity.sh - the corpus through the program, end to end: every
# single-line caption of tests/fixtures/tokenizer/corpus-lines.txt.gz piped
# through rclip-tokenize must give open_clip's ids (corpus-lines.ids.gz),
# line for line, with one thread and with all of them.
set -u
: "${top_builddir:=.}" "${top_srcdir:=.}"
tok="$top_builddir/tools/rclip-tokenize"
fx="$top_srcdir/tests/fixtures/tokenizer"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
gzip -dc "$fx/corpus-lines.txt.gz" >"$tmp/lines.txt" || exit 1
gzip -dc "$fx/corpus-lines.ids.gz" >"$tmp/want.txt" || exit 1
fails=0
for j in 1 0; do
	if ! "$tok" -j "$j" -q "$tmp/lines.txt" >"$tmp/got.txt"; then
		echo "FAIL: rclip-tokenize -j $j exited non-zero"
		fails=$((fails + 1))
		continue
	fi
	bad=$(paste -d '\t' "$tmp/got.txt" "$tmp/want.txt" | awk -F '\t' '$1 != $2' | wc -l | tr -d ' ')
	n=$(wc -l <"$tmp/want.txt" | tr -d ' ')
	if [ "$bad" -ne 0 ] || ! cmp -s "$tmp/got.txt" "$tmp/want.txt"; then
		echo "FAIL: -j $j: $bad of $n lines differ from open_clip; the first:"
		paste -d '\n' "$tmp/lines.txt" "$tmp/got.txt" "$tmp/want.txt" |
			awk 'NR % 3 == 1 {t = $0} NR % 3 == 2 {g = $0} NR % 3 == 0 && g != $0 {print "  text:  " t; print "  rclip: " g; print "  open_clip: " $0; if (++k == 5) exit}'
		fails=$((fails + 1))
	else
		echo "-j $j: $n lines, all equal to open_clip"
	fi
done
echo "tokenize-parity: $((2 - fails)) passed, $fails failed"
[ "$fails" -eq 0 ]

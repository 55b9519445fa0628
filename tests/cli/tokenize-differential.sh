#!/bin/sh
# tokenize-differential.sh - rclip-tokenize against open_clip itself on
# random captions it has never seen (tests/fixtures/diff_tokenizer.py).
# Needs the fixtures venv (build-aux/install-deps.sh --fixtures, found at
# $RCLIP_VENV or ~/.cache/rclip/venv); skips (77) without it. The seed is
# fixed unless RCLIP_DIFF_SEED is set; RCLIP_DIFF_COUNT sets the size.
set -u
: "${top_builddir:=.}" "${top_srcdir:=.}"
venv=${RCLIP_VENV:-${HOME:-/root}/.cache/rclip/venv}
py="$venv/bin/python"
if ! [ -x "$py" ] || ! "$py" -c 'import open_clip, ftfy' >/dev/null 2>&1; then
	echo "SKIP: no fixtures venv with open_clip at $venv"
	exit 77
fi
seed=${RCLIP_DIFF_SEED:-20261130}
count=${RCLIP_DIFF_COUNT:-5000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$py" "$top_srcdir/tests/fixtures/diff_tokenizer.py" "$seed" "$count" "$tmp/c" 2>/dev/null || {
	echo "FAIL: the generator failed"; exit 1; }
"$top_builddir/tools/rclip-tokenize" -q "$tmp/c.txt" >"$tmp/got" || { echo "FAIL: rclip-tokenize"; exit 1; }
bad=$(paste -d '\t' "$tmp/got" "$tmp/c.ids" | awk -F '\t' '$1 != $2' | wc -l | tr -d ' ')
if [ "$bad" -ne 0 ]; then
	echo "FAIL: seed $seed: $bad of $count captions differ from open_clip; the first:"
	paste -d '\n' "$tmp/c.txt" "$tmp/got" "$tmp/c.ids" |
		awk 'NR % 3 == 1 {t = $0} NR % 3 == 2 {g = $0} NR % 3 == 0 && g != $0 {print "  text:  " t; print "  rclip: " g; print "  open_clip: " $0; if (++k == 5) exit}'
	echo "tokenize-differential: 0 passed, 1 failed"
	exit 1
fi
echo "seed $seed: $count random captions, all equal to open_clip"
echo "tokenize-differential: 1 passed, 0 failed"

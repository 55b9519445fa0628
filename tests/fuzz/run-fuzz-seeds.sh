#!/bin/sh
# run-fuzz-seeds.sh - a short regression run of the libFuzzer targets: each
# seed, then a few thousand mutations from a fixed seed (seconds). Long runs:
# `make fuzz`, then tests/fuzz/fuzz-bpe -max_total_time=600 DIR.
set -eu
: "${top_builddir:=.}" "${top_srcdir:=.}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$top_srcdir"/tests/fuzz/seeds-bpe/* "$work"/
"$top_builddir/tests/fuzz/fuzz-bpe" -seed=1 -runs=20000 -max_len=4096 "$work" 2>"$work.log" || {
	cat "$work.log"; rm -f "$work.log"; exit 1; }
tail -n 2 "$work.log"
rm -f "$work.log"
echo "fuzz-bpe: 1 passed, 0 failed"

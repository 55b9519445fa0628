#!/bin/sh
# run-fuzz-seeds.sh - a short regression run of the libFuzzer targets: for
# each tests/fuzz/seeds-NAME/, the target fuzz-NAME runs every seed, then a
# few thousand mutations from a fixed seed (seconds). Long runs: `make fuzz`,
# then tests/fuzz/fuzz-NAME -close_fd_mask=2 -max_total_time=600 DIR.
# -close_fd_mask=2 drops what the code under test logs on stderr (libFuzzer
# keeps its own report and the sanitizers').
set -eu
: "${top_builddir:=.}" "${top_srcdir:=.}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pass=0
fail=0
for seeds in "$top_srcdir"/tests/fuzz/seeds-*/; do
	name=${seeds%/}
	name=${name##*/seeds-}
	bin=$top_builddir/tests/fuzz/fuzz-$name
	if [ ! -x "$bin" ]; then
		echo "fuzz-$name: not built ($bin)"
		fail=$((fail + 1))
		continue
	fi
	mkdir "$work/$name"
	cp "$seeds"* "$work/$name"/
	if "$bin" -seed=1 -runs=20000 -max_len=4096 -close_fd_mask=2 \
		"$work/$name" 2>"$work/$name.log"; then
		tail -n 2 "$work/$name.log"
		pass=$((pass + 1))
	else
		cat "$work/$name.log"
		echo "fuzz-$name: FAILED"
		fail=$((fail + 1))
	fi
done
echo "fuzz: $pass passed, $fail failed"
[ "$fail" = 0 ]

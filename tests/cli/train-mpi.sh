#!/bin/sh
# train-mpi.sh - data parallelism under mpirun, --gather exact: 2 ranks
# with 4 rows each and 4 ranks with 2 end where 1 rank with the batch of
# 8 ends, within float32 reduction tolerance (the gradients are summed
# over ranks in another order). Every step's losses agree within 1e-5;
# the final parameters within 1e-4, and within 5e-6 outside the attention
# k_proj biases (their true gradient is zero: AdamW scales rounding noise
# there up to ~1e-5). Prints the largest differences. (--gather official,
# the default, is checked against its reference in train-official.sh.)
# Skips (77) without mpirun or without MPI in the build.
set -u
: "${top_builddir:=.}" "${top_srcdir:=.}"
bin="$top_builddir/tools"
help="$top_builddir/tests/cli/train-helper"
fx="$top_srcdir/tests/fixtures/train"
command -v mpirun >/dev/null 2>&1 || { echo "no mpirun: skipped"; exit 77; }
"$bin/rclip-train" --version | grep -q 'mpi' || { echo "built without MPI: skipped"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
run() { "$@" || { echo "FAIL: $*"; fails=$((fails + 1)); }; }
# CI runs as root in a container: Open MPI asks for these
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_btl_base_warn_component_unused=0
# Open MPI's own allocations are never freed: LeakSanitizer (the ASan
# build) would fail every rank at exit for them
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"

run "$bin/rclip-shard" -q -s 32 --store raw -o "$tmp/lite" "$top_srcdir/tests/fixtures/train/lite.jsonl"
job="--stage 1 --init $fx/init --data $tmp/lite.list --batch 8 --steps 12 --seed 3
	--gather exact --lr 1e-3 -j 1 -q"
run "$bin/rclip-train" $job --out "$tmp/one"
for np in 2 4; do
	if ! mpirun -np $np "$bin/rclip-train" $job --out "$tmp/np$np" 2>"$tmp/err"; then
		cat "$tmp/err"
		if grep -qi 'not enough slots\|unable to launch\|could not be launched' "$tmp/err"; then
			echo "mpirun cannot start $np processes here: skipped"; exit 77
		fi
		echo "FAIL: mpirun -np $np"; exit 1
	fi
	# the per-step losses: the N-rank metrics against the 1-rank ones
	n1=$(wc -l < "$tmp/one/metrics.jsonl"); n2=$(wc -l < "$tmp/np$np/metrics.jsonl")
	[ "$n1" -eq 12 ] && [ "$n2" -eq 12 ] ||
		{ echo "FAIL: $n1 and $n2 metric lines"; fails=$((fails + 1)); }
	paste -d' ' "$tmp/one/metrics.jsonl" "$tmp/np$np/metrics.jsonl" |
		sed 's/{"step": [0-9]*, "epoch": [0-9]*, "loss": \([^,]*\),.*{"step": [0-9]*, "epoch": [0-9]*, "loss": \([^,]*\),.*/\1 \2/' |
		awk -v np=$np '{ d = $1 - $2; if (d < 0) d = -d; if (d > m) m = d } END { printf "%d ranks: loss: largest difference over %d steps %.3g\n", np, NR, m; exit !(NR == 12 && m <= 1e-5) }' ||
		{ echo "FAIL: losses at $np ranks"; fails=$((fails + 1)); }
	run "$help" compare "$tmp/np$np/final.safetensors" "$tmp/one/final.safetensors" 1e-4
	run "$help" compare "$tmp/np$np/final.safetensors" "$tmp/one/final.safetensors" 5e-6 -k_proj.bias
done
echo "train-mpi: $fails failed"
[ "$fails" -eq 0 ]

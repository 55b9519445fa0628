#!/bin/sh
# train-mpi.sh - data parallelism under mpirun.
# --gather exact: 2 ranks with 4 rows each and 4 ranks with 2 end where 1
# rank with the batch of 8 ends, within float32 reduction tolerance (the
# gradients are summed over ranks in another order). Every step's losses
# agree within 1e-5; the final parameters within 1e-4, and within 5e-6
# outside the attention k_proj biases (their true gradient is zero: AdamW
# scales rounding noise there up to ~1e-5).
# --gather official (the default): 2 and 4 ranks of the CLIP loss and 2 of
# SigLIP's against the official code's semantics run in PyTorch
# (tests/fixtures/gen_official.py: each rank's rows against the gathered
# columns, the other ranks' embeddings without gradient, DDP's average),
# as train-official.sh checks one rank: each step's figures within 1e-5
# relative, the final parameters within 1e-4 (2e-6 outside k_proj.bias).
# Prints the largest differences. Skips (77) without mpirun or without MPI
# in the build.
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

# mpi NP ARGS...: rclip-train under mpirun -np NP (exit 77 when mpirun
# cannot start that many processes here)
mpi() {
	np=$1; shift
	mpirun -np "$np" "$bin/rclip-train" "$@" 2>"$tmp/err" && return 0
	cat "$tmp/err"
	if grep -qi 'not enough slots\|unable to launch\|could not be launched' "$tmp/err"; then
		echo "mpirun cannot start $np processes here: skipped"; exit 77
	fi
	echo "FAIL: mpirun -np $np"; exit 1
}

run "$bin/rclip-shard" -q -s 32 --store raw -o "$tmp/lite" "$top_srcdir/tests/fixtures/train/lite.jsonl"
job="--stage 1 --init $fx/init --data $tmp/lite.list --batch 8 --steps 12 --seed 3
	--gather exact --lr 1e-3 -j 1 -q"
run "$bin/rclip-train" $job --out "$tmp/one"
for np in 2 4; do
	mpi $np $job --out "$tmp/np$np"
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

# the official gather against its reference (train-official.sh's stage-1
# runs, from the fixture model as it is)
ref="$top_srcdir/tests/fixtures/official"
s1="--stage 1 --init $fx/init --data $tmp/lite.list --batch 8 --steps 12 --warmup 0.1
	--lr 1e-3 --wd 0.05 --shuffle none -j 1 -q"
for r in gather2:2 gather4:4 gather2_siglip:2; do
	name=${r%:*} np=${r#*:} extra= bias=
	[ "$name" = gather2_siglip ] && extra="--loss siglip --lr 5e-4" bias=logit_bias
	mpi $np $s1 $extra --out "$tmp/$name"
	run "$help" steps "$tmp/$name/metrics.jsonl" "$ref/steps.json" $name rel:1e-5 loss \
		loss_tb loss_trl w grad_norm logit_scale $bias
	run "$help" steps "$tmp/$name/metrics.jsonl" "$ref/steps.json" $name 1e-12 l2
	run "$help" compare "$tmp/$name/final.safetensors" "$ref/$name-final.safetensors" 1e-4
	run "$help" compare "$tmp/$name/final.safetensors" "$ref/$name-final.safetensors" 2e-6 \
		-k_proj.bias
done
echo "train-mpi: $fails failed"
[ "$fails" -eq 0 ]

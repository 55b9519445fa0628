#!/bin/sh
# Speed of rclip-train against the PyTorch reference loop
# (tests/bench/bench_train_ref.py: the recipe of tests/fixtures/gen_train.py,
# stage 1 on the tiny fixture CLIP) at the same thread count and batch, one
# after the other in this run: optimizer steps per second, the median over
# RUNS runs of each side's per-run median (rclip: from metrics.jsonl's
# samples_per_s of the steps after 2 warm-up steps; PyTorch: its timed
# steps after 2 warm-up steps). Both time a whole step: batch assembly
# (rclip reads and normalises raw shard pixels; PyTorch indexes prepared
# tensors), forward, backward, clipping, AdamW, the clamp. Informative:
# exits 0 unless its own setup fails.
#
# usage: tests/bench/bench-train.sh [-n RUNS] [-j THREADS] [-b BATCH] [-s STEPS]
# environment: BUILD (default build/), PYTHON (default: the fixtures venv).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
runs=5 threads=${THREADS:-$(nproc 2>/dev/null || echo 1)} batch=8 steps=30
while [ $# -gt 0 ]; do
	case $1 in
	-n) runs=$2; shift 2 ;;
	-j) threads=$2; shift 2 ;;
	-b) batch=$2; shift 2 ;;
	-s) steps=$2; shift 2 ;;
	*) echo "usage: $0 [-n RUNS] [-j THREADS] [-b BATCH] [-s STEPS]" >&2; exit 2 ;;
	esac
done
build=${BUILD:-$root/build}
for t in rclip-train rclip-shard; do
	[ -x "$build/tools/$t" ] || { echo "bench-train: no $build/tools/$t (set BUILD)" >&2; exit 1; }
done
if [ -z "${PYTHON:-}" ]; then
	venv=${RCLIP_VENV:-${HOME:-/root}/.cache/rclip/venv}
	if [ -x "$venv/bin/python" ]; then PYTHON=$venv/bin/python; else PYTHON=python3; fi
fi
fx="$root/tests/fixtures/train"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rclip-bench-train.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
"$build/tools/rclip-shard" -q -s 32 --store raw -o "$tmp/lite" "$fx/lite.jsonl"

median() { sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

: > "$tmp/r" ; : > "$tmp/p"
for i in $(seq "$runs"); do
	rm -rf "$tmp/run"
	"$build/tools/rclip-train" --stage 1 --init "$fx/init" --data "$tmp/lite.list" \
		--batch "$batch" --steps $((steps + 2)) --shuffle none --lr 1e-3 --warmup 0.4 \
		-j "$threads" -q --out "$tmp/run"
	tail -n +3 "$tmp/run/metrics.jsonl" | sed 's/.*"samples_per_s": \([0-9.e+]*\).*/\1/' |
		awk -v b="$batch" '{ print $1 / b }' | median >> "$tmp/r"
	if OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads "$PYTHON" "$here/bench_train_ref.py" \
		-j "$threads" -n "$steps" -b "$batch" > "$tmp/py.json" 2>"$tmp/py.err"; then
		sed 's/.*"steps_per_s": \([0-9.e+]*\).*/\1/' "$tmp/py.json" >> "$tmp/p"
	else
		echo "bench-train: the PyTorch side failed: $(tail -1 "$tmp/py.err")" >&2
	fi
done
r=$(median < "$tmp/r")
echo "rclip-train   stage 1, tiny CLIP, batch $batch, $threads threads: $r steps/s (median of $runs runs: $(tr '\n' ' ' < "$tmp/r"))"
if [ -s "$tmp/p" ]; then
	p=$(median < "$tmp/p")
	echo "PyTorch loop  stage 1, tiny CLIP, batch $batch, $threads threads: $p steps/s (median of $runs runs: $(tr '\n' ' ' < "$tmp/p"))"
	awk -v r="$r" -v p="$p" 'BEGIN { printf "ratio rclip/PyTorch: %.2fx\n", r / p }'
	tail -1 "$tmp/py.json"
fi

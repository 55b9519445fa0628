#!/bin/sh
# Speed and peak memory of rclip's CPU inference in fp32, bf16 and int8
# against PyTorch (transformers.CLIPModel, default attention) in fp32 and
# under torch.autocast("cpu", bfloat16): image and text encoding at batch
# B, random weights, for each model and thread count, all in this run, one
# program after the other (rclip's three, then PyTorch's two) and each
# figure the median of K timed runs after a warm-up. Informative: exits 0
# unless its own setup fails. On a machine shared with other work the
# "CPU use" column says how much of the cores each run had.
#
# usage: tests/bench/bench-precision.sh [-n RUNS] [-b BATCH] [-j "1 2"]
#            [-m "ViT-B-32 ViT-L-14"] [BENCH_CLIP]
#   BENCH_CLIP  the program (default: $BENCH_CLIP, else build/tests/bench/bench-clip)
# environment: PYTHON (default: the fixtures venv, $RCLIP_VENV or
#   ~/.cache/rclip/venv): torch and transformers for the PyTorch side,
#   which is left out without them.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
runs=5 batch=32 threads="1 2" models="ViT-B-32 ViT-L-14"
while [ $# -gt 0 ]; do
	case $1 in
	-n) runs=$2; shift 2 ;;
	-b) batch=$2; shift 2 ;;
	-j) threads=$2; shift 2 ;;
	-m) models=$2; shift 2 ;;
	*) break ;;
	esac
done
bin=${1:-${BENCH_CLIP:-}}
if [ -z "$bin" ]; then
	for b in "$root/build/tests/bench/bench-clip" "$root/tests/bench/bench-clip"; do
		if [ -x "$b" ]; then bin=$b; break; fi
	done
fi
[ -x "$bin" ] || { echo "bench-precision: no bench-clip program (make check builds it)" >&2; exit 1; }
if [ -z "${PYTHON:-}" ]; then
	venv=${RCLIP_VENV:-${HOME:-/root}/.cache/rclip/venv}
	if [ -x "$venv/bin/python" ]; then PYTHON=$venv/bin/python; else PYTHON=python3; fi
fi
py="$here/bench_clip_ref.py"
torch=0
HF_HUB_OFFLINE=1 "$PYTHON" -c 'import torch, transformers' 2>/dev/null && torch=1 ||
	echo "bench-precision: no torch and transformers in $PYTHON: rclip alone" >&2
out=$(mktemp "${TMPDIR:-/tmp}/rclip-bench-precision.XXXXXX")
trap 'rm -f "$out"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

for m in $models; do
	for j in $threads; do
		for p in fp32 bf16 int8; do
			echo "rclip $m -j $j --precision $p ..." >&2
			"$bin" -q -m "$m" -b "$batch" -j "$j" -k "$runs" --no-train --precision "$p" \
				>>"$out" || echo "bench-precision: rclip $m $p failed; left out" >&2
		done
		[ $torch = 1 ] || continue
		for p in fp32 bf16; do
			echo "PyTorch $m -j $j $p ..." >&2
			OMP_NUM_THREADS=$j MKL_NUM_THREADS=$j HF_HUB_OFFLINE=1 "$PYTHON" "$py" bench \
				-m "$m" -b "$batch" -j "$j" -k "$runs" --attn sdpa --no-train \
				--precision "$p" >>"$out" ||
				echo "bench-precision: PyTorch $m $p failed; left out" >&2
		done
	done
done
echo
"$PYTHON" "$py" precision-table "$out"

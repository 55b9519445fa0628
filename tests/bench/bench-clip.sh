#!/bin/sh
# Speed of rclip's CLIP against PyTorch transformers.CLIPModel: ViT-B/32
# (or -m MODEL) with random weights, fp32, image and text encoding at
# batch 32 (or -b BATCH) and one training step, on the same number of
# threads, one after the other in this run; peak memory of both. PyTorch
# runs twice, with eager attention (the same arithmetic as rclip) and with
# its default, sdpa. A SigLIP model (SigLIP-B-16-224, SigLIP-So400M-14-384,
# SigLIP2-So400M-14-384) against transformers.SiglipModel: encoding only
# (bench-clip's training step has CLIP's loss). Informative: exits 0
# unless its own setup fails.
#
# usage: tests/bench/bench-clip.sh [-n RUNS] [-j THREADS] [-m MODEL] [-b BATCH]
#            [BENCH_CLIP]
#   MODEL       ViT-B-32 (default), ViT-L-14 or a SigLIP model above
#   BATCH       images and texts per call (default 32; at So400M's 729
#               tokens an image, 2 keeps a run near ten seconds on 2 cores)
#   BENCH_CLIP  the program (default: $BENCH_CLIP, else
#               build/tests/bench/bench-clip, else tests/bench/bench-clip;
#               `make check` builds it)
# environment: PYTHON (default: the fixtures venv, $RCLIP_VENV or
#   ~/.cache/rclip/venv, else python3; it needs torch and transformers for
#   the PyTorch side, which is skipped without them), THREADS (default
#   nproc), BENCH_CLIP_NO_TRAIN=1 skips the training steps.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
runs=5 model=ViT-B-32 batch=32
threads=${THREADS:-$(nproc 2>/dev/null || echo 1)}
while [ $# -gt 0 ]; do
	case $1 in
	-n) runs=$2; shift 2 ;;
	-j) threads=$2; shift 2 ;;
	-m) model=$2; shift 2 ;;
	-b) batch=$2; shift 2 ;;
	*) break ;;
	esac
done
bin=${1:-${BENCH_CLIP:-}}
if [ -z "$bin" ]; then
	for b in "$root/build/tests/bench/bench-clip" "$root/tests/bench/bench-clip"; do
		if [ -x "$b" ]; then bin=$b; break; fi
	done
fi
[ -x "$bin" ] || { echo "bench-clip: no bench-clip program (make check builds it)" >&2; exit 1; }
if [ -z "${PYTHON:-}" ]; then
	venv=${RCLIP_VENV:-${HOME:-/root}/.cache/rclip/venv}
	if [ -x "$venv/bin/python" ]; then PYTHON=$venv/bin/python; else PYTHON=python3; fi
fi
py="$here/bench_clip_ref.py"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rclip-bench-clip.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

no_train=${BENCH_CLIP_NO_TRAIN:-0}
case $model in [Ss]ig[Ll][Ii][Pp]*) no_train=1 ;; esac
echo "rclip: $bin -m $model -b $batch -j $threads -k $runs ..." >&2
rtrain=
[ "$no_train" = 1 ] && rtrain=--no-train
"$bin" -q -m "$model" -b "$batch" -j "$threads" -k "$runs" $rtrain >"$tmp/rclip.json"
torch=
if HF_HUB_OFFLINE=1 "$PYTHON" -c 'import torch, transformers' 2>/dev/null; then
	train=
	[ "$no_train" = 1 ] && train=--no-train
	for attn in eager sdpa; do
		echo "PyTorch ($attn attention) ..." >&2
		# The same thread count for OpenMP and MKL from the start, not
		# only torch.set_num_threads.
		if OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads HF_HUB_OFFLINE=1 \
			"$PYTHON" "$py" bench -m "$model" -b "$batch" -j "$threads" -k "$runs" \
			--attn "$attn" $train \
			>"$tmp/torch-$attn.json"; then
			torch="$torch $tmp/torch-$attn.json"
		else
			echo "bench-clip: the PyTorch run ($attn) failed; left out" >&2
		fi
	done
else
	echo "bench-clip: no torch and transformers in $PYTHON: rclip alone" >&2
fi
echo
if "$PYTHON" -c 'import json' 2>/dev/null; then
	# shellcheck disable=SC2086
	"$PYTHON" "$py" table "$tmp/rclip.json" $torch
else
	cat "$tmp/rclip.json"
fi
exit 0

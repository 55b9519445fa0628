#!/bin/sh
# Images per second encoded for evaluation on the CPU: rclip-eval (read,
# decode, CLIP crop, ViT-B/32 forward: the "image_seconds" of its --json
# report) against PyTorch transformers doing the same (PIL, the
# CLIPImageProcessor, get_image_features), ViT-B/32 with random weights,
# the same images, the same threads, one after the other in this run;
# the median of several runs each, and their ratio. Informative: exits 0
# unless its own setup fails.
#
# usage: tests/bench/bench-eval.sh [-n RUNS] [-j THREADS] [-N IMAGES] [RCLIP_EVAL]
#   RCLIP_EVAL  the program (default: build/tools/rclip-eval, else tools/rclip-eval)
# environment: PYTHON (default: the fixtures venv, $RCLIP_VENV or
#   ~/.cache/rclip/venv, else python3), THREADS (default nproc). The model
#   (~600 MB) and the images go to a temporary directory, removed at the end.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
runs=3 nimg=64
threads=${THREADS:-$(nproc 2>/dev/null || echo 1)}
while [ $# -gt 0 ]; do
	case $1 in
	-n) runs=$2; shift 2 ;;
	-j) threads=$2; shift 2 ;;
	-N) nimg=$2; shift 2 ;;
	*) break ;;
	esac
done
bin=${1:-}
if [ -z "$bin" ]; then
	for b in "$root/build/tools/rclip-eval" "$root/tools/rclip-eval"; do
		if [ -x "$b" ]; then bin=$b; break; fi
	done
fi
[ -x "$bin" ] || { echo "bench-eval: no rclip-eval program (give its path)" >&2; exit 1; }
if [ -z "${PYTHON:-}" ]; then
	venv=${RCLIP_VENV:-${HOME:-/root}/.cache/rclip/venv}
	if [ -x "$venv/bin/python" ]; then PYTHON=$venv/bin/python; else PYTHON=python3; fi
fi
py="$here/bench_eval_ref.py"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rclip-bench-eval.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "setup: ViT-B/32 with random weights, $nimg images ..." >&2
"$PYTHON" "$py" setup "$tmp" -n "$nimg"
echo "rclip: $bin -j $threads, $runs runs ..." >&2
rates=
for i in $(seq "$runs"); do
	"$bin" retrieval -q -j "$threads" --json -m "$tmp/model" -o "$tmp/r.json" "$tmp/images.jsonl"
	r=$(sed -n 's/.*"images_per_second": \([0-9.e+-]*\).*/\1/p' "$tmp/r.json")
	rates="$rates $r"
done
rmed=$(echo $rates | tr ' ' '\n' | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}')
echo "PyTorch: $threads threads, $runs runs ..." >&2
OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads "$PYTHON" "$py" bench "$tmp" -j "$threads" -k "$runs" >"$tmp/t.json"
tmed=$(sed -n 's/.*"median": \([0-9.e+-]*\).*/\1/p' "$tmp/t.json")
echo "images/s encoded for evaluation, ViT-B/32, $nimg JPEG 500x375, $threads threads, median of $runs"
echo "  rclip-eval:   $rmed  (runs:$rates)"
echo "  transformers: $tmed  ($(sed -n 's/.*"rates": \[\([^]]*\)\].*/\1/p' "$tmp/t.json"))"
awk -v a="$rmed" -v b="$tmed" 'BEGIN { printf "  ratio rclip / transformers: %.2fx\n", a / b }'

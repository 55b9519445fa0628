#!/usr/bin/env bash
# reasonclip-real.sh - the ReasonCLIP recipe on the real data: the official
# ReasonLite (stage 1), ReasonPro (stage 2) and RCLIP-Bench v1/v2/v3 JSONL
# files, starting from OpenAI's CLIP ViT-B/32 in its Hugging Face layout,
# through stage 1 -> stage 2 -> RCLIP-Bench -> export. Nothing is
# downloaded: fetch the model and the data first, for example
#
#   git clone https://huggingface.co/openai/clip-vit-base-patch32
#   (the ReasonLite/ReasonPro/RCLIP-Bench JSONL and their images from the
#    ReasonCLIP release; the JSONL "image_path"s are relative to IMAGES)
#
# usage: examples/reasonclip-real.sh [-j N] [--out DIR] [--dry-run]
# Environment (the defaults are the release's file names):
#   MODEL   the starting CLIP directory      (clip-vit-base-patch32)
#   IMAGES  the image root                   (images)
#   LITE    ReasonLite JSONL, tb + trl       (reasonlite.jsonl)
#   PRO     ReasonPro JSONL, trp + classes   (reasonpro.jsonl)
#   BENCH   RCLIP-Bench JSONL files          ("rclip-bench-v1.jsonl
#                                              rclip-bench-v2.jsonl rclip-bench-v3.jsonl")
#   BATCH, ACCUM, S1_STEPS, S2_STEPS, LR     the schedule (defaults below:
#           the released run's hyperparameters, batch scaled to one machine)
#   SIZE    image side (224; 336 for ViT-L/14-336)
# --dry-run prints the commands without running them.
# On a cluster, prefix the two rclip-train commands with `mpirun -np N`
# (BATCH is the global batch); a preempted job continues with
# `rclip-train --resume DIR` (see rclip-train(1)).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bin=${RCLIP_BIN:-build/tools}
out=build/reasonclip dry=0
jobs=$(nproc 2>/dev/null || echo 2)
while [ $# -gt 0 ]; do
	case $1 in
	-j) jobs=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--dry-run) dry=1; shift ;;
	-h|--help) sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "reasonclip-real.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
MODEL=${MODEL:-clip-vit-base-patch32}
IMAGES=${IMAGES:-images}
LITE=${LITE:-reasonlite.jsonl}
PRO=${PRO:-reasonpro.jsonl}
BENCH=${BENCH:-rclip-bench-v1.jsonl rclip-bench-v2.jsonl rclip-bench-v3.jsonl}
SIZE=${SIZE:-224}
BATCH=${BATCH:-256}
ACCUM=${ACCUM:-2}
LR=${LR:-1e-4}
S1_STEPS=${S1_STEPS:-}      # empty: one epoch
S2_STEPS=${S2_STEPS:-}

run() {
	printf '$ %s\n' "$*"
	[ "$dry" = 1 ] || "$@"
}
steps() { [ -n "$1" ] && printf -- '--steps %s' "$1" || printf -- '--epochs 1'; }

if [ "$dry" = 0 ]; then
	for f in "$MODEL/config.json" "$LITE" "$PRO" $BENCH; do
		[ -e "$f" ] || { echo "reasonclip-real.sh: $f: not found (see --help)" >&2; exit 1; }
	done
fi
mkdir -p "$out"

echo "== shard (JPEG at ${SIZE}px, captions tokenized; rerunning resumes)"
run "$bin/rclip-shard" -q -s "$SIZE" -j "$jobs" --image-root "$IMAGES" -o "$out/lite" "$LITE"
run "$bin/rclip-shard" -q -s "$SIZE" -j "$jobs" --image-root "$IMAGES" -o "$out/pro" "$PRO"

echo "== stage 1: ReasonLite, w(p)·CLIP(img, tb) + (1-w(p))·CLIP(img, trl) + L2 to the start"
# vision lr/10, text 3lr/10, projections lr with weight decay 0.05
run "$bin/rclip-train" --stage 1 --init "$MODEL" --data "$out/lite.list" $(steps "$S1_STEPS") \
	--batch "$BATCH" --accum "$ACCUM" --lr "$LR" --wd 0.05 --warmup 0.1 --l2 1e-5 \
	--save-every 500 -j "$jobs" -v --out "$out/stage1"

echo "== stage 2: ReasonPro, CLIP(img, trp) + 0.05·(CE(text head) + BCE(image head))"
# vision 1e-5, text 2e-5, logit scale 1e-4, heads 1.5e-3 with lr 1e-4
run "$bin/rclip-train" --stage 2 --init "$out/stage1/final.safetensors" --data "$out/pro.list" \
	$(steps "$S2_STEPS") --batch "$BATCH" --accum "$ACCUM" --lr "$LR" --gamma 0.05 \
	--save-every 500 -j "$jobs" -v --out "$out/stage2"

echo "== RCLIP-Bench: the starting model and the result, per version and tag"
for b in $BENCH; do
	name=$(basename "$b" .jsonl)
	for m in "$MODEL" "$out/stage2/final.safetensors"; do
		tag=$([ "$m" = "$MODEL" ] && echo start || echo stage2)
		run "$bin/rclip-eval" sets -q -j "$jobs" -m "$m" --image-root "$IMAGES" --json \
			-o "$out/$name-$tag.json" "$b"
		run "$bin/rclip-eval" sets -q -j "$jobs" -m "$m" --image-root "$IMAGES" "$b"
	done
	# McNemar's test: did stage 2 change which items are right?
	run "$bin/rclip-eval" sets -q -j "$jobs" -m "$out/stage2/final.safetensors" \
		--image-root "$IMAGES" --compare "$out/$name-start.json" "$b"
	run "$bin/rclip-eval" rclip-retrieval -q -j "$jobs" -m "$out/stage2/final.safetensors" \
		--image-root "$IMAGES" "$b"
done

echo "== export: a CLIPModel directory and the vision tower for multimodal LLMs"
run "$bin/rclip-export" --from "$out/stage2/final.safetensors" --to hf -o "$out/reasonclip-hf" \
	--check --force
run "$bin/rclip-export" --from "$out/stage2/final.safetensors" --to hf-vision \
	-o "$out/reasonclip-vision" --check --force

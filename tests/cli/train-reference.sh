#!/bin/sh
# train-reference.sh - rclip-train against the PyTorch reference of the
# recipe (tests/fixtures/gen_train.py: a tiny transformers.CLIPModel, 5
# steps of stage 1 and 5 of stage 2 with AdamW from a fixed init and fixed
# data in dataset order). Each step's losses within 1e-4, the gradient norm
# within 1e-4 of its value (9 to 138), and the final parameters within 1e-4
# (the bound) and within 2e-6 for every tensor but the attention
# k_proj biases, whose true gradient is zero (AdamW turns float32 rounding
# noise there into steps of up to ~1e-5, in PyTorch as here).
set -u
: "${top_builddir:=.}" "${top_srcdir:=.}"
bin="$top_builddir/tools"
help="$top_builddir/tests/cli/train-helper"
fx="$top_srcdir/tests/fixtures/train"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
run() { "$@" || { echo "FAIL: $*"; fails=$((fails + 1)); }; }

# the fixture images are 32×32 PNGs: raw storage keeps their exact pixels
run "$bin/rclip-shard" -q -s 32 --store raw -o "$tmp/lite" "$fx/lite.jsonl"
run "$bin/rclip-shard" -q -s 32 --store raw -o "$tmp/pro" "$fx/pro.jsonl"

common="--batch 8 --steps 5 --shuffle none --lr 1e-3 --wd 0.05 --warmup 0.4 -q"
run "$bin/rclip-train" --stage 1 --init "$fx/init" --data "$tmp/lite.list" --out "$tmp/s1" $common
run "$help" steps "$tmp/s1/metrics.jsonl" "$fx/steps.json" stage1 1e-4 loss loss_tb loss_trl l2 w logit_scale
run "$help" steps "$tmp/s1/metrics.jsonl" "$fx/steps.json" stage1 rel:1e-4 grad_norm
run "$help" compare "$tmp/s1/final.safetensors" "$fx/stage1-final.safetensors" 1e-4
run "$help" compare "$tmp/s1/final.safetensors" "$fx/stage1-final.safetensors" 2e-6 -k_proj.bias

# stage 2 starts from the reference's stage-1 result plus its heads
run "$bin/rclip-train" --stage 2 --gamma 0.5 --init "$fx/stage2-init" --data "$tmp/pro.list" \
	--out "$tmp/s2" $common
run "$help" steps "$tmp/s2/metrics.jsonl" "$fx/steps.json" stage2 1e-4 loss loss_clip \
	loss_text_cls loss_image_cls logit_scale
run "$help" steps "$tmp/s2/metrics.jsonl" "$fx/steps.json" stage2 rel:1e-4 grad_norm
run "$help" compare "$tmp/s2/final.safetensors" "$fx/stage2-final.safetensors" 1e-4
run "$help" compare "$tmp/s2/final.safetensors" "$fx/stage2-final.safetensors" 2e-6 -k_proj.bias

echo "train-reference: $fails failed"
[ "$fails" -eq 0 ]

#!/bin/sh
# train-official.sh - the conformance test: rclip-train against the
# official ReasonCLIP training semantics (tests/fixtures/gen_official.py
# re-states what the official code and the Hugging Face Trainer do and
# runs it in PyTorch: its groups, HF's warmup and cosine, the clamp before
# the forward, stage 2's heads, SigLIP's bias; the official gather over
# ranks is checked in train-mpi.sh). Three runs from the fixture model with
# an OpenAI checkpoint's logit scale, ln 100, which the clamp cuts to ln 50
# before the first forward: stage 1 (CLIP, warmup 0.1 of 12 steps), stage 2
# (warmup 0.2 of 10 steps, the heads) and stage 1 with the SigLIP loss.
# Each step's loss, stream losses, w, gradient norm, logit scale (and
# bias) within 1e-5 of the reference's, relative, its L2 term within 1e-12
# absolute; the final parameters within 1e-4, and within 2e-6 outside the
# attention k_proj biases (their true gradient is zero: AdamW turns float32
# noise there into steps). Prints the largest differences.
set -u
: "${top_builddir:=.}" "${top_srcdir:=.}"
bin="$top_builddir/tools"
help="$top_builddir/tests/cli/train-helper"
fx="$top_srcdir/tests/fixtures/train"
ref="$top_srcdir/tests/fixtures/official"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
run() { "$@" || { echo "FAIL: $*"; fails=$((fails + 1)); }; }

# the reference was made from these inputs
for f in init/model.safetensors stage2-init/model.safetensors lite.jsonl pro.jsonl; do
	sum=$(sha256sum "$fx/$f" | cut -d' ' -f1)
	grep -q "\"$f\": \"$sum\"" "$ref/steps.json" ||
		{ echo "FAIL: $fx/$f is not the file official/steps.json was made from (run gen_official.py)"; fails=$((fails + 1)); }
done
run "$bin/rclip-shard" -q -s 32 --store raw -o "$tmp/lite" "$fx/lite.jsonl"
run "$bin/rclip-shard" -q -s 32 --store raw -o "$tmp/pro" "$fx/pro.jsonl"
# the starting models with logit_scale = ln 100 (float32 of Python's math.log(100))
for m in init stage2-init; do
	mkdir "$tmp/$m"
	cp "$fx/$m/config.json" "$tmp/$m/"
	run "$help" set "$fx/$m/model.safetensors" "$tmp/$m/model.safetensors" logit_scale \
		4.605170185988092
done

s1="--stage 1 --init $tmp/init --data $tmp/lite.list --batch 8 --steps 12 --warmup 0.1
	--lr 1e-3 --wd 0.05 --shuffle none -j 1 -q"
run "$bin/rclip-train" $s1 --out "$tmp/s1"
run "$bin/rclip-train" $s1 --loss siglip --lr 5e-4 --out "$tmp/siglip"
run "$bin/rclip-train" --stage 2 --init "$tmp/stage2-init" --data "$tmp/pro.list" --batch 4 \
	--steps 10 --warmup 0.2 --lr 1e-3 --wd 0.05 --gamma 0.5 --shuffle none -j 1 -q \
	--out "$tmp/s2"

for r in s1 siglip; do
	bias=; [ $r = siglip ] && bias=logit_bias
	run "$help" steps "$tmp/$r/metrics.jsonl" "$ref/steps.json" $r rel:1e-5 loss loss_tb \
		loss_trl w grad_norm logit_scale $bias
	run "$help" steps "$tmp/$r/metrics.jsonl" "$ref/steps.json" $r 1e-12 l2
done
run "$help" steps "$tmp/s2/metrics.jsonl" "$ref/steps.json" s2 rel:1e-5 loss loss_clip \
	loss_text_cls loss_image_cls grad_norm logit_scale
for r in s1 siglip s2; do
	run "$help" compare "$tmp/$r/final.safetensors" "$ref/$r-final.safetensors" 1e-4
	run "$help" compare "$tmp/$r/final.safetensors" "$ref/$r-final.safetensors" 2e-6 -k_proj.bias
done
echo "train-official: $fails failed"
[ "$fails" -eq 0 ]

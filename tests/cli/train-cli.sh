#!/bin/sh
# train-cli.sh - rclip-train as a user meets it: help, usage errors (exit
# 2), data that does not fit the stage or the model (exit 1, one line
# naming the shard), stage 0 on each stream, stage 2 from a model without
# heads, the SigLIP loss, JPEG shards, SIGUSR1 (a checkpoint, then on), and
# the checkpoints read by rclip-export and as --init.
set -u
: "${top_builddir:=.}" "${top_srcdir:=.}"
bin="$top_builddir/tools"
fx="$top_srcdir/tests/fixtures/train"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0 passes=0
. "$top_srcdir/tests/cli/testlib.sh"
lines() { n=$(wc -l < "$1"); if [ "$n" -eq "$2" ]; then ok; else fail "$3: $n lines: $(cat "$1")"; fi; }
T="$bin/rclip-train"

"$bin/rclip-shard" -q -s 32 --store raw -o "$tmp/lite" "$fx/lite.jsonl" || fail "shard lite"
"$bin/rclip-shard" -q -s 32 -o "$tmp/pro" "$fx/pro.jsonl" || fail "shard pro (jpeg)"
"$bin/rclip-shard" -q -s 64 --store raw -o "$tmp/big" "$fx/lite.jsonl" || fail "shard 64"
# a descriptive manifest over the same images
sed 's/"tb": \[\("[^"]*"\), \("[^"]*"\), \("[^"]*"\)\], "trl": \[.*\]}/"captions": [\1, \2]}/' \
	"$fx/lite.jsonl" > "$tmp/desc.jsonl"
"$bin/rclip-shard" -q -s 32 --store raw --image-root "$fx" -o "$tmp/desc" "$tmp/desc.jsonl" ||
	fail "shard desc"

# help and usage errors
expect 0 "$T" --help
has "$tmp/out" '--resume' "help"
has "$tmp/out" 'Exit status' "help"
expect 0 "$T" --version
expect 2 "$T" --init "$fx/init" --data "$tmp/lite.list" --out "$tmp/x"
has "$tmp/err" '--stage is required' "no stage"
expect 2 "$T" --stage 3 --init "$fx/init" --data "$tmp/lite.list" --out "$tmp/x"
expect 2 "$T" --stage 1 --stream tb --init "$fx/init" --data "$tmp/lite.list" --out "$tmp/x"
expect 2 "$T" --stage 1 --loss hinge --init "$fx/init" --data "$tmp/lite.list" --out "$tmp/x"
expect 2 "$T" --stage 1 --lr -1 --init "$fx/init" --data "$tmp/lite.list" --out "$tmp/x"
expect 2 "$T" --stage 1 --warmup 2 --init "$fx/init" --data "$tmp/lite.list" --out "$tmp/x"
expect 2 "$T" --stage 1 --device gpu --init "$fx/init" --data "$tmp/lite.list" --out "$tmp/x"
has "$tmp/err" "--device: 'gpu'" "--device gpu"
# a device this machine or build cannot use: one line and a hint, no run directory
expect 1 "$T" --stage 1 --device cuda:99 --init "$fx/init" --data "$tmp/lite.list" --out "$tmp/x"
has "$tmp/err" "^rclip-train: cuda:99: \(this rclip is built without the CUDA backend\|no such GPU\|no GPU (or no driver) on this machine\)$" "--device cuda:99"
absent "$tmp/x" "--device cuda:99 makes no run directory"
expect 2 "$T" --resume "$tmp/x" --batch 4
has "$tmp/err" 'from the checkpoint' "resume with job options"
expect 2 "$T" --stage 1 --init "$fx/init" --out "$tmp/x"

# data that does not fit
expect 1 "$T" --stage 2 --init "$fx/init" --data "$tmp/lite.list" --out "$tmp/x" -q
has "$tmp/err" 'lite-000000.rcs: schema reasonlite; stage 2 needs reasonpro' "stage 2 on lite"
lines "$tmp/err" 1 "stage 2 on lite"
expect 1 "$T" --stage 1 --init "$fx/init" --data "$tmp/big.list" --out "$tmp/x" -q
has "$tmp/err" 'images are 64x64; the model takes 32x32' "image size"
expect 1 "$T" --stage 1 --init "$fx/init" --data "$tmp/lite.list" --batch 200 --out "$tmp/x" -q
has "$tmp/err" 'fewer than one batch' "batch over the data"
expect 1 "$T" --stage 1 --init "$tmp/nothing" --data "$tmp/lite.list" --out "$tmp/x" -q
has "$tmp/err" 'nothing' "missing init"
expect 1 "$T" --stage 1 --init "$fx/init" --data "$tmp/none.list" --out "$tmp/x" -q
expect 1 "$T" --resume "$tmp/x" -q
has "$tmp/err" 'no checkpoint' "resume without checkpoint"
expect 2 "$T" --stage 1 --init "$fx/init" --data "$tmp/lite.list" --batch 8 --out "$tmp/x" --keep 0

# stage 0 on each stream, and the SigLIP loss
for s in tb trl; do
	expect 0 "$T" --stage 0 --stream $s --init "$fx/init" --data "$tmp/lite.list" --batch 6 \
		--steps 3 --out "$tmp/s0-$s" -q
	has "$tmp/s0-$s/metrics.jsonl" "\"loss_$s\"" "stage 0 $s"
done
expect 0 "$T" --stage 0 --init "$fx/init" --data "$tmp/desc.list" --batch 6 --epochs 2 \
	--out "$tmp/s0-cap" -q
lines "$tmp/s0-cap/metrics.jsonl" 4 "stage 0 caption, 2 epochs of 12 records at batch 6"
expect 1 "$T" --stage 0 --init "$fx/init" --data "$tmp/lite.list" --out "$tmp/x2" -q
has "$tmp/err" 'stage 0 --stream caption needs descriptive' "stage 0 caption on lite"
# --verify: every shard's xxh3 against the list before the first step
expect 0 "$T" --stage 0 --stream trl --verify --init "$fx/init" --data "$tmp/lite.list" \
	--batch 6 --steps 1 --out "$tmp/ver" -q
sed 's/\t[0-9a-f]*$/\t0123456789abcdef/' "$tmp/lite.list" > "$tmp/badsum.list"
expect 1 "$T" --stage 0 --stream trl --verify --init "$fx/init" --data "$tmp/badsum.list" \
	--batch 6 --steps 1 --out "$tmp/ver2" -q
has "$tmp/err" 'badsum.list:2' "--verify names the list line"
expect 0 "$T" --stage 0 --stream tb --loss siglip --init "$fx/init" --data "$tmp/lite.list" \
	--batch 6 --steps 3 --out "$tmp/sig" -q
has "$tmp/sig/metrics.jsonl" '"logit_bias": -' "siglip bias"   # its values: train-variants.sh

# stage 2 from a model without heads (random heads), on JPEG shards, with
# accumulation (whose update train-variants.sh checks against PyTorch); its
# final model goes on as an --init, and to rclip-export
expect 0 "$T" --stage 2 --init "$fx/init" --data "$tmp/pro.list" --batch 4 --accum 2 --steps 4 \
	--out "$tmp/s2" -q
has "$tmp/s2/metrics.jsonl" '"heads": 0.0015' "heads lr 15x"
expect 0 "$T" --stage 1 --init "$tmp/s2/final.safetensors" --data "$tmp/lite.list" --batch 8 \
	--steps 2 --out "$tmp/s1" -q
expect 0 "$bin/rclip-export" --from "$tmp/s1/final.safetensors" --to hf -o "$tmp/hf" --check
has "$tmp/out" '(checkpoint)' "export from a checkpoint"
has "$tmp/out" 'check:    ok' "export --check"

# SIGUSR1: a checkpoint at once, and the run goes on to the end. The
# signal comes during step 5, after checkpoint 4 (--test-kill-after-checkpoint,
# rclip-train(1), Testing), however fast the machine: a checkpoint at step 5,
# which is not one of --save-every's
expect 0 "$T" --stage 1 --init "$fx/init" --data "$tmp/lite.list" --batch 8 --steps 8 -j 1 -q \
	--save-every 4 --keep 5 --test-kill-after-checkpoint 4:USR1 --out "$tmp/usr"
eq "$(ls "$tmp/usr" | tr '\n' ' ')" \
	"ckpt-4.safetensors ckpt-5.safetensors final.safetensors metrics.jsonl " "SIGUSR1"
lines "$tmp/usr/metrics.jsonl" 8 "SIGUSR1: the run went on"
expect 2 "$T" --stage 1 --init "$fx/init" --data "$tmp/lite.list" --out "$tmp/x" \
	--test-kill-after-checkpoint 4:HUP
has "$tmp/err" "signal 'HUP'" "--test-kill-after-checkpoint with an unknown signal"

echo "train-cli: $passes passed, $fails failed"
[ "$fails" -eq 0 ]

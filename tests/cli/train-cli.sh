#!/bin/sh
# train-cli.sh - rclip-train as a user meets it: help, usage errors (exit
# 2), data that does not fit the stage or the model (exit 1, one line
# naming the shard), stage 0 on each stream (S0-Rea: ReasonLite and
# ReasonPro shards in one list), stage 2 from a model without
# heads, the SigLIP loss, JPEG shards, SIGUSR1 (a checkpoint, then on),
# the checkpoints read by rclip-export and as --init, the shuffle modes'
# repeated-image share, --tb-weights, and a held-out set with
# best.safetensors.
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
for bad in "--shuffle random" "--gather all" "--holdout 0.9" "--holdout -0.1" \
	"--eval-every 2.5" "--tb-weights 0.7,0.5" "--tb-weights 0.7,0.5,0.6,0.1" \
	"--tb-weights 0.7,x,0.6"; do
	expect 2 "$T" --stage 1 $bad --init "$fx/init" --data "$tmp/lite.list" --out "$tmp/x"
done
has "$tmp/err" "--tb-weights: '0.7,x,0.6'\|--tb-weights: 'x'" "--tb-weights with a word"
expect 2 "$T" --stage 2 --tb-weights 0.6,0.3,0.5 --init "$fx/init" --data "$tmp/pro.list" \
	--out "$tmp/x"
has "$tmp/err" 'goes with --stage 1' "--tb-weights in stage 2"
absent "$tmp/x" "usage errors make no run directory"

# data that does not fit
expect 1 "$T" --stage 2 --init "$fx/init" --data "$tmp/lite.list" --out "$tmp/x" -q
has "$tmp/err" 'lite-000000.rcs: schema reasonlite; stage 2 needs reasonpro' "stage 2 on lite"
lines "$tmp/err" 1 "stage 2 on lite"
expect 1 "$T" --stage 1 --init "$fx/init" --data "$tmp/big.list" --out "$tmp/x" -q
has "$tmp/err" 'images are 64x64 CLIP crops, the model takes 32x32 CLIP crops' "image size"
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
# S0-Rea: ReasonLite's trl and ReasonPro's trp as one stream, the two
# lists joined (12 records × 3 trl + 40 trp = 76 items: in dataset order
# the last two steps are trp only, so the epoch reads both sources)
cat "$tmp/lite.list" "$tmp/pro.list" > "$tmp/rea.list"
expect 0 "$T" --stage 0 --stream trl --shuffle none --init "$fx/init" --data "$tmp/rea.list" \
	--batch 19 --out "$tmp/s0-rea" -v
has "$tmp/err" "4 steps of 19×1 items, 76 items per epoch" "S0-Rea: trl and trp items"
lines "$tmp/s0-rea/metrics.jsonl" 4 "S0-Rea: one epoch"
expect 1 "$T" --stage 0 --stream tb --init "$fx/init" --data "$tmp/rea.list" --out "$tmp/x2" -q
has "$tmp/err" 'pro-000000.rcs: schema reasonpro; stage 0 --stream tb needs reasonlite$' \
	"S0-Des (tb) refuses ReasonPro"
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

# batch composition: in dataset order a stage-1 batch of 8 holds one image
# (every row shares it); the default permutation mixes the images
expect 0 "$T" --stage 1 --init "$fx/init" --data "$tmp/lite.list" --batch 8 --steps 1 \
	--shuffle none --tb-weights 0.6,0.3,0.5 --out "$tmp/order" -q
has "$tmp/order/metrics.jsonl" '"repeated_image_rows": 1,' "dataset order: one image"
has "$tmp/order/metrics.jsonl" '"w": 0.6,' "--tb-weights"
expect 0 "$T" --stage 1 --init "$fx/init" --data "$tmp/lite.list" --batch 8 --steps 1 \
	--gather exact --out "$tmp/perm" -q
has "$tmp/perm/metrics.jsonl" '"repeated_image_rows": 0\.[0-9]*,' "permutation: some images mixed"
has "$tmp/perm/metrics.jsonl" '"w": 0.7,' "stage 1's CLIP weights by default"

# a held-out set: 3 of the 12 images (ceil(0.2·12)), the held-out loss at
# steps 2 and 4, the lowest kept as best.safetensors, which rclip-export reads
expect 0 "$T" --stage 1 --init "$fx/init" --data "$tmp/lite.list" --batch 8 --steps 4 \
	--holdout 0.2 --eval-every 2 --out "$tmp/held" -v
has "$tmp/err" '81 items per epoch' "--holdout 0.2 leaves 9 images"
eq "$(grep -c '"holdout_loss"' "$tmp/held/metrics.jsonl")" 2 "held-out loss every 2 steps"
has "$tmp/held/metrics.jsonl" '"step": 4, .*"holdout_loss"' "held-out loss at the last step"
expect 0 "$bin/rclip-export" --from "$tmp/held/best.safetensors" --to hf -o "$tmp/best-hf" --check
has "$tmp/out" 'check:    ok' "export best.safetensors"
expect 1 "$T" --stage 0 --init "$fx/init" --data "$tmp/desc.list" --batch 8 --holdout 0.5 \
	--out "$tmp/x" -q
has "$tmp/err" 'fewer than one batch' "--holdout leaves less than a batch"
has "$tmp/err" '6 of the 12 records are held out' "--holdout: the hint says why"

# --group: runs of records shuffled together; a grouped run resumes at its
# place (12 records: 4 runs of 3, batches of 6)
expect 2 "$T" --stage 0 --group 0 --init "$fx/init" --data "$tmp/desc.list" --out "$tmp/x"
expect 2 "$T" --stage 0 --group 3 --shuffle buffer --init "$fx/init" --data "$tmp/desc.list" \
	--out "$tmp/x"
has "$tmp/err" "--group goes with --shuffle perm" "--group with --shuffle buffer"
g="--stage 0 --init $fx/init --data $tmp/desc.list --batch 6 --steps 8 --seed 3 -j 1 -q"
expect 0 "$T" $g --group 3 --out "$tmp/g1"
"$T" $g --group 3 --save-every 3 --test-kill-after-checkpoint 3:TERM --out "$tmp/g2" \
	2>"$tmp/err"
eq "$?" 143 "--group: stopped after checkpoint 3"
expect 0 "$T" --resume "$tmp/g2" -q
sed 's/, "samples_per_s.*//' "$tmp/g1/metrics.jsonl" >"$tmp/g1.m"
sed 's/, "samples_per_s.*//' "$tmp/g2/metrics.jsonl" >"$tmp/g2.m"
same "$tmp/g1.m" "$tmp/g2.m" "--group: the resumed run's metrics"
expect 0 "$top_builddir/tests/cli/train-helper" compare "$tmp/g1/final.safetensors" \
	"$tmp/g2/final.safetensors" 0
grep -a -q 'group\\":3,' "$tmp/g1/final.safetensors" &&
	grep -a -q 'shuffle\\":\\"groups' "$tmp/g1/final.safetensors" && ok ||
	fail "--group: the checkpoint's options have no groups of 3"
expect 0 "$T" $g --out "$tmp/g0"
sed 's/, "samples_per_s.*//' "$tmp/g0/metrics.jsonl" >"$tmp/g0.m"
cmp -s "$tmp/g0.m" "$tmp/g1.m" && fail "--group changes nothing" || ok

echo "train-cli: $passes passed, $fails failed"
[ "$fails" -eq 0 ]

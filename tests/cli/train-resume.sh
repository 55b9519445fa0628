#!/bin/sh
# train-resume.sh - a training job survives preemption without losing
# work: killed with SIGKILL after a checkpoint and resumed, or stopped by
# SIGTERM (it checkpoints, exit 143) and resumed, it ends with parameters
# bit for bit those of an uninterrupted run (same threads); metrics.jsonl
# has each step once, and best.safetensors (the held-out selection) is
# the uninterrupted run's too. A shard corrupted mid-run stops the job with
# the record named and the checkpoints kept; a NaN stops it too.
set -u
: "${top_builddir:=.}" "${top_srcdir:=.}"
bin="$top_builddir/tools"
help="$top_builddir/tests/cli/train-helper"
fx="$top_srcdir/tests/fixtures/train"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
run() { "$@" || fail "$*"; }

run "$bin/rclip-shard" -q -s 32 --store raw -o "$tmp/lite" "$fx/lite.jsonl"
# 2 of the 12 images held out, the held-out loss every 10 steps; 11 steps
# per epoch: the run crosses epochs, each a permutation of its items
job="--stage 1 --init $fx/init --data $tmp/lite.list --batch 8 --steps 120 --seed 7
	--holdout 0.1 --eval-every 10 --lr 1e-3 -j 1 -q"

run "$bin/rclip-train" $job --out "$tmp/ref"

# same_metrics DIR: DIR/metrics.jsonl has each of the 120 steps once and
# is the uninterrupted run's but for samples_per_s
same_metrics() {
	steps=$(sed 's/.*"step": \([0-9]*\),.*/\1/' "$1/metrics.jsonl" | sort -n | uniq | wc -l)
	lines=$(wc -l < "$1/metrics.jsonl")
	[ "$steps" -eq 120 ] && [ "$lines" -eq 120 ] || fail "$1: metrics: $lines lines, $steps steps"
	cmp -s "$1/metrics.jsonl" "$tmp/ref/metrics.jsonl" &&
		fail "$1: metrics identical including samples_per_s: suspicious"
	sed 's/, "samples_per_s.*//' "$1/metrics.jsonl" > "$tmp/a"
	sed 's/, "samples_per_s.*//' "$tmp/ref/metrics.jsonl" > "$tmp/b"
	cmp -s "$tmp/a" "$tmp/b" || fail "$1: the resumed run's metrics differ from the uninterrupted"
	[ "$(grep -c '"holdout_loss"' "$1/metrics.jsonl")" -eq 12 ] ||
		fail "$1: not 12 held-out losses"
	run "$help" compare "$1/best.safetensors" "$tmp/ref/best.safetensors" 0
}

# The interruptions come at known steps, whatever the machine's speed:
# --test-kill-after-checkpoint N:SIG (rclip-train(1), Testing) has the
# process send itself SIG in the middle of the step after checkpoint N.

# 1. SIGKILL during step 41, after checkpoint 40; the kill is taken to
# have come while ckpt-40 was being written: a half-written temporary
# under the writer's name (.NAME.tmp.XXXXXX) instead of it. --resume
# starts from ckpt-20, drops the metrics of steps 21-40 and does them again.
"$bin/rclip-train" $job --out "$tmp/kill" --save-every 20 --keep 2 \
	--test-kill-after-checkpoint 40:KILL 2>"$tmp/err"
st=$?
[ "$st" -eq 137 ] || fail "SIGKILL: exit $st, expected 137: $(cat "$tmp/err")"
[ "$(ls "$tmp/kill" | tr '\n' ' ')" = "best.safetensors ckpt-20.safetensors ckpt-40.safetensors metrics.jsonl " ] ||
	fail "SIGKILL after checkpoint 40 left: $(ls "$tmp/kill" | tr '\n' ' ')"
[ "$(wc -l < "$tmp/kill/metrics.jsonl")" -eq 40 ] || fail "SIGKILL: not 40 metrics lines"
head -c 100000 "$tmp/kill/ckpt-40.safetensors" > "$tmp/kill/.ckpt-40.safetensors.tmp.Xk9Q2a"
rm -f "$tmp/kill/ckpt-40.safetensors"
run "$bin/rclip-train" --resume "$tmp/kill" -j 1 -q
run "$help" compare "$tmp/kill/final.safetensors" "$tmp/ref/final.safetensors" 0
n=$(ls "$tmp/kill" | grep -c '^ckpt-')
[ "$n" -le 2 ] || fail "--keep 2 left $n checkpoints"
same_metrics "$tmp/kill"

# 2. SIGTERM during step 51, after checkpoint 50: a checkpoint at step 51
# (not one of --save-every's), exit 143, then --resume from it
"$bin/rclip-train" $job --out "$tmp/term" --save-every 50 \
	--test-kill-after-checkpoint 50:TERM 2>"$tmp/err"
st=$?
[ "$st" -eq 143 ] || fail "SIGTERM: exit $st, expected 143: $(cat "$tmp/err")"
test -f "$tmp/term/ckpt-51.safetensors" || fail "SIGTERM: no checkpoint at step 51"
test -f "$tmp/term/final.safetensors" && fail "SIGTERM: the run went on to the end"
[ "$(wc -l < "$tmp/term/metrics.jsonl")" -eq 51 ] || fail "SIGTERM: not 51 metrics lines"
run "$bin/rclip-train" --resume "$tmp/term" -j 1 -q
run "$help" compare "$tmp/term/final.safetensors" "$tmp/ref/final.safetensors" 0
same_metrics "$tmp/term"

# a finished run is not resumed; a new run does not overwrite it
"$bin/rclip-train" --resume "$tmp/ref" -q 2>"$tmp/err"
[ $? -eq 1 ] && grep -q 'finished' "$tmp/err" || fail "resume of a finished run: $(cat "$tmp/err")"
"$bin/rclip-train" $job --out "$tmp/ref" 2>"$tmp/err"
[ $? -eq 1 ] && grep -q 'holds a run already' "$tmp/err" || fail "--out over a run: $(cat "$tmp/err")"

# 3. a corrupt record mid-run: the error names shard and record, exit 1,
# the checkpoints before it stay and load
cp "$tmp/lite-000000.rcs" "$tmp/bad-000000.rcs"
sed 's/lite-000000/bad-000000/' "$tmp/lite.list" > "$tmp/bad.list"
# record 6 holds this caption (dataset order: read at steps 7-8)
cap=$(sed -n 7p "$fx/lite.jsonl" | sed 's/.*"trl": \["\([^"]*\)".*/\1/')
off=$(grep -abo -F "$cap" "$tmp/bad-000000.rcs" | head -1 | cut -d: -f1)
if [ -z "$off" ]; then fail "caption of record 6 not found in the shard"; else
	printf 'X' | dd of="$tmp/bad-000000.rcs" bs=1 seek="$off" conv=notrunc 2>/dev/null
	"$bin/rclip-train" --stage 1 --init "$fx/init" --data "$tmp/bad.list" --batch 8 \
		--steps 20 --shuffle none --save-every 2 -q --out "$tmp/bad" 2>"$tmp/err"
	st=$?
	[ $st -eq 1 ] || fail "corrupt shard: exit $st"
	grep -q 'bad-000000.rcs: record 6' "$tmp/err" || fail "corrupt shard: $(cat "$tmp/err")"
	[ "$(wc -l < "$tmp/err")" -eq 1 ] || fail "corrupt shard: not one line: $(cat "$tmp/err")"
	test -f "$tmp/bad/ckpt-6.safetensors" || fail "corrupt shard: ckpt-6 not kept"
	test -f "$tmp/bad/final.safetensors" && fail "corrupt shard: a final model was written"
	run "$bin/rclip-export" -q >/dev/null --from "$tmp/bad/ckpt-6.safetensors" --to hf -o "$tmp/bad-hf" --check
fi

# 4. a NaN in the weights, loaded past the check of every tensor
# (--skip-finite-check): the loss is not finite at step 1; the run stops
# with the step named, exit 1, and no final model
mkdir "$tmp/nanmodel"
cp "$fx/init/config.json" "$tmp/nanmodel/"
run "$help" poison "$fx/init/model.safetensors" "$tmp/nanmodel/model.safetensors" \
	text_projection.weight
"$bin/rclip-train" --stage 1 --init "$tmp/nanmodel" --data "$tmp/lite.list" --batch 8 \
	--steps 3 -q --skip-finite-check --out "$tmp/nan" 2>"$tmp/err"
st=$?
[ $st -eq 1 ] && grep -q 'step 1: the loss is nan' "$tmp/err" || fail "NaN: exit $st: $(cat "$tmp/err")"
test -f "$tmp/nan/final.safetensors" && fail "NaN: a final model was written"

echo "train-resume: $fails failed"
[ "$fails" -eq 0 ]

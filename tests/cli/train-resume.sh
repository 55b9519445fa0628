#!/bin/sh
# train-resume.sh - a training job survives preemption without losing
# work: killed with SIGKILL after a checkpoint and resumed, or stopped by
# SIGTERM (it checkpoints, exit 143) and resumed, it ends with parameters
# bit for bit those of an uninterrupted run (same threads); metrics.jsonl
# has each step once. A shard corrupted mid-run stops the job with the
# record named and the checkpoints kept; a NaN stops it too.
set -u
: "${top_builddir:=.}" "${top_srcdir:=.}"
bin="$top_builddir/tools"
help="$top_builddir/tests/cli/train-helper"
fx="$top_srcdir/tests/fixtures/train"
tmp=$(mktemp -d)
trap 'kill -9 $pid 2>/dev/null; rm -rf "$tmp"' EXIT
pid=0 fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
run() { "$@" || fail "$*"; }

run "$bin/rclip-shard" -q -s 32 --store raw -o "$tmp/lite" "$fx/lite.jsonl"
# 13 steps per epoch: the run crosses epochs, shuffled through a small buffer
job="--stage 1 --init $fx/init --data $tmp/lite.list --batch 8 --steps 120 --seed 7
	--buffer 16 --lr 1e-3 -j 1 -q"

run "$bin/rclip-train" $job --out "$tmp/ref"

# wait_for FILE: until it exists (at most 60 s)
wait_for() {
	i=0
	while [ ! -e "$1" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
}

# 1. SIGKILL after the first checkpoint, then --resume
"$bin/rclip-train" $job --out "$tmp/kill" --save-every 20 --keep 2 &
pid=$!
wait_for "$tmp/kill/ckpt-20.safetensors"
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
if [ -e "$tmp/kill/final.safetensors" ]; then
	echo "SKIP part 1: the run finished before it was killed (a very fast machine)"
else
	ls "$tmp/kill" | grep -q '\.tmp\.' && echo "(a temporary checkpoint was left by the kill)"
	run "$bin/rclip-train" --resume "$tmp/kill" -j 1 -q
	run "$help" compare "$tmp/kill/final.safetensors" "$tmp/ref/final.safetensors" 0
	n=$(ls "$tmp/kill" | grep -c '^ckpt-')
	[ "$n" -le 2 ] || fail "--keep 2 left $n checkpoints"
	steps=$(sed 's/.*"step": \([0-9]*\),.*/\1/' "$tmp/kill/metrics.jsonl" | sort -n | uniq | wc -l)
	lines=$(wc -l < "$tmp/kill/metrics.jsonl")
	[ "$steps" -eq 120 ] && [ "$lines" -eq 120 ] || fail "metrics: $lines lines, $steps steps"
	cmp -s "$tmp/kill/metrics.jsonl" "$tmp/ref/metrics.jsonl" &&
		fail "metrics identical including samples_per_s: suspicious"
	sed 's/, "samples_per_s.*//' "$tmp/kill/metrics.jsonl" > "$tmp/a"
	sed 's/, "samples_per_s.*//' "$tmp/ref/metrics.jsonl" > "$tmp/b"
	cmp -s "$tmp/a" "$tmp/b" || fail "the resumed run's metrics differ from the uninterrupted"
fi

# 2. SIGTERM: a checkpoint at the current step, exit 143, then --resume
"$bin/rclip-train" $job --out "$tmp/term" --save-every 1000 &
pid=$!
wait_for "$tmp/term/metrics.jsonl"
sleep 0.3
kill -TERM $pid
wait $pid
st=$?
if [ -e "$tmp/term/final.safetensors" ]; then
	echo "SKIP part 2: the run finished before SIGTERM"
else
	[ "$st" -eq 143 ] || fail "SIGTERM: exit $st, expected 143"
	ls "$tmp/term"/ckpt-*.safetensors >/dev/null 2>&1 || fail "SIGTERM: no checkpoint"
	run "$bin/rclip-train" --resume "$tmp/term" -j 1 -q
	run "$help" compare "$tmp/term/final.safetensors" "$tmp/ref/final.safetensors" 0
fi
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

# 4. a NaN in the weights: the loss is not finite at step 1; the run stops
# with the step named, exit 1, and no final model
mkdir "$tmp/nanmodel"
cp "$fx/init/config.json" "$tmp/nanmodel/"
run "$help" poison "$fx/init/model.safetensors" "$tmp/nanmodel/model.safetensors" \
	text_projection.weight
"$bin/rclip-train" --stage 1 --init "$tmp/nanmodel" --data "$tmp/lite.list" --batch 8 \
	--steps 3 -q --out "$tmp/nan" 2>"$tmp/err"
st=$?
[ $st -eq 1 ] && grep -q 'step 1: the loss is nan' "$tmp/err" || fail "NaN: exit $st: $(cat "$tmp/err")"
test -f "$tmp/nan/final.safetensors" && fail "NaN: a final model was written"

echo "train-resume: $fails failed"
[ "$fails" -eq 0 ]

#!/bin/sh
# hostile-cli.sh - what goes on around the files (issue 13): an output name
# that is a symlink is refused (--force replaces the link, never its
# target); two writers on one output, the second refused at once with the
# first one's pid; a blocked read interrupted by SIGINT; a full standard
# output is a failure. rclip-train: a resumed run keeps the checkpoint
# cadence and --keep of the first (killed again after resuming, it resumes
# again); a checkpoint's stored options are checked as the command line's,
# and its metadata against its checksum; two runs on one directory, and a
# --resume of a running run, are refused at once with the holder's pid.
# Each case here failed before its fix.
set -u
: "${top_builddir:=.}" "${top_srcdir:=.}"
bin="$top_builddir/tools"
help="$top_builddir/tests/cli/train-helper"
fx="$top_srcdir/tests/fixtures"
tmp=$(mktemp -d)
pids=
trap 'for p in $pids; do kill -9 "$p" 2>/dev/null; done; rm -rf "$tmp"' EXIT
fails=0 passes=0
. "$top_srcdir/tests/cli/testlib.sh"

# wait_lock FILE: until FILE holds a pid (the writer holds its lock), 20 s
wait_lock() {
	i=0
	while [ $i -lt 200 ] && ! grep -q '^[0-9]' "$1" 2>/dev/null; do
		sleep 0.1; i=$((i + 1))
	done
}

# ---- a small dataset
d="$tmp/data"
mkdir -p "$d/img"
cp "$fx/images/jpeg-rgb-q90-420-500x375.jpg" "$d/img/a.jpg"
cp "$fx/images/png-rgba-400x300.png" "$d/img/b.png"
printf '{"image_path": "img/a.jpg", "caption": "a red car"}\n{"image_path": "img/b.png", "caption": "a cat"}\n' >"$d/desc.jsonl"
printf '{"image_path": "img/b.png", "caption": "a dog"}\n' >"$d/other.jsonl"

# ---- 1. a symlink at an output name: refused, its target untouched
mkdir "$tmp/A" "$tmp/B"
expect 0 "$bin/rclip-shard" -q -s 32 -o "$tmp/A/a" "$d/other.jsonl"
cp "$tmp/A/a-000000.rcs" "$tmp/a0.saved"
ln -s ../A/a-000000.rcs "$tmp/B/b-000000.rcs"
expect 1 "$bin/rclip-shard" -q -s 32 -o "$tmp/B/b" "$d/desc.jsonl"
has "$tmp/err" "b-000000.rcs: is a symbolic link; refusing to write through it" "shard over a link"
has "$tmp/err" "hint:.*--force" "shard over a link: the hint"
same "$tmp/A/a-000000.rcs" "$tmp/a0.saved" "the link's target after a refused run"
# --force replaces the link itself
expect 0 "$bin/rclip-shard" -q -s 32 --force -o "$tmp/B/b" "$d/desc.jsonl"
same "$tmp/A/a-000000.rcs" "$tmp/a0.saved" "the link's target after --force"
if [ -L "$tmp/B/b-000000.rcs" ]; then fail "--force left the link"; else ok; fi
expect 0 "$bin/rclip-shard" --inspect "$tmp/B/b-000000.rcs"
# the list too
rm -f "$tmp/B"/*
ln -s ../A/a.list "$tmp/B/b.list"
cp "$tmp/A/a.list" "$tmp/a.list.saved"
expect 1 "$bin/rclip-shard" -q -s 32 -o "$tmp/B/b" "$d/desc.jsonl"
same "$tmp/A/a.list" "$tmp/a.list.saved" "a list behind a link"

# every other writer too: refused, --force replaces the link itself
printf 'a cat\n' >"$tmp/one.txt"
printf 'keep me\n' >"$tmp/target"
expect 0 "$bin/rclip-retrieve" embed -q -m "$fx/eval/model" --text "$tmp/one.txt" -o "$tmp/g1.npy"
for w in tokenize "retrieve embed" "retrieve search" eval; do
	rm -f "$tmp/link"
	ln -s target "$tmp/link"
	case $w in
	tokenize) set -- "$bin/rclip-tokenize" -q "$tmp/one.txt" ;;
	"retrieve embed") set -- "$bin/rclip-retrieve" embed -q -m "$fx/eval/model" --text "$tmp/one.txt" ;;
	"retrieve search") set -- "$bin/rclip-retrieve" search -q -m "$fx/eval/model" --text "$tmp/one.txt" \
		-g "$tmp/g1.npy" ;;
	eval) set -- "$bin/rclip-eval" sets -q -m "$fx/eval/model" "$fx/eval/sets.jsonl" ;;
	esac
	expect 1 "$@" -o "$tmp/link"
	has "$tmp/err" "link: is a symbolic link; refusing to write through it" "$w -o a link"
	has "$tmp/target" "keep me" "$w: the link's target"
	expect 0 "$@" --force -o "$tmp/link"
	if [ -L "$tmp/link" ]; then fail "$w --force left the link"; else ok; fi
	has "$tmp/target" "keep me" "$w --force: the link's target"
done

# ---- 2. two writers on one prefix: the second fails at once, naming the
# first one's pid; the first, blocked reading its input, stops on SIGINT
rm -rf "$tmp/C"; mkdir "$tmp/C"
(sleep 30 | "$bin/rclip-shard" -q -s 32 --format jsonl -o "$tmp/C/c" - 2>"$tmp/first.err") &
pids="$pids $!"
wait_lock "$tmp/C/c.lock"
holder=$(cat "$tmp/C/c.lock" 2>/dev/null)
expect 1 "$bin/rclip-shard" -q -s 32 -o "$tmp/C/c" "$d/desc.jsonl"
has "$tmp/err" "c: in use by process ${holder:-none} (lock .*c.lock)" "second writer"
absent "$tmp/C/c.list" "second writer's list"
spid=$(pgrep -f "rclip-shard -q -s 32 --format jsonl -o $tmp/C/c" | head -1)
if [ -n "$spid" ]; then
	[ "$spid" = "$holder" ] && ok || fail "the lock names $holder, the writer is $spid"
	kill -INT "$spid"
	i=0
	while [ $i -lt 50 ] && kill -0 "$spid" 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
	if kill -0 "$spid" 2>/dev/null; then fail "SIGINT did not stop a blocked read"; else ok; fi
	has "$tmp/first.err" "interrupted" "the first writer's message"
else
	fail "the first writer is not running"
fi
# the lock goes with its process: a third run goes through
expect 0 "$bin/rclip-shard" -q -s 32 -o "$tmp/C/c" "$d/desc.jsonl"

# ---- 3. a full standard output is a failure
if [ -w /dev/full ]; then
	rm -rf "$tmp/D"; mkdir "$tmp/D"
	expect 1 sh -c '"$0" -q -s 32 --json -o "$1" "$2" >/dev/full' "$bin/rclip-shard" \
		"$tmp/D/d" "$d/desc.jsonl"
	has "$tmp/err" "standard output: write error" "--json to a full disk"
	# rclip-export: the report lost, OUT whole, and the message says so
	expect 1 sh -c '"$0" --from "$1" --to hf -o "$2" >/dev/full' "$bin/rclip-export" \
		"$fx/eval/model" "$tmp/D/hf"
	has "$tmp/err" "standard output: write error" "export's report to a full disk"
	has "$tmp/err" "hf is written and whole; only the report was lost" "export: OUT is whole"
fi

ckpts() { ls "$1" | grep '^ckpt-' | sort -t- -k2 -n | tr '\n' ' '; }

expect 0 "$bin/rclip-shard" -q -s 32 --store raw -o "$tmp/lite" "$fx/train/lite.jsonl"
job="--stage 1 --init $fx/train/init --data $tmp/lite.list --batch 8 --steps 30 --seed 3 -j 1 -q"

# ---- 4. rclip-train: resumed twice after SIGKILL: the cadence and --keep carry over
expect 137 "$bin/rclip-train" $job --out "$tmp/r" --save-every 5 --keep 2 \
	--test-kill-after-checkpoint 10:KILL
eq "$(ckpts "$tmp/r")" "ckpt-5.safetensors ckpt-10.safetensors " "first run's checkpoints"
expect 137 "$bin/rclip-train" --resume "$tmp/r" --test-kill-after-checkpoint 20:KILL -j 1 -q
eq "$(ckpts "$tmp/r")" "ckpt-15.safetensors ckpt-20.safetensors " \
	"the resumed run checkpoints every 5 steps and keeps 2"
expect 0 "$bin/rclip-train" --resume "$tmp/r" -j 1 -q
test -f "$tmp/r/final.safetensors" && ok || fail "no final model after the second resume"
eq "$(ckpts "$tmp/r")" "ckpt-20.safetensors ckpt-25.safetensors " "the second resume's checkpoints"
expect 0 "$bin/rclip-train" $job --out "$tmp/ref"
expect 0 "$help" compare "$tmp/r/final.safetensors" "$tmp/ref/final.safetensors" 0
# given again, --save-every wins
expect 137 "$bin/rclip-train" $job --out "$tmp/g" --save-every 5 \
	--test-kill-after-checkpoint 5:KILL
expect 0 "$bin/rclip-train" --resume "$tmp/g" --save-every 10 -j 1 -q
eq "$(ckpts "$tmp/g")" "ckpt-5.safetensors ckpt-10.safetensors ckpt-20.safetensors " \
	"--save-every given to --resume"

# ---- 5. stored options checked as the command line's
expect 137 "$bin/rclip-train" $job --out "$tmp/o" --save-every 5 \
	--test-kill-after-checkpoint 5:KILL
cp "$tmp/o/ckpt-5.safetensors" "$tmp/ckpt5"
# tryopt SECTION KEY VALUE PATTERN: a checkpoint whose SECTION has KEY set
# to VALUE (no checksum, as an old checkpoint) is refused with PATTERN
tryopt() {
	rm -f "$tmp/o/ckpt-5.safetensors"
	"$help" setmeta "$tmp/ckpt5" "$tmp/o/ckpt-5.safetensors" "$1" "$2" "$3" ||
		fail "setmeta $2"
	expect 1 "$bin/rclip-train" --resume "$tmp/o" -j 1 -q
	has "$tmp/err" "$4" "$1 $2 $3"
	[ "$(wc -l < "$tmp/err")" -eq 1 ] && ok || fail "$2 $3: not one line: $(cat "$tmp/err")"
}
tryopt options accum 0 "options: accum 0 is out of range"
tryopt options steps 1e20 "options: steps 1e+20 is out of range"
tryopt options stage 9 "options: stage 9 is out of range"
tryopt options batch -4 "options: batch -4 is out of range"
tryopt options lr '"x"' 'options: no number "lr"'
tryopt options keep 0 "options: keep is out of range"
tryopt state step 99 "state: step 99 of 30.*out of range"
# the same edit with the checksum kept: the checksum catches it
rm -f "$tmp/o/ckpt-5.safetensors"
expect 0 "$help" tamper "$tmp/ckpt5" "$tmp/o/ckpt-5.safetensors" options accum 2
expect 1 "$bin/rclip-train" --resume "$tmp/o" -j 1 -q
has "$tmp/err" "metadata's checksum does not match" "an edited checkpoint"
# without the checksum and within range, it resumes
rm -f "$tmp/o/ckpt-5.safetensors"
expect 0 "$help" setmeta "$tmp/ckpt5" "$tmp/o/ckpt-5.safetensors" options steps 8
expect 0 "$bin/rclip-train" --resume "$tmp/o" -j 1 -q

# ---- 6. one process per run directory, --resume included
long="--stage 1 --init $fx/train/init --data $tmp/lite.list --batch 8 --steps 100000 -j 1 -q"
"$bin/rclip-train" $long --out "$tmp/c" --save-every 2 2>"$tmp/first.err" &
first=$!
pids="$pids $first"
wait_lock "$tmp/c/.lock"
expect 1 "$bin/rclip-train" $long --out "$tmp/c"
has "$tmp/err" "c: in use by process $first (lock .*/c/.lock)" "a second run on one directory"
i=0
while [ $i -lt 200 ] && ! ls "$tmp/c" | grep -q '^ckpt-'; do sleep 0.1; i=$((i + 1)); done
lines=$(wc -l < "$tmp/c/metrics.jsonl")
expect 1 "$bin/rclip-train" --resume "$tmp/c" -j 1 -q
has "$tmp/err" "c: in use by process $first" "--resume of a running run"
[ "$(wc -l < "$tmp/c/metrics.jsonl")" -ge "$lines" ] && ok ||
	fail "--resume of a running run truncated its metrics"
kill -TERM "$first"
wait "$first"
eq "$?" 143 "the first run, stopped by SIGTERM"
absent "$tmp/c/.lock" "the lock after the run"
"$bin/rclip-train" --resume "$tmp/c" -j 1 -q 2>/dev/null &
resumed=$!
pids="$pids $resumed"
wait_lock "$tmp/c/.lock"
kill -9 "$resumed"
wait "$resumed" 2>/dev/null
# a killed holder leaves the file but not the lock
test -f "$tmp/c/.lock" && ok || fail "a killed run left no lock file (the test proves nothing)"
"$bin/rclip-train" --resume "$tmp/c" -j 1 -q 2>"$tmp/err" &
p=$!
pids="$pids $p"
i=0
while [ $i -lt 200 ] && [ "$(cat "$tmp/c/.lock" 2>/dev/null)" != "$p" ] && kill -0 "$p" 2>/dev/null; do
	sleep 0.1; i=$((i + 1))
done
[ "$(cat "$tmp/c/.lock" 2>/dev/null)" = "$p" ] && ok ||
	fail "a stale lock file blocked a resume: $(cat "$tmp/err")"
kill -9 "$p"
wait "$p" 2>/dev/null

# ---- 7. a poisoned model: one NaN in a projection is refused by every
# reader of models, naming the tensor; --skip-finite-check loads it, and
# then the NaN embeddings stop the run (with the row) or, with --skip-bad,
# become NaN rows; the metrics count a NaN as a miss
e="$tmp/e"
cp -r "$fx/eval" "$e"
mkdir "$e/nan"
cp "$e/model/"* "$e/nan/"
rm -f "$e/nan/model.safetensors"
expect 0 "$help" poison "$e/model/model.safetensors" "$e/nan/model.safetensors" \
	text_projection.weight
poisoned="tensor text_projection.weight holds a NaN at index 0"
expect 1 "$bin/rclip-eval" sets -q -m "$e/nan" "$e/sets.jsonl"
has "$tmp/err" "$poisoned" "rclip-eval of a poisoned model"
printf 'a cat\na dog\n' >"$tmp/t.txt"
expect 1 "$bin/rclip-retrieve" embed -q -m "$e/nan" --text "$tmp/t.txt" -o "$tmp/t.npy"
has "$tmp/err" "$poisoned" "rclip-retrieve embed of a poisoned model"
absent "$tmp/t.npy" "embed's output of a poisoned model"
expect 0 "$bin/rclip-retrieve" embed -q -m "$e/model" --text "$tmp/t.txt" -o "$tmp/gal.npy"
expect 1 "$bin/rclip-retrieve" search -q -m "$e/nan" --text "$tmp/t.txt" -g "$tmp/gal.npy"
has "$tmp/err" "$poisoned" "rclip-retrieve search of a poisoned model"
expect 1 "$bin/rclip-export" -q --from "$e/nan" --to hf -o "$tmp/nan-hf"
has "$tmp/err" "$poisoned" "rclip-export of a poisoned model"
absent "$tmp/nan-hf" "export of a poisoned model"
expect 1 "$bin/rclip-train" --stage 0 --init "$e/nan" --data "$tmp/lite.list" --batch 8 \
	--steps 1 -q --out "$tmp/nan-run"
has "$tmp/err" "$poisoned" "rclip-train of a poisoned model"
# skipped: the embeddings are NaN, and that stops the run with the row
expect 1 "$bin/rclip-retrieve" embed -q --skip-finite-check -m "$e/nan" --text "$tmp/t.txt" \
	-o "$tmp/t.npy"
has "$tmp/err" "t.txt:1: the embedding is not finite" "embed: a NaN row named"
absent "$tmp/t.npy" "embed's output with NaN rows"
expect 0 "$bin/rclip-retrieve" embed -q --skip-bad --skip-finite-check -m "$e/nan" \
	--text "$tmp/t.txt" -o "$tmp/t.npy"
expect 1 "$bin/rclip-eval" sets -q --skip-finite-check -m "$e/nan" "$e/sets.jsonl"
has "$tmp/err" "is not finite" "eval: a NaN embedding stops it"
expect 1 "$bin/rclip-retrieve" search -q --skip-finite-check -m "$e/nan" --text "$tmp/t.txt" \
	-g "$tmp/gal.npy"
has "$tmp/err" "not finite" "search: a NaN query stops it"

# ---- 8. a FIFO where an image, a shard or a model should be: refused at
# once (opened without blocking, looked at with fstat before any read), not
# waited on forever; a stalled stream stops on SIGINT
mkfifo "$d/img/f.jpg" "$tmp/f.rcs" "$tmp/f.safetensors"
printf '{"image_path": "img/f.jpg", "caption": "a pipe"}\n{"image_path": "img/a.jpg", "caption": "a car"}\n' \
	>"$d/fifo.jsonl"
rm -rf "$tmp/F"; mkdir "$tmp/F"
expect 0 timeout 20 "$bin/rclip-shard" -s 32 -o "$tmp/F/f" "$d/fifo.jsonl"
has "$tmp/err" "fifo.jsonl:1: cannot read image .*f.jpg: not a regular file" "a FIFO image skipped"
expect 1 timeout 20 "$bin/rclip-shard" --inspect "$tmp/f.rcs"
has "$tmp/err" "f.rcs: not a regular file" "a FIFO shard refused"
expect 1 timeout 20 "$bin/rclip-retrieve" embed -q -m "$e/model" --images "$d/fifo.jsonl" \
	-o "$tmp/f.npy"
has "$tmp/err" "not a regular file" "embed: a FIFO image is a bad input"
expect 1 timeout 20 "$bin/rclip-eval" sets -q -m "$tmp/f.safetensors" "$e/sets.jsonl"
has "$tmp/err" "f.safetensors" "a FIFO model refused"
(sleep 30 | "$bin/rclip-retrieve" embed -q -m "$e/model" --text - -o "$tmp/s.npy" \
	2>"$tmp/embed.err") &
i=0
while [ $i -lt 100 ] && ! pgrep -f "rclip-retrieve embed -q -m $e/model --text -" >/dev/null; do
	sleep 0.1; i=$((i + 1))
done
sleep 0.5
spid=$(pgrep -f "rclip-retrieve embed -q -m $e/model --text -" | head -1)
if [ -n "$spid" ]; then
	kill -INT "$spid"
	i=0
	while [ $i -lt 50 ] && kill -0 "$spid" 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
	if kill -0 "$spid" 2>/dev/null; then
		fail "embed: SIGINT did not stop a blocked read"; kill -9 "$spid"
	else ok; fi
	absent "$tmp/s.npy" "embed's output after SIGINT"
else
	fail "embed reading a stalled pipe is not running"
fi

# ---- 9. rclip-eval names a bad record of a shard list after the list is
# freed: the name must be its own copy (ASan saw the use after free)
rm -rf "$tmp/U"; mkdir "$tmp/U"
expect 0 "$bin/rclip-shard" -q -s 64 -o "$tmp/U/s64" "$e/sets.jsonl"
expect 1 "$bin/rclip-eval" sets -q -m "$fx/clip/tiny-img64" "$tmp/U/s64.list"
has "$tmp/err" "s64-000000.rcs: record 0: .*outside the model's vocabulary of 256" \
	"a bad record of a shard list named"

# ---- 10. a tar piped in without --format: refused, not read as TSV
mkdir -p "$tmp/tar"
cp "$d/img/a.jpg" "$tmp/tar/000001.jpg"
printf 'a red car' >"$tmp/tar/000001.txt"
(cd "$tmp/tar" && tar -cf ../in.tar 000001.jpg 000001.txt)
rm -rf "$tmp/T"; mkdir "$tmp/T"
expect 1 sh -c '"$0" -q -s 32 -o "$1" - <"$2"' "$bin/rclip-shard" "$tmp/T/t" "$tmp/in.tar"
has "$tmp/err" "binary data, not a manifest (a tar)" "a tar on stdin without --format"
has "$tmp/err" "needs --format tar" "a tar on stdin: the hint"
expect 0 sh -c '"$0" -q -s 32 --format tar -o "$1" - <"$2"' "$bin/rclip-shard" "$tmp/T/t" \
	"$tmp/in.tar"

# ---- 11. a choice-set tag with control characters is printed escaped
sed 's/"tag": "v1"/"tag": "v1\\u001b[31mred"/' "$e/sets.jsonl" >"$e/esc.jsonl"
expect 0 "$bin/rclip-eval" sets -q -m "$e/model" "$e/esc.jsonl"
has "$tmp/out" 'v1\\x1b\[31mred' "a tag's escape sequence printed as \\x1b"
if LC_ALL=C grep -q "$(printf '\033')" "$tmp/out"; then fail "a raw ESC in the table"; else ok; fi

# ---- 12. a config with fewer layers than its weights: refused, not cut
mkdir "$e/short"
cp "$e/model/model.safetensors" "$e/short/"
sed '0,/"num_hidden_layers": 2/s//"num_hidden_layers": 1/' "$e/model/config.json" \
	>"$e/short/config.json"
expect 1 "$bin/rclip-eval" sets -q -m "$e/short" "$e/sets.jsonl"
has "$tmp/err" "encoder.layers.1.* is not in the model of the config" "a config short of layers"

# ---- 13. rclip-train: a symlink planted as DIR/metrics.jsonl is not
# appended through
mkdir "$tmp/mlink"
printf 'keep me\n' >"$tmp/mtarget"
ln -s ../mtarget "$tmp/mlink/metrics.jsonl"
expect 1 "$bin/rclip-train" --stage 1 --init "$fx/train/init" --data "$tmp/lite.list" --batch 8 \
	--steps 1 -q --out "$tmp/mlink"
has "$tmp/err" "metrics.jsonl: is a symbolic link; refusing to write through it" \
	"a planted metrics.jsonl link"
has "$tmp/mtarget" "^keep me$" "the metrics link's target"
eq "$(wc -l <"$tmp/mtarget" | tr -d ' ')" 1 "the metrics link's target, one line"

echo "hostile-cli: $passes passed, $fails failed"
[ "$fails" -eq 0 ]

#!/bin/sh
# writers.sh - the fault-injection harness (issue 13): every program that
# writes a file, in its test build (tests/fault/, where RCLIP_FAULT_AT=N
# kills the process with SIGKILL at its Nth write step: base/fault.h), is
# killed at each of its write steps in turn, from an earlier output of
# other content. After each kill every final name must hold the old
# content or the complete new one (or be absent where it was), never a
# mixture or a prefix. The number of crash points exercised is printed.
# Then the old and the new command run at once, and the same holds.
set -u
: "${top_builddir:=.}" "${top_srcdir:=.}"
fb="$top_builddir/tests/fault"
bin="$top_builddir/tools"
fx="$top_srcdir/tests/fixtures"
for p in shard tokenize retrieve export eval train synth; do
	[ -x "$fb/rclip-$p" ] || { echo "writers: $fb/rclip-$p not built"; exit 77; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0 passes=0 total=0
. "$top_srcdir/tests/cli/testlib.sh"

# snap DIR TO: a copy of the output directory DIR as it is (temporaries
# .NAME.tmp.XXXXXX are not outputs and are left out)
snap() {
	rm -rf "$2"
	mkdir -p "$2"
	[ -d "$1" ] && (cd "$1" && find . ! -name '.*.tmp.*' ! -name '.lock' -type f) |
		while read -r f; do mkdir -p "$2/$(dirname "$f")"; cp "$1/$f" "$2/$f"; done
	return 0
}

# check NAME DIR: every file of the old and the new snapshots is, in DIR,
# the old one or the new one, or absent where the old one was absent
check() {
	(cd "$tmp/old" && find . -type f; cd "$tmp/new" && find . -type f) | sort -u |
	while read -r f; do
		case $f in */metrics.jsonl) continue ;; esac
		if [ -f "$2/$f" ]; then
			cmp -s "$2/$f" "$tmp/old/$f" || cmp -s "$2/$f" "$tmp/new/$f" ||
				echo "$f is neither the old nor the new content"
		elif [ -f "$tmp/old/$f" ] && [ -f "$tmp/new/$f" ]; then
			echo "$f is gone"
		fi
	done >"$tmp/bad"
	# an append-only log: whole lines only
	for m in $(find "$2" -name metrics.jsonl); do
		[ ! -s "$m" ] || [ "$(tail -c 1 "$m" | od -An -c | tr -d ' ')" = '\n' ] ||
			echo "$m ends inside a line" >>"$tmp/bad"
	done
	if [ -s "$tmp/bad" ]; then fail "$1: $(head -3 "$tmp/bad")"; else ok; fi
}

# sweep NAME DIR OLD NEW: OLD and NEW are shell commands (run with eval)
# writing into DIR. OLD makes the earlier output; NEW, run once whole,
# gives the new output and its number of crash points N; then for k in
# 1..N, from the earlier output again, NEW killed at point k.
sweep() {
	name=$1 dir=$2 old=$3 new=$4
	rm -rf "$dir"
	mkdir -p "$dir"
	eval "$old" >/dev/null 2>"$tmp/err" || { fail "$name: the old output: $(cat "$tmp/err")"; return; }
	snap "$dir" "$tmp/old"
	rm -f "$tmp/count"
	(export RCLIP_FAULT_COUNT="$tmp/count"; eval "$new") >/dev/null 2>"$tmp/err" ||
		{ fail "$name: the new output: $(cat "$tmp/err")"; return; }
	snap "$dir" "$tmp/new"
	n=$(tail -n 1 "$tmp/count" 2>/dev/null)
	[ "${n:-0}" -gt 0 ] || { fail "$name: no crash point"; return; }
	k=1
	while [ "$k" -le "$n" ]; do
		rm -rf "$dir"
		mkdir -p "$dir"
		cp -R "$tmp/old/." "$dir/"
		(export RCLIP_FAULT_AT=$k; eval "$new") >/dev/null 2>&1
		st=$?
		[ "$st" -eq 137 ] || fail "$name: point $k of $n: exit $st, not killed"
		check "$name (killed at point $k of $n)" "$dir"
		k=$((k + 1))
	done
	echo "writers: $name: $n crash points"
	total=$((total + n))
	# two writers at once, three times: each file ends as one of the
	# two whole outputs (or the second writer is refused at once)
	for r in 1 2 3; do
		rm -rf "$dir"
		mkdir -p "$dir"
		cp -R "$tmp/old/." "$dir/"
		(eval "$old") >/dev/null 2>&1 &
		p1=$!
		(eval "$new") >/dev/null 2>&1 &
		p2=$!
		wait "$p1" "$p2"
		check "$name (two writers at once, try $r)" "$dir"
	done
}

# ---- inputs
d="$tmp/d"
mkdir -p "$d/img"
cp "$fx/images/jpeg-rgb-q90-420-500x375.jpg" "$d/img/a.jpg"
cp "$fx/images/png-rgba-400x300.png" "$d/img/b.png"
printf '{"image_path": "img/a.jpg", "caption": "a red car"}\n{"image_path": "img/b.png", "caption": "a cat"}\n' >"$d/desc.jsonl"
printf '{"image_path": "img/b.png", "caption": "a dog"}\n' >"$d/other.jsonl"
printf 'a cat\na dog\na red car\n' >"$d/t.txt"
printf 'a bird\n' >"$d/u.txt"
m="$fx/eval/model"
"$bin/rclip-shard" -q -s 32 --store raw -o "$d/lite" "$fx/train/lite.jsonl" || fail "lite shards"
"$bin/rclip-retrieve" embed -q -m "$m" --text "$d/t.txt" -o "$d/g.npy" || fail "gallery"
"$bin/rclip-retrieve" embed -q -m "$m" --text "$d/u.txt" -o "$d/q.npy" || fail "queries"
w="$tmp/w"

# ---- the writers
sweep rclip-shard "$w" \
	"'$fb/rclip-shard' -q -j 1 -s 32 -o '$w/s' '$d/other.jsonl'" \
	"'$fb/rclip-shard' -q -j 1 -s 32 -o '$w/s' '$d/desc.jsonl'"
sweep rclip-tokenize "$w" \
	"'$fb/rclip-tokenize' -q -o '$w/ids.txt' '$d/u.txt'" \
	"'$fb/rclip-tokenize' -q -o '$w/ids.txt' '$d/t.txt'"
sweep "rclip-retrieve embed" "$w" \
	"'$fb/rclip-retrieve' embed -q -j 1 -m '$m' --text '$d/u.txt' -o '$w/e.npy' --ids '$w/e.ids'" \
	"'$fb/rclip-retrieve' embed -q -j 1 -m '$m' --text '$d/t.txt' -o '$w/e.npy' --ids '$w/e.ids'"
sweep "rclip-retrieve search" "$w" \
	"'$fb/rclip-retrieve' search -q -g '$d/g.npy' -Q '$d/q.npy' -k 1 -o '$w/hits.tsv'" \
	"'$fb/rclip-retrieve' search -q -g '$d/g.npy' -Q '$d/q.npy' -k 3 -o '$w/hits.tsv'"
sweep rclip-eval "$w" \
	"'$fb/rclip-eval' sets -q -j 1 -m '$fx/train/init' -o '$w/report.txt' '$fx/eval/sets.jsonl'" \
	"'$fb/rclip-eval' sets -q -j 1 -m '$m' -o '$w/report.txt' '$fx/eval/sets.jsonl'"
sweep rclip-export "$w" \
	"'$fb/rclip-export' -q --from '$m' --to hf -o '$w/hf'" \
	"'$fb/rclip-export' -q --force --from '$fx/train/init' --to hf -o '$w/hf'"
sweep rclip-train "$w" \
	"mkdir -p '$w'" \
	"'$fb/rclip-train' --stage 1 --init '$fx/train/init' --data '$d/lite.list' --batch 8 --steps 2 --save-every 1 -j 1 -q --out '$w/run'"
sweep rclip-synth "$w" \
	"'$fb/rclip-synth' -q --seed 1 -n 2 --size 64 -o '$w/syn'" \
	"'$fb/rclip-synth' -q --seed 2 -n 2 --size 64 --force -o '$w/syn'"

echo "writers: $total crash points in all; $passes passed, $fails failed"
[ "$fails" -eq 0 ]

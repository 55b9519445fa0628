#!/bin/sh
# hostile-cli.sh - what goes on around the files (issue 13): an output name
# that is a symlink is refused (--force replaces the link, never its
# target); two writers on one output, the second refused at once with the
# first one's pid; a blocked read interrupted by SIGINT; a full standard
# output is a failure. Each case here failed before its fix.
set -u
: "${top_builddir:=.}" "${top_srcdir:=.}"
bin="$top_builddir/tools"
fx="$top_srcdir/tests/fixtures"
tmp=$(mktemp -d)
pids=
trap 'for p in $pids; do kill -9 "$p" 2>/dev/null; done; rm -rf "$tmp"' EXIT
fails=0 passes=0
. "$top_srcdir/tests/cli/testlib.sh"

# wait_lock FILE: until FILE holds a pid (the writer holds its lock), 10 s
wait_lock() {
	i=0
	while [ $i -lt 100 ] && ! grep -q '^[0-9]' "$1" 2>/dev/null; do
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
fi

echo "hostile-cli: $passes passed, $fails failed"
[ "$fails" -eq 0 ]

#!/bin/sh
# pathmap-cli.sh - --path-map OLD=NEW: manifests whose image paths name
# another cluster's prefix (/gpfs/cluster-a/reason/...) shard, evaluate and
# embed as the local manifest does once the prefix is mapped, in JSONL,
# TSV and Parquet (an image_path column, and an Image struct with a path
# and no bytes: tests/fixtures/parquet/far-*.parquet); the longest OLD
# wins and prefixes match whole directories; the key stays as written; a
# malformed map is a usage error (exit 2) with nothing written. Also
# rclip-retrieve embed on a Parquet file with embedded images gives the
# rows of the same images read from files.
set -u
: "${top_builddir:=.}" "${top_srcdir:=.}"
sh_="$top_builddir/tools/rclip-shard"
ev="$top_builddir/tools/rclip-eval"
rt="$top_builddir/tools/rclip-retrieve"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0 passes=0
. "$top_srcdir/tests/cli/testlib.sh"
d="$tmp/pq"
cp -r "$top_srcdir/tests/fixtures/parquet" "$d"
far=/gpfs/cluster-a/reason
m="$top_srcdir/tests/fixtures/eval/model"

# The records of a shard list without shard names and keys, for comparing.
records() {
	for s in $(sed -n 's/^\([^#].*\.rcs\).*/\1/p' "$1"); do
		"$sh_" --inspect --records "$(dirname "$1")/$s"
	done | sed 's/"shard":"[^"]*",//; s/"key":"[^"]*",//' >"$2"
}

expect 0 "$sh_" -q -j 2 -o "$tmp/pro" "$d/reasonpro.jsonl"
records "$tmp/pro.list" "$tmp/pro.rec"
eq "$(wc -l <"$tmp/pro.rec")" 7 "local: 7 records"

# ---- JSONL: without the map every image is missing; with it, the records
sed "s#\"img/#\"$far/img/#" "$d/reasonpro.jsonl" >"$tmp/far.jsonl"
expect 0 "$sh_" -j 2 -o "$tmp/nomap" "$tmp/far.jsonl"
has "$tmp/err" "far.jsonl:1: cannot read image $far/img/00.png" "no map: the far path"
has "$tmp/err" "7 records read, 0 written" "no map: nothing written"
expect 0 "$sh_" -j 2 --path-map "$far=$d" -o "$tmp/map" "$tmp/far.jsonl"
has "$tmp/err" "7 records read, 7 written, 0 skipped" "map: all written"
records "$tmp/map.list" "$tmp/map.rec"
same "$tmp/map.rec" "$tmp/pro.rec" "map: the local records"
"$sh_" --inspect --records "$tmp/map-000000.rcs" | sed -n 1p >"$tmp/r0"
has "$tmp/r0" "\"key\":\"$far/img/00.png\"" "map: the key as written"
# trailing slashes are ignored; the longest OLD wins, in either order
expect 0 "$sh_" -q -j 2 --path-map "$far/=$d/" -o "$tmp/slash" "$tmp/far.jsonl"
records "$tmp/slash.list" "$tmp/slash.rec"
same "$tmp/slash.rec" "$tmp/pro.rec" "trailing slashes"
expect 0 "$sh_" -q -j 2 --path-map /gpfs=/nowhere --path-map "$far=$d" \
	--path-map /gpfs/cluster-a=/nowhere/a -o "$tmp/long1" "$tmp/far.jsonl"
records "$tmp/long1.list" "$tmp/long1.rec"
same "$tmp/long1.rec" "$tmp/pro.rec" "longest wins (given second)"
expect 0 "$sh_" -q -j 2 --path-map "$far=$d" --path-map /gpfs/cluster-a=/nowhere/a \
	-o "$tmp/long2" "$tmp/far.jsonl"
records "$tmp/long2.list" "$tmp/long2.rec"
same "$tmp/long2.rec" "$tmp/pro.rec" "longest wins (given first)"
# whole directories: /gpfs/cluster-a/rea is not a prefix of .../reason/
expect 0 "$sh_" -j 2 --path-map "/gpfs/cluster-a/rea=$d" -o "$tmp/part" "$tmp/far.jsonl"
has "$tmp/err" "cannot read image $far/img/00.png" "component: not mapped"
# a relative path is mapped as written, before the image root
expect 0 "$sh_" -q -j 2 --path-map "img=$d/img" --image-root /nowhere -o "$tmp/rel" \
	"$d/reasonpro.jsonl"
records "$tmp/rel.list" "$tmp/rel.rec"
same "$tmp/rel.rec" "$tmp/pro.rec" "relative prefix"

# ---- TSV
printf '%s/img/0%d.png\tcaption %d\n' "$far" 0 0 "$far" 1 1 >"$tmp/far.tsv"
printf 'img/0%d.png\tcaption %d\n' 0 0 1 1 >"$d/near.tsv"
expect 0 "$sh_" -q -j 2 -o "$tmp/near" "$d/near.tsv"
records "$tmp/near.list" "$tmp/near.rec"
expect 0 "$sh_" -j 2 --path-map "$far=$d" -o "$tmp/tsv" "$tmp/far.tsv"
has "$tmp/err" "2 records read, 2 written" "tsv: written"
records "$tmp/tsv.list" "$tmp/tsv.rec"
same "$tmp/tsv.rec" "$tmp/near.rec" "tsv: the local records"

# ---- Parquet: an image_path column, and an Image struct's path (no bytes)
expect 0 "$sh_" -j 2 --path-map "$far=$d" -o "$tmp/fpro" "$d/far-pro.parquet"
records "$tmp/fpro.list" "$tmp/fpro.rec"
same "$tmp/fpro.rec" "$tmp/pro.rec" "parquet image_path: the local records"
expect 0 "$sh_" -q -j 2 -o "$tmp/bench" "$d/rclip.jsonl"
records "$tmp/bench.list" "$tmp/bench.rec"
expect 0 "$sh_" -j 2 -o "$tmp/fb0" "$d/far-bench.parquet"
has "$tmp/err" "cannot read image $far/img/00.png" "parquet image.path: read as written"
expect 0 "$sh_" -j 2 --path-map "$far=$d" -o "$tmp/fb" "$d/far-bench.parquet"
records "$tmp/fb.list" "$tmp/fb.rec"
same "$tmp/fb.rec" "$tmp/bench.rec" "parquet image.path: the local records"

# ---- rclip-eval: the far benchmark counts what the local one counts
expect 0 "$ev" sets -m "$m" -j 2 --json "$d/rclip.jsonl"
sed -n '/"images"/,/"timing"/p' "$tmp/out" >"$tmp/ev-near"
has "$tmp/ev-near" '"total": 13' "eval: 13 sets"
expect 0 "$ev" sets -m "$m" -j 2 --json --path-map "$far=$d" "$d/far-bench.parquet"
sed -n '/"images"/,/"timing"/p' "$tmp/out" >"$tmp/ev-far"
same "$tmp/ev-far" "$tmp/ev-near" "eval: far parquet, mapped"
sed "s#\"img/#\"$far/img/#" "$d/rclip.jsonl" >"$tmp/far-bench.jsonl"
expect 0 "$ev" sets -m "$m" -j 2 --json --path-map "$far=$d" "$tmp/far-bench.jsonl"
sed -n '/"images"/,/"timing"/p' "$tmp/out" >"$tmp/ev-farj"
same "$tmp/ev-farj" "$tmp/ev-near" "eval: far jsonl, mapped"

# ---- rclip-retrieve embed: mapped paths, and embedded Parquet images
expect 0 "$rt" embed -m "$m" -j 2 -i "$d/rclip.jsonl" -o "$tmp/near.npy" --ids "$tmp/near.ids"
expect 0 "$rt" embed -m "$m" -j 2 -i "$tmp/far-bench.jsonl" --path-map "$far=$d" \
	-o "$tmp/far.npy"
same "$tmp/far.npy" "$tmp/near.npy" "embed: far jsonl, mapped"
expect 0 "$rt" embed -m "$m" -j 2 -i "$d/rclip-v2-zstd.parquet" -o "$tmp/pq.npy" \
	--ids "$tmp/pq.ids"
same "$tmp/pq.npy" "$tmp/near.npy" "embed: embedded parquet images"
same "$tmp/pq.ids" "$tmp/near.ids" "embed: embedded parquet ids"

# ---- a malformed map: usage error, nothing written
for bad in "$far" "=$d" "$far=" "$far=$d --path-map $far/=/x"; do
	# shellcheck disable=SC2086
	expect 2 "$sh_" -j 2 --path-map $bad -o "$tmp/bad" "$tmp/far.jsonl"
	has "$tmp/err" "^rclip-shard: --path-map: " "shard: '$bad' refused"
	absent "$tmp/bad.list" "shard: '$bad': list"
	absent "$tmp/bad-000000.rcs" "shard: '$bad': shard"
done
has "$tmp/err" "mapped twice" "shard: twice"
expect 2 "$ev" sets -m "$m" --path-map nothing "$d/rclip.jsonl"
has "$tmp/err" "^rclip-eval: --path-map: 'nothing': expected OLD=NEW" "eval: refused"
expect 2 "$rt" embed -m "$m" -i "$d/rclip.jsonl" --path-map "=x" -o "$tmp/bad.npy"
has "$tmp/err" "empty OLD prefix" "embed: refused"
absent "$tmp/bad.npy" "embed: nothing written"

echo "pathmap-cli: $passes passed, $fails failed"
[ "$fails" -eq 0 ]

#!/bin/sh
# parquet-cli.sh - the official release's Parquet files as a user gives
# them: rclip-shard on ReasonLite-, ReasonPro-, CC12M-Refined- and
# RCLIP-Bench-shaped files (tests/fixtures/parquet, written by pyarrow in
# four page/codec/encoding variants) writes the records the same data as
# JSONL give; RCLIP-Bench's embedded images; ReasonLite's tb and trl made
# 3 x 3 as the official data are; a null image_path named by its row;
# rclip-eval sets on the RCLIP-Bench Parquet counts what the JSONL counts;
# a Parquet, zip or other binary file given as a JSONL/TSV manifest fails
# with one line naming it, exit 1, no shard.
set -u
: "${top_builddir:=.}" "${top_srcdir:=.}"
sh_="$top_builddir/tools/rclip-shard"
ev="$top_builddir/tools/rclip-eval"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0 passes=0
. "$top_srcdir/tests/cli/testlib.sh"
d="$tmp/pq"
cp -r "$top_srcdir/tests/fixtures/parquet" "$d"

# The records of a shard list without the shard names, for comparing.
records() {
	for s in $(sed -n 's/^\([^#].*\.rcs\).*/\1/p' "$1"); do
		"$sh_" --inspect --records "$(dirname "$1")/$s"
	done | sed 's/"shard":"[^"]*",//' >"$2"
}

# ---- each variant gives the records of the JSONL
for name in reasonlite reasonpro cc12m; do
	expect 0 "$sh_" -q -j 2 -o "$tmp/$name-json" "$d/$name.jsonl"
	records "$tmp/$name-json.list" "$tmp/$name-json.rec"
	for v in v1-snappy v2-zstd v1-gzip-plain v2-none-plain; do
		expect 0 "$sh_" -j 2 -o "$tmp/$name-$v" "$d/$name-$v.parquet"
		records "$tmp/$name-$v.list" "$tmp/$name-$v.rec"
		same "$tmp/$name-$v.rec" "$tmp/$name-json.rec" "$name $v: records"
	done
done
eq "$(wc -l <"$tmp/reasonlite-json.rec")" 7 "reasonlite: 7 records"
# a null image_path: the row is named and skipped, the rest written
expect 0 "$sh_" -j 2 -o "$tmp/pro" "$d/reasonpro-v2-zstd.parquet"
has "$tmp/err" "reasonpro-v2-zstd.parquet:8: image_path is null, expected a string" "null path"
has "$tmp/err" "8 records read, 7 written, 1 skipped" "null path: counted"

# ---- ReasonLite 3 x 3: record 0 has 2 tb (the first repeated), record 0
# has 4 trl (the first 3 kept); CC12M-Refined keeps its 3 tb, no trl
r0=$(sed -n 1p "$tmp/reasonlite-json.rec")
eq "$(echo "$r0" | grep -o '"role":"tb"' | wc -l)" 3 "tb made 3"
eq "$(echo "$r0" | grep -o '"role":"trl"' | wc -l)" 3 "trl made 3"
has "$tmp/reasonlite-json.rec" '"role":"tb","group":0,"text":"a red object number 0 seen from view 0".*"role":"tb","group":0,"text":"a red object number 0 seen from view 0"' "tb padded with the first"
if grep -q '"role":"trl"' "$tmp/cc12m-json.rec"; then fail "cc12m: trl"; else ok; fi
eq "$(sed -n 1p "$tmp/cc12m-json.rec" | grep -o '"role":"tb"' | wc -l)" 3 "cc12m: 3 tb"

# ---- RCLIP-Bench: embedded images give the records of the image files
expect 0 "$sh_" -q -j 2 -o "$tmp/rclip-json" "$d/rclip.jsonl"
records "$tmp/rclip-json.list" "$tmp/rclip-json.rec"
for v in v1-snappy v2-zstd v1-gzip-plain v2-none-plain; do
	expect 0 "$sh_" -q -j 2 -o "$tmp/rclip-$v" "$d/rclip-$v.parquet"
	records "$tmp/rclip-$v.list" "$tmp/rclip-$v.rec"
	same "$tmp/rclip-$v.rec" "$tmp/rclip-json.rec" "rclip $v: records"
done
has "$tmp/rclip-json.rec" '"key":"r000"' "rclip: keys are ids"
# several inputs form one stream; --format parquet reads a pipe
expect 0 "$sh_" -q -j 2 -o "$tmp/two" "$d/rclip-v1-snappy.parquet" "$d/rclip-v2-zstd.parquet"
records "$tmp/two.list" "$tmp/two.rec"
eq "$(wc -l <"$tmp/two.rec")" 14 "two inputs: 14 records"
expect 0 sh -c "'$sh_' -q -j 2 --format parquet -o '$tmp/pipe' - <'$d/rclip-v2-zstd.parquet'"
records "$tmp/pipe.list" "$tmp/pipe.rec"
same "$tmp/pipe.rec" "$tmp/rclip-json.rec" "parquet from a pipe"

# ---- rclip-eval sets: the Parquet counts what the JSONL counts
m="$top_srcdir/tests/fixtures/eval/model"
expect 0 "$ev" sets -m "$m" -j 2 --json "$d/rclip.jsonl"
sed -n '/"images"/,/"timing"/p' "$tmp/out" >"$tmp/ev-json"
has "$tmp/ev-json" '"total": 13' "eval: 13 sets"
for v in v1-snappy v2-none-plain; do
	expect 0 "$ev" sets -m "$m" -j 2 --json "$d/rclip-$v.parquet"
	sed -n '/"images"/,/"timing"/p' "$tmp/out" >"$tmp/ev-$v"
	same "$tmp/ev-$v" "$tmp/ev-json" "eval sets $v: the JSONL's counts"
done

# ---- what is not text is refused: one line, exit 1, nothing written
cp "$d/rclip-v1-snappy.parquet" "$tmp/bench.jsonl"
expect 1 "$sh_" -j 2 -o "$tmp/no1" "$tmp/bench.jsonl"
has "$tmp/err" "^rclip-shard: .*bench.jsonl: not a text manifest: a parquet file$" "parquet as jsonl"
absent "$tmp/no1.list" "parquet as jsonl: list"
absent "$tmp/no1-000000.rcs" "parquet as jsonl: shard"
expect 1 "$sh_" -j 2 --format tsv -o "$tmp/no2" "$d/rclip-v1-snappy.parquet"
has "$tmp/err" "not a text manifest: a parquet file" "parquet as --format tsv"
absent "$tmp/no2.list" "parquet as tsv: list"
expect 1 sh -c "'$sh_' -j 2 -o '$tmp/no3' - <'$d/reasonpro-v1-snappy.parquet'"
has "$tmp/err" "(stdin)\|-: not a text manifest" "parquet on stdin"
absent "$tmp/no3.list" "parquet on stdin: list"
printf 'PK\003\004\024\000\000\000\010\000' >"$tmp/z.tsv"
head -c 300 "$d/img/00.png" >>"$tmp/z.tsv"
expect 1 "$sh_" -j 2 -o "$tmp/no4" "$tmp/z.tsv"
has "$tmp/err" "z.tsv: not a text manifest: a zip archive" "zip as tsv"
absent "$tmp/no4.list" "zip: list"
head -c 3000 /dev/urandom | tr -d '\000' >"$tmp/noise.jsonl"
expect 1 "$sh_" -j 2 -o "$tmp/no5" "$tmp/noise.jsonl"
has "$tmp/err" "noise.jsonl: not a text manifest: binary data" "random bytes"
absent "$tmp/no5.list" "random bytes: list"
expect 1 "$ev" sets -m "$m" "$tmp/bench.jsonl"
has "$tmp/err" "bench.jsonl: not a text manifest: a parquet file" "eval: parquet as jsonl"

# ---- a damaged Parquet: named, exit 1
head -c 3000 "$d/rclip-v1-snappy.parquet" >"$tmp/cut.parquet"
expect 1 "$sh_" -j 2 -o "$tmp/no6" "$tmp/cut.parquet"
has "$tmp/err" "cut.parquet: truncated parquet file" "cut parquet"
absent "$tmp/no6.list" "cut parquet: list"

echo "parquet-cli: $passes passed, $fails failed"
[ "$fails" -eq 0 ]

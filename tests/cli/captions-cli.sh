#!/bin/sh
# captions-cli.sh - rclip-shard --captions: webdataset tars of images only
# (built here with tar from tests/fixtures/parquet/img) joined by sample
# key with captions kept apart, in Parquet (wds-lite.parquet, __key__)
# and in JSONL (image_name, key, id); the shards hold the records the
# equivalent manifest gives (keys aside: the tar's sample keys); samples
# with no record are counted and named in one warning, records no sample
# asked for too; a sample's own .txt loses to the table, counted; bad
# caption lines are named; usage errors exit 2, a bad caption file 1 with
# nothing written.
set -u
: "${top_builddir:=.}" "${top_srcdir:=.}"
sh_="$top_builddir/tools/rclip-shard"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0 passes=0
. "$top_srcdir/tests/cli/testlib.sh"
command -v tar >/dev/null 2>&1 || { echo "captions-cli: no tar"; exit 77; }
d="$tmp/pq"
cp -r "$top_srcdir/tests/fixtures/parquet" "$d"

# The records of a shard list without shard names and keys, for comparing.
records() {
	for s in $(sed -n 's/^\([^#].*\.rcs\).*/\1/p' "$1"); do
		"$sh_" --inspect --records "$(dirname "$1")/$s"
	done | sed 's/"shard":"[^"]*",//; s/"index":[0-9]*,//; s/"key":"[^"]*",//' >"$2"
}
keys() {
	for s in $(sed -n 's/^\([^#].*\.rcs\).*/\1/p' "$1"); do
		"$sh_" --inspect --records "$(dirname "$1")/$s"
	done | sed 's/.*"key":"\([^"]*\)".*/\1/' | tr '\n' ' '
}

# Two tars of images only, members img/NN.png (sample keys img/NN): the
# first with a sample 99 that no caption names and a sample 02 that has
# its own caption, the second compressed.
w="$tmp/w"
mkdir -p "$w/img"
cp "$d"/img/*.png "$w/img/"
cp "$d/img/00.png" "$w/img/99.png"
printf 'its own caption\n' >"$w/img/02.txt"
(cd "$w" && tar --format=pax -cf "$tmp/data-000000.tar" img/00.png img/01.png img/02.png \
	img/02.txt img/99.png img/03.png) || fail "tar"
(cd "$w" && tar --format=pax -czf "$tmp/data-000001.tar.gz" img/04.png img/05.png img/06.png) ||
	fail "tar -z"
tars="$tmp/data-000000.tar $tmp/data-000001.tar.gz"

# ---- ReasonLite from Parquet (__key__ "00".."07"): the records of the
# manifest reasonlite.jsonl, 3 x 3 made the same way
expect 0 "$sh_" -q -j 2 -o "$tmp/lite-json" "$d/reasonlite.jsonl"
records "$tmp/lite-json.list" "$tmp/lite-json.rec"
expect 0 "$sh_" -j 2 --records-per-shard 4 -o "$tmp/lite" --captions "$d/wds-lite.parquet" $tars
records "$tmp/lite.list" "$tmp/lite.rec"
same "$tmp/lite.rec" "$tmp/lite-json.rec" "parquet captions: the manifest's records"
eq "$(wc -l <"$tmp/lite.rec" | tr -d ' ')" 7 "parquet captions: 7 records"
eq "$(keys "$tmp/lite.list")" "img/00 img/01 img/02 img/03 img/04 img/05 img/06 " "sample keys"
has "$tmp/err" "^rclip-shard: warning: 1 sample had no record in .*wds-lite.parquet, skipped: img/99$" \
	"unmatched sample named"
has "$tmp/err" "^rclip-shard: warning: 1 record of .*wds-lite.parquet matched no sample: 07$" \
	"never matched record named"
has "$tmp/err" "data-000000.tar:3: img/02: its own text member is ignored" "own text: warned"
has "$tmp/err" "8 records read, 7 written, 1 skipped (.*no caption 1)" "summary: unmatched counted"
has "$tmp/err" "keyed by __key__, never matched 1, own text ignored 1" "summary: the table"
if grep -q "its own caption" "$tmp/lite.rec"; then fail "own text used"; else ok; fi
expect 0 "$sh_" -j 2 --json -o "$tmp/lite2" --captions "$d/wds-lite.parquet" $tars
has "$tmp/out" '"no_caption": 1' "json: no_caption"
has "$tmp/out" '"key_field": "__key__", "schema": "reasonlite", "records": 8, "bad": 0, "never_matched": 1, "own_text_ignored": 1' "json: captions"

# ---- ReasonPro from JSONL keyed by image_name (extension dropped: 00 for
# img/00), one record with no image and one bad line
sed 's/"image_path": "img\/\([0-9]*\.png\)"/"image_name": "\1"/' "$d/reasonpro.jsonl" >"$tmp/pro.jsonl"
printf '{"image_name": "zz.png", "trp": "nothing", "trp_cls": "S", "trp_cls_ls": ["S", "A", "H"]}\n' >>"$tmp/pro.jsonl"
printf '{"image_name": "yy.png", "trp": "bad", "trp_cls": "Q", "trp_cls_ls": ["S", "A", "H"]}\n' >>"$tmp/pro.jsonl"
expect 0 "$sh_" -q -j 2 -o "$tmp/pro-json" "$d/reasonpro.jsonl"
records "$tmp/pro-json.list" "$tmp/pro-json.rec"
expect 0 "$sh_" -j 2 -o "$tmp/pro" --captions "$tmp/pro.jsonl" $tars
records "$tmp/pro.list" "$tmp/pro.rec"
same "$tmp/pro.rec" "$tmp/pro-json.rec" "jsonl captions: the manifest's records"
has "$tmp/err" "pro.jsonl:9: unknown category code 'Q' in trp_cls" "bad caption line named"
has "$tmp/err" "matched no sample: zz$" "image_name: extension dropped"
has "$tmp/err" "keyed by image_name" "image_name used"

# ---- choice sets: RCLIP-Bench's Parquet is keyed by id (r000...) by
# default, so nothing matches and every sample is counted; by image_name
# it gives the records of rclip.jsonl
expect 0 "$sh_" -j 2 -o "$tmp/set0" --captions "$d/rclip-v1-snappy.parquet" $tars
has "$tmp/err" "8 samples had no record in .*rclip-v1-snappy.parquet, skipped: img/00, img/01, img/02, img/99, img/03, \.\.\.$" \
	"all unmatched: the first five named"
has "$tmp/err" "7 records of .*matched no sample: r000, r001, r002, r003, r004, \.\.\.$" "ids never matched"
has "$tmp/err" "0 written, 8 skipped" "nothing written"
expect 0 "$sh_" -q -j 2 -o "$tmp/set-json" "$d/rclip.jsonl"
records "$tmp/set-json.list" "$tmp/set-json.rec"
expect 0 "$sh_" -q -j 2 -o "$tmp/set" --captions "$d/rclip-v2-zstd.parquet" --captions-key image_name $tars
records "$tmp/set.list" "$tmp/set.rec"
same "$tmp/set.rec" "$tmp/set-json.rec" "sets by image_name: the manifest's records"

# ---- descriptive, keyed by an integer "key" (as img2dataset's key)
printf '{"key": 0, "caption": "zero"}\n{"key": 1, "caption": "one"}\n{"key": 1, "caption": "again"}\n' >"$tmp/desc.jsonl"
mkdir -p "$tmp/n"
cp "$d/img/00.png" "$tmp/n/0.png"; cp "$d/img/01.png" "$tmp/n/1.png"
(cd "$tmp/n" && tar -cf "$tmp/n.tar" 0.png 1.png)
expect 0 "$sh_" -j 2 -o "$tmp/desc" --captions "$tmp/desc.jsonl" "$tmp/n.tar"
has "$tmp/err" "desc.jsonl:3: key 1 again (first on line 2): the first kept" "duplicate key"
"$sh_" --inspect --records "$tmp/desc-000000.rcs" >"$tmp/desc.rec"
has "$tmp/desc.rec" '"key":"1","schema":"descriptive","texts":\[{"role":"caption","group":0,"text":"one"' "integer key"

# ---- --strict: the first unmatched sample stops the run, nothing listed
expect 1 "$sh_" -j 2 --strict -o "$tmp/st" --captions "$d/wds-lite.parquet" $tars
has "$tmp/err" "data-000000.tar:4: img/99: no record in" "strict: named"
absent "$tmp/st.list" "strict: list"

# ---- bad caption files: exit 1, one line naming the file, nothing written
printf '{"path": "a.png", "caption": "x"}\n' >"$tmp/nokey.jsonl"
expect 1 "$sh_" -j 2 -o "$tmp/e1" --captions "$tmp/nokey.jsonl" "$tmp/n.tar"
has "$tmp/err" "^rclip-shard: nokey.jsonl:1: no key field: expected __key__, key, id or image_name$\|nokey.jsonl:1: no key field" "no key field"
absent "$tmp/e1.list" "no key field: list"
expect 1 "$sh_" -j 2 -o "$tmp/e2" --captions "$tmp/missing.jsonl" "$tmp/n.tar"
has "$tmp/err" "missing.jsonl" "missing file named"
absent "$tmp/e2.list" "missing file: list"
cp "$d/img/00.png" "$tmp/img.jsonl"
expect 1 "$sh_" -j 2 -o "$tmp/e3" --captions "$tmp/img.jsonl" "$tmp/n.tar"
has "$tmp/err" "img.jsonl: not a caption file: a png image" "binary caption file"
absent "$tmp/e3.list" "binary caption file: list"

# ---- usage
expect 2 "$sh_" -o "$tmp/u" --captions "$tmp/desc.jsonl" "$d/reasonlite.jsonl"
has "$tmp/err" "joins webdataset tars" "a manifest with --captions"
expect 2 "$sh_" -o "$tmp/u" --captions-key id "$tmp/n.tar"
expect 0 "$sh_" --help
has "$tmp/out" "--captions=FILE" "--help"

echo "captions-cli: $passes passed, $fails failed"
[ "$fails" -eq 0 ]

#!/bin/sh
# shard-cli.sh - rclip-shard as a user runs it: usage errors, the four
# schemas and TSV into shards that verify, --inspect (--records, --pixels),
# bad records skipped with file:line and counted, --strict, --part, resume
# after a kill, --dedup, webdataset tars, corruption caught, -j giving the
# same records. Images are the committed fixtures (tests/fixtures/images).
set -u
: "${top_builddir:=.}" "${top_srcdir:=.}"
sh_="$top_builddir/tools/rclip-shard"
fx="$top_srcdir/tests/fixtures/images"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0 passes=0
. "$top_srcdir/tests/cli/testlib.sh"
count() { grep -c -e "$2" "$1"; }

# ---- a small dataset
d="$tmp/data"
mkdir -p "$d/img"
cp "$fx/jpeg-rgb-q90-420-500x375.jpg" "$d/img/a.jpg"
cp "$fx/png-rgba-400x300.png" "$d/img/b.png"
cp "$fx/webp-lossy-500x375.webp" "$d/img/c.webp"
cp "$fx/jpeg-gray-375x500.jpg" "$d/img/d.jpg"
cp "$fx/png-p-trns-300x200.png" "$d/img/e.png"
head -c 2000 "$d/img/a.jpg" >"$d/img/truncated.jpg"
echo "not an image" >"$d/img/text.jpg"
cat >"$d/desc.jsonl" <<'EOF'
{"image_path": "img/a.jpg", "caption": "a red car"}
{"image_path": "img/b.png", "captions": ["a cat", "a small cat", "a cat on a mat"]}

{"image_path": "img/c.webp", "caption": "a dog"}
{"image_path": "img/d.jpg", "caption": "a gray photo"}
{"image_path": "img/e.png", "caption": "a palette image"}
EOF
cat >"$d/lite.jsonl" <<'EOF'
{"image_path": "img/a.jpg", "tb": ["a car", "a red car", "a parked car"], "trl": ["the car is parked so nobody drives it", "it is daytime since the street is lit", "the car is new because it shines"]}
{"image_path": "img/b.png", "tb": ["a cat", "a cat sitting", "a small cat"], "trl": ["r1", "r2", "r3"]}
EOF
cat >"$d/pro.jsonl" <<'EOF'
{"image_path": "img/c.webp", "trp": "the dog will jump because it crouches", "trp_cls": "T", "trp_cls_ls": ["T", "P", "H"]}
{"image_path": "img/d.jpg", "trp": "the cup is left of the plate", "trp_cls": "S", "trp_cls_ls": ["S", "A", "S"]}
EOF
cat >"$d/sets.jsonl" <<'EOF'
{"id": "q1", "image_path": "img/a.jpg", "sets": [{"tag": "v1", "gt": "a red car", "neg": ["a blue car", "a red bus", "a green car", "a red bike"]}, {"tag": "v3", "gt": "it is parked", "neg": ["it races", "it flies", "it sinks", "it burns"]}]}
EOF
printf 'img/a.jpg\ta red car\nimg/e.png\ta palette image\n' >"$d/pairs.tsv"

# ---- help, usage errors
expect 0 "$sh_" --help
for opt in --out --schema --format --image-root --image-size --store --quality \
	--records-per-shard --part --dedup --strict --max-pixels --threads --json \
	--inspect --records --pixels --quiet --verbose --help --version; do
	has "$tmp/out" -- "$opt" "--help lists $opt"
done
expect 0 "$sh_" --version
expect 2 "$sh_" "$d/desc.jsonl"
has "$tmp/err" "no output" "no -o"
expect 2 "$sh_" -o "$tmp/x" --part 2/2 "$d/desc.jsonl"
expect 2 "$sh_" -o "$tmp/x" --store png "$d/desc.jsonl"
expect 2 "$sh_" -o "$tmp/x" --schema nope "$d/desc.jsonl"
expect 2 "$sh_" -o "$tmp/x"
expect 2 "$sh_" --records "$d/desc.jsonl"

# ---- every schema round-trips and verifies
for s in desc lite pro sets; do
	expect 0 "$sh_" -q -o "$tmp/$s" "$d/$s.jsonl"
	expect 0 "$sh_" --inspect "$tmp/$s-000000.rcs"
	has "$tmp/out" "rclip shard v1" "inspect $s"
	expect 0 "$sh_" --inspect --records "$tmp/$s-000000.rcs"
	cp "$tmp/out" "$tmp/$s.records"
done
eq "$(wc -l <"$tmp/desc.records" | tr -d ' ')" 5 "descriptive records"
eq "$(count "$tmp/desc.records" '"key":"img/b.png"')" 1 "keys are image paths"
eq "$(grep -o '"role":"caption"' "$tmp/desc.records" | wc -l | tr -d ' ')" 7 "descriptive captions"
eq "$(grep -o '"role":"tb"' "$tmp/lite.records" | wc -l | tr -d ' ')" 6 "ReasonLite tb"
eq "$(grep -o '"role":"trl"' "$tmp/lite.records" | wc -l | tr -d ' ')" 6 "ReasonLite trl"
has "$tmp/pro.records" '"labels":\[3,3,4,2\]' "ReasonPro labels T|T,P,H"
eq "$(grep -o '"role":"neg"' "$tmp/sets.records" | wc -l | tr -d ' ')" 8 "choice-set negatives"
has "$tmp/sets.records" '"key":"q1"' "choice-set key is the id"
has "$tmp/desc.records" '"text":"a red car","tokens":\[49406,320,736,1615,49407\]' "captions tokenized as open_clip"
expect 0 "$sh_" -q -o "$tmp/tsv" "$d/pairs.tsv"
expect 0 "$sh_" --inspect --records "$tmp/tsv-000000.rcs"
eq "$(wc -l <"$tmp/out" | tr -d ' ')" 2 "TSV records"
has "$tmp/tsv.list" "tsv-000000.rcs	2	" "the shard list"

# ---- a manifest on standard input, images found through --image-root
sed 's|"img/|"|' "$d/desc.jsonl" | expect 0 "$sh_" --json --image-root "$d/img" -o "$tmp/stdin" -
has "$tmp/out" '"records_written": 5' "a manifest from stdin with --image-root"
cat "$d/pairs.tsv" | expect 0 "$sh_" --json --format tsv --image-root "$d" -o "$tmp/stdin-tsv" -
has "$tmp/out" '"records_written": 2' "a TSV manifest from stdin"

# ---- raw storage and --pixels
mkdir "$tmp/px"
expect 0 "$sh_" -q --store raw -s 64 -o "$tmp/raw" "$d/desc.jsonl"
expect 0 "$sh_" --inspect --pixels "$tmp/px" "$tmp/raw-000000.rcs"
eq "$(ls "$tmp/px" | wc -l | tr -d ' ')" 5 "one PPM per record"
eq "$(head -c 13 "$tmp/px/img_a.jpg.ppm" | tr '\n' ' ')" "P6 64 64 255 " "PPM header"
eq "$(wc -c <"$tmp/px/img_a.jpg.ppm" | tr -d ' ')" $((13 + 64 * 64 * 3)) "PPM size"

# ---- bad records: skipped, named, counted; --strict stops
cat >"$d/bad.jsonl" <<'EOF'
{"image_path": "img/a.jpg", "caption": "fine"}
{"image_path": "img/missing.jpg", "caption": "no file"}
{"image_path": "img/truncated.jpg", "caption": "cut short"}
{"image_path": "img/text.jpg", "caption": "not an image"}
{"image_path": "img/b.png", "caption": "
{"image_path": "img/b.png", "caption": "   "}
{"image_path": "img/b.png", "tb": ["a", "b", "c"], "trl": ["x", "y", "z"]}
{"image_path": "img/c.webp", "caption": "fine too"}
EOF
expect 0 "$sh_" --json -o "$tmp/bad" "$d/bad.jsonl"
has "$tmp/err" "bad.jsonl:2: cannot read image .*missing.jpg" "missing image named with its line"
has "$tmp/err" "bad.jsonl:3: " "truncated image named"
has "$tmp/err" "bad.jsonl:4: " "not an image named"
has "$tmp/err" "bad.jsonl:5: " "malformed JSON named"
has "$tmp/err" "bad.jsonl:6: " "empty caption named"
has "$tmp/err" "bad.jsonl:7: " "another schema named"
has "$tmp/out" '"records_written": 2' "two good records written"
has "$tmp/out" '"missing_image": 1' "missing counted"
has "$tmp/out" '"unreadable_image": 2' "unreadable counted"
has "$tmp/out" '"bad_line": 3' "bad lines counted"
expect 1 "$sh_" -q --strict -o "$tmp/strict" "$d/bad.jsonl"
[ -z "$(ls "$tmp" | grep '^strict')" ] && ok || fail "--strict left $(ls "$tmp" | grep strict)"
expect 0 "$sh_" -q --max-pixels 1000 --json -o "$tmp/big" "$d/desc.jsonl"
has "$tmp/out" '"image_size": 5' "--max-pixels refuses every image here"

# ---- --part: disjoint shards whose union is the whole run
for i in $(seq 1 10); do cat "$d/desc.jsonl"; done | grep . | sed 's|"img/|"'"$d"'/img/|' >"$d/many.jsonl"
expect 0 "$sh_" --json --records-per-shard 7 -o "$tmp/all" "$d/many.jsonl"
expect 0 "$sh_" -q --records-per-shard 7 --part 0/2 -o "$tmp/part" "$d/many.jsonl"
expect 0 "$sh_" -q --records-per-shard 7 --part 1/2 -o "$tmp/part" "$d/many.jsonl"
eq "$(cut -f1,2 "$tmp/part.part-0-of-2.list" "$tmp/part.part-1-of-2.list" | grep -v '^#' | sed 's/^part/x/' | sort)" \
   "$(cut -f1,2 "$tmp/all.list" | grep -v '^#' | sed 's/^all/x/' | sort)" "parts cover the run"
eq "$(grep -c rcs "$tmp/part.part-0-of-2.list")" 4 "part 0 has shards 0 2 4 6"

# ---- resume: a removed shard is written again, the others kept, same list
cp "$tmp/all.list" "$tmp/all.list.before"
rm "$tmp/all-000003.rcs"
expect 0 "$sh_" --json --records-per-shard 7 -o "$tmp/all" "$d/many.jsonl"
has "$tmp/out" '"shards_written": 1' "one shard written again"
has "$tmp/out" '"shards_kept": 7' "seven kept"
cmp -s "$tmp/all.list" "$tmp/all.list.before" && ok || fail "the rerun changed the list"

# ---- killed with SIGKILL: no shard under its final name is incomplete
mkfifo "$tmp/fifo"
( "$sh_" -q --records-per-shard 7 -o "$tmp/kill" "$tmp/fifo" >/dev/null 2>&1 & echo $! >"$tmp/pid"; wait ) &
exec 3>"$tmp/fifo"
head -n 12 "$d/many.jsonl" >&3
sleep 1
kill -9 "$(cat "$tmp/pid")"
exec 3>&-
wait
for f in "$tmp"/kill-*.rcs; do
	[ -e "$f" ] || continue
	"$sh_" --inspect -q "$f" >/dev/null 2>&1 && ok || fail "$f fails verification after kill -9"
done
[ ! -e "$tmp/kill-000001.rcs" ] && ok || fail "the shard being written appeared under its name"
expect 0 "$sh_" -q --records-per-shard 7 -o "$tmp/kill" "$d/many.jsonl"
eq "$(cut -f2 "$tmp/kill.list" | grep -v '^#' | tr '\n' ' ')" "7 7 7 7 7 7 7 1 " "rerun after kill -9 completes"

# ---- --dedup
printf '{"image_path": "img/a.jpg", "caption": "one"}\n{"image_path": "img/a.jpg", "caption": "again"}\n{"image_path": "img/b.png", "caption": "other"}\n' >"$d/dup.jsonl"
expect 0 "$sh_" --json --dedup -o "$tmp/dup" "$d/dup.jsonl"
has "$tmp/out" '"duplicate": 1' "one duplicate dropped"
has "$tmp/out" '"records_written": 2' "two unique records"

# ---- webdataset
w="$tmp/wds"
mkdir -p "$w"
cp "$d/img/a.jpg" "$w/000001.jpg"; printf 'a red car\n' >"$w/000001.txt"
cp "$d/img/b.png" "$w/000002.png"; printf 'a cat\n' >"$w/000002.txt"; printf '7' >"$w/000002.cls"
cp "$d/img/c.webp" "$w/000003.webp"
cp "$d/img/d.jpg" "$w/000004.jpg"; printf 'gray\n' >"$w/000004.txt"
(cd "$w" && tar --format=pax -cf "$tmp/data.tar" 000001.jpg 000001.txt 000002.png 000002.txt 000002.cls 000003.webp 000004.jpg 000004.txt)
expect 0 "$sh_" --json -o "$tmp/w" "$tmp/data.tar"
has "$tmp/out" '"records_written": 3' "three samples from the tar"
has "$tmp/err" "000003" "the sample without text named"
expect 0 "$sh_" --inspect --records "$tmp/w-000000.rcs"
has "$tmp/out" '"key":"000002"' "tar keys"
size=$(wc -c <"$tmp/data.tar" | tr -d ' ')
head -c $((size / 2)) "$tmp/data.tar" >"$tmp/cut.tar"
expect 0 "$sh_" --json -o "$tmp/cut" "$tmp/cut.tar"
has "$tmp/err" "cut.tar" "a truncated tar is reported"

# ---- corruption is caught, naming shard and record
cp "$tmp/desc-000000.rcs" "$tmp/flip.rcs"
size=$(wc -c <"$tmp/flip.rcs" | tr -d ' ')
printf 'X' | dd of="$tmp/flip.rcs" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
expect 1 "$sh_" --inspect "$tmp/flip.rcs"
has "$tmp/err" "flip.rcs" "corruption names the shard"
expect 1 "$sh_" --inspect "$tmp/nonexistent.rcs"

# ---- what a rerun keeps, and what it writes again
expect 0 "$sh_" -q --records-per-shard 7 -o "$tmp/opt" "$d/many.jsonl"
expect 0 "$sh_" --json --quality 80 --records-per-shard 7 -o "$tmp/opt" "$d/many.jsonl"
has "$tmp/err" "other options: writing it again" "other options: shards rewritten"
has "$tmp/out" '"shards_kept": 0' "nothing kept with other options"
size=$(wc -c <"$tmp/opt-000002.rcs" | tr -d ' ')
printf 'X' | dd of="$tmp/opt-000002.rcs" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
expect 0 "$sh_" --json --quality 80 --records-per-shard 7 -o "$tmp/opt" "$d/many.jsonl"
has "$tmp/out" '"shards_written": 1' "a damaged shard is written again"

# ---- one schema per shard; the output directory must exist
expect 1 "$sh_" -q -o "$tmp/mix" "$d/desc.jsonl" "$d/lite.jsonl"
has "$tmp/err" "lite.jsonl:1: a reasonlite record among descriptive records" "mixed schemas named"
expect 1 "$sh_" -q -o "$tmp/no/such/dir/s" "$d/desc.jsonl"
has "$tmp/err" "hint: create it first" "a missing output directory"
expect 0 "$sh_" --json -o "$tmp/q\"uote" "$d/pairs.tsv"
has "$tmp/out" 'q\\\"uote.list' "the JSON report escapes the list name"

# ---- --inspect from a pipe; a bad record does not hide the good ones
"$sh_" --inspect --records - <"$tmp/desc-000000.rcs" >"$tmp/out" 2>"$tmp/err" && ok || fail "--inspect - failed"
eq "$(wc -l <"$tmp/out" | tr -d ' ')" 5 "records from a pipe"
cp "$tmp/desc-000000.rcs" "$tmp/onebad.rcs"
off=$(od -An -tu8 -j 64 -N 8 "$tmp/onebad.rcs" | tr -d ' ') # the records' offset
printf 'X' | dd of="$tmp/onebad.rcs" bs=1 seek=$((off + 40)) conv=notrunc 2>/dev/null
expect 1 "$sh_" --inspect --records "$tmp/onebad.rcs"
eq "$(wc -l <"$tmp/out" | tr -d ' ')" 4 "the four good records are shown"
has "$tmp/err" "onebad.rcs: record 0" "the bad record is named"

# ---- threads do not change the records
expect 0 "$sh_" -q -j 1 -o "$tmp/j1" "$d/many.jsonl"
expect 0 "$sh_" -q -j 2 -o "$tmp/j2" "$d/many.jsonl"
"$sh_" --inspect --records "$tmp/j1-000000.rcs" | sed 's/j1-/X-/' >"$tmp/j1.rec"
"$sh_" --inspect --records "$tmp/j2-000000.rcs" | sed 's/j2-/X-/' >"$tmp/j2.rec"
cmp -s "$tmp/j1.rec" "$tmp/j2.rec" && ok || fail "-j 1 and -j 2 records differ"

# ---- --tokenizer: the ids stored, and the choice in the metadata
printf '{"image_path": "img/b.png", "caption": "it\342\200\231s a cat"}\n' >"$d/curly.jsonl"
expect 0 "$sh_" -q -o "$tmp/toc" "$d/curly.jsonl"
"$sh_" --inspect --records "$tmp/toc-000000.rcs" >"$tmp/toc.txt"
has "$tmp/toc.txt" '"tokens":\[49406,585,568,320,2368,49407\]' "open_clip's ids by default"
expect 0 "$sh_" -q --tokenizer hf -o "$tmp/thf" "$d/curly.jsonl"
"$sh_" --inspect --records "$tmp/thf-000000.rcs" >"$tmp/thf.txt"
has "$tmp/thf.txt" '"tokens":\[49406,585,728,503,338,320,2368,49407\]' "--tokenizer hf: its ids"
"$sh_" --inspect "$tmp/thf-000000.rcs" >"$tmp/thf.txt"
has "$tmp/thf.txt" 'options: .*tokenizer=hf' "--tokenizer hf in the metadata"
expect 2 "$sh_" -q --tokenizer bert -o "$tmp/tx" "$d/curly.jsonl"

echo "shard-cli: $passes passed, $fails failed"
[ "$fails" -eq 0 ]

#!/bin/sh
# retrieve-cli.sh - rclip-retrieve as a user runs it: commands and usage
# errors; image embeddings from a manifest, from raw shards (the same bytes)
# and from JPEG shards; text embeddings (refused by a model whose vocabulary
# does not fit the tokenizer, equal to the library's one line at a time with
# one that does); the same rows from an open_clip export and from an
# rclip-train checkpoint as from the HF directory of the same weights; bad
# inputs failing the run or giving NaN rows with --skip-bad; --ids and
# --report; -j and pipes giving the same bytes.
# Models are the fixtures of tests/fixtures/clip and tests/fixtures/train;
# retrieve-helper (built beside this script) makes a model with CLIP's
# vocabulary and checks rows.
set -u
: "${top_builddir:=.}" "${top_srcdir:=.}"
rr="$top_builddir/tools/rclip-retrieve"
sh_="$top_builddir/tools/rclip-shard"
ex="$top_builddir/tools/rclip-export"
train="$top_builddir/tools/rclip-train"
helper="$top_builddir/tests/cli/retrieve-helper"
fx="$top_srcdir/tests/fixtures"
model="$fx/clip/tiny-img64" # image 64, projection 16, text vocabulary 256
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0 passes=0
. "$top_srcdir/tests/cli/testlib.sh"
# norms FILE ROWS NANROWS WHAT: shape (ROWS, 16), the other rows of norm 1
norms() {
	set -- "$1" "$2" "$3" "$4" "$("$helper" norms "$1")"
	eq "$(echo "$5" | cut -d' ' -f1,2,4)" "$2 16 $3" "$4: rows, width, NaN rows"
	if echo "$5" | awk '{exit !($3 < 1e-5)}'; then ok; else fail "$4: a norm is off by $(echo "$5" | cut -d' ' -f3)"; fi
}

# ---- data: five fixture images in a manifest
d="$tmp/data"
mkdir -p "$d/img"
cp "$fx/images/jpeg-rgb-q90-420-500x375.jpg" "$d/img/a.jpg"
cp "$fx/images/png-rgba-400x300.png" "$d/img/b.png"
cp "$fx/images/webp-lossy-500x375.webp" "$d/img/c.webp"
cp "$fx/images/jpeg-gray-375x500.jpg" "$d/img/d.jpg"
cp "$fx/images/png-p-trns-300x200.png" "$d/img/e.png"
head -c 2000 "$d/img/a.jpg" >"$d/img/truncated.jpg"
cat >"$d/m.jsonl" <<'EOF'
{"image_path": "img/a.jpg", "caption": "a red car"}
{"image_path": "img/b.png", "captions": ["a cat", "a small cat"]}

{"image_path": "img/c.webp", "caption": "a dog"}
{"image_path": "img/d.jpg", "caption": "a gray photo"}
{"image_path": "img/e.png", "caption": "a palette image"}
EOF
printf 'img/a.jpg\timg/b.png\timg/c.webp\timg/d.jpg\timg/e.png\n' | tr '\t' '\n' >"$d/keys"

# ---- commands, help, usage errors
expect 0 "$rr" --help
has "$tmp/out" "embed" "--help lists embed"
has "$tmp/out" "^  search " "--help lists search"
expect 0 "$rr" --version
has "$tmp/out" "rclip-retrieve (rclip)" "--version"
expect 0 "$rr" embed --version
has "$tmp/out" "^rclip-retrieve (rclip)" "embed --version"
expect 2 "$rr"
has "$tmp/err" "no command" "no command"
expect 2 "$rr" frobnicate
has "$tmp/err" "unknown command 'frobnicate'" "an unknown command"
expect 2 "$rr" search
has "$tmp/err" "no gallery" "search without a gallery (tests/cli/search-cli.sh has the rest)"
expect 2 "$rr" --model "$model" embed
expect 0 "$rr" embed --help
for opt in --model --images --text --output --ids --image-root --batch --skip-bad \
	--threads --device --report --json --quiet --verbose --help --version --tokenizer; do
	has "$tmp/out" -- "$opt" "embed --help lists $opt"
done
expect 2 "$rr" embed --images "$d/m.jsonl" -o "$tmp/x.npy"
has "$tmp/err" "no model" "no --model"
expect 2 "$rr" embed --model "$model" -o "$tmp/x.npy"
has "$tmp/err" "no input" "no input"
expect 2 "$rr" embed --model "$model" --images "$d/m.jsonl" --text - -o "$tmp/x.npy"
expect 2 "$rr" embed --model "$model" --images "$d/m.jsonl"
has "$tmp/err" "no output" "no -o"
expect 2 "$rr" embed --model "$model" --images "$d/m.jsonl" -o - --json
expect 2 "$rr" embed --model "$model" --images "$d/m.jsonl" -o "$tmp/x.npy" --batch 0
expect 2 "$rr" embed --model "$model" --text - --image-root "$d" -o "$tmp/x.npy"
expect 2 "$rr" embed --model "$model" -o "$tmp/x.npy" "$d/m.jsonl"
has "$tmp/err" "unexpected argument" "a stray argument"
expect 2 "$rr" embed --model "$model" --images "$d/m.jsonl" -o "$tmp/x.npy" --device tpu
has "$tmp/err" "--device: 'tpu'" "--device tpu"
absent "$tmp/x.npy" "usage errors write nothing"
expect 1 "$rr" embed --model "$model" --images "$d/m.jsonl" -o "$tmp/x.npy" --device cuda:99
has "$tmp/err" "cuda:99: \(this rclip is built without the CUDA backend\|no such GPU\|no GPU (or no driver) on this machine\)$" "--device cuda:99"
absent "$tmp/x.npy" "a device it cannot use writes nothing"

# ---- images from a manifest: (5, 16) '<f4', normalised rows, keys
expect 0 "$rr" embed --model "$model" --images "$d/m.jsonl" -o "$tmp/m.npy" --ids "$tmp/m.ids" \
	--report "$tmp/m.json"
eq "$(head -c 6 "$tmp/m.npy" | od -An -c | tr -d ' ')" '223NUMPY' "the .npy magic"
has "$tmp/m.npy" "{'descr': '<f4', 'fortran_order': False, 'shape': (5, 16), }" "the .npy header"
eq "$(wc -c <"$tmp/m.npy" | tr -d ' ')" $((128 + 5 * 16 * 4)) "the .npy size"
norms "$tmp/m.npy" 5 0 "manifest"
same "$tmp/m.ids" "$d/keys" "--ids gives the image paths"
has "$tmp/m.json" '"rows": 5' "--report rows"
has "$tmp/m.json" '"dim": 16' "--report dim"
has "$tmp/m.json" '"bad": 0' "--report bad"
expect 0 "$rr" embed -q --model "$model" --images "$d/m.jsonl" -o "$tmp/json.npy" --json
has "$tmp/out" '"kind": "images"' "--json on stdout"
eq "$(cat "$tmp/err")" "" "-q: nothing on stderr"

# each row is its own image's: an image embedded alone matches its row
floats() { head -c $((128 + 64 * ($2 + 1))) "$1" | tail -c 64 | od -An -v -tf4 | tr -s ' ' '\n' | grep .; }
for i in 0 2 4; do
	sed -n "$((i + 1 + (i > 1)))p" "$d/m.jsonl" >"$d/one.jsonl"
	expect 0 "$rr" embed --model "$model" --images "$d/one.jsonl" -o "$tmp/one.npy"
	floats "$tmp/m.npy" "$i" >"$tmp/fa"
	floats "$tmp/one.npy" 0 >"$tmp/fb"
	if paste "$tmp/fa" "$tmp/fb" | awk '{d = $1 - $2; if (d < 0) d = -d; if (d > 1e-6) bad = 1}
		END {exit bad || NR != 16}'; then ok; else fail "row $i is not its image's"; fi
done

# ---- the same pixels through raw shards: the same bytes
expect 0 "$sh_" -q --store raw -s 64 -o "$tmp/raw" "$d/m.jsonl"
expect 0 "$rr" embed --model "$model" --images "$tmp/raw.list" -o "$tmp/raw.npy" --ids "$tmp/raw.ids"
same "$tmp/raw.npy" "$tmp/m.npy" "raw shard list and manifest"
same "$tmp/raw.ids" "$d/keys" "shard keys"
expect 0 "$rr" embed --model "$model" --images "$tmp/raw-000000.rcs" -o "$tmp/rcs.npy"
same "$tmp/rcs.npy" "$tmp/m.npy" "one .rcs and the manifest"
expect 0 "$sh_" -q --store raw -s 64 --records-per-shard 2 -o "$tmp/raw2" "$d/m.jsonl"
expect 0 "$rr" embed -b 3 --model "$model" --images "$tmp/raw2.list" -o "$tmp/raw2.npy"
expect 0 "$rr" embed -b 3 --model "$model" --images "$d/m.jsonl" -o "$tmp/b3.npy"
same "$tmp/raw2.npy" "$tmp/b3.npy" "batches across three shards and the manifest"
norms "$tmp/b3.npy" 5 0 "--batch 3"

# ---- JPEG shards: decoded, near the raw rows; a wrong size is refused
expect 0 "$sh_" -q -s 64 -o "$tmp/jpg" "$d/m.jsonl"
expect 0 "$rr" embed --model "$model" --images "$tmp/jpg.list" -o "$tmp/jpg.npy"
norms "$tmp/jpg.npy" 5 0 "JPEG shards"
expect 0 "$helper" close "$tmp/jpg.npy" "$tmp/m.npy" 0.5
expect 0 "$sh_" -q -s 32 -o "$tmp/s32" "$d/m.jsonl"
expect 1 "$rr" embed --model "$model" --images "$tmp/s32.list" -o "$tmp/s32.npy"
has "$tmp/err" "images are 32x32 CLIP crops, the model takes 64x64 CLIP crops" "a shard of another size"
has "$tmp/err" "hint: .*rclip-shard -s 64" "the hint to shard again"
absent "$tmp/s32.npy" "no output after an error"
sed 's/	5	/	4	/' "$tmp/raw.list" >"$tmp/count.list"
expect 1 "$rr" embed --model "$model" --images "$tmp/count.list" -o "$tmp/x.npy"
has "$tmp/err" "count.list:2: .*4 records in the list, 5 in the shard" "a list that miscounts"

# ---- text: a vocabulary of 256 cannot take CLIP's ids
printf 'a photo of a cat\na dog\n\nA Red Car.\n' >"$d/t.txt"
(for i in $(seq 1 90); do printf 'word%d ' "$i"; done; echo) >>"$d/t.txt"
expect 1 "$rr" embed --model "$model" --text "$d/t.txt" -o "$tmp/t.npy"
has "$tmp/err" "t.txt:1: token id 49406 .*vocabulary of 256 ids" "an id outside the vocabulary"
has "$tmp/err" "hint: the tokenizer has 49408 ids" "the tokenizer's size"
absent "$tmp/t.npy" "no output after the refusal"

# ---- text with CLIP's vocabulary: rows as the library gives them one by one
expect 0 "$helper" clip-vocab "$model" "$tmp/clip"
expect 0 "$rr" embed --model "$tmp/clip" --text "$d/t.txt" -o "$tmp/t.npy" --ids "$tmp/t.ids" \
	--report "$tmp/t.json"
norms "$tmp/t.npy" 5 0 "text"
eq "$(tr '\n' ' ' <"$tmp/t.ids")" "1 2 3 4 5 " "text keys are line numbers"
has "$tmp/t.json" '"truncated": 1' "the long line is truncated"
has "$tmp/t.json" '"context_length": 77' "the context"
has "$tmp/t.json" '"tokenizer": "hf"' "a Hugging Face directory: its tokenizer"
expect 0 "$rr" embed --model "$tmp/clip" --text "$d/t.txt" -o "$tmp/t3.npy" --tokenizer open_clip \
	--json
has "$tmp/out" '"tokenizer": "open_clip"' "--tokenizer open_clip"
expect 2 "$rr" embed --model "$tmp/clip" --text "$d/t.txt" -o "$tmp/t3.npy" --tokenizer x
expect 0 "$helper" ref-text "$tmp/clip" "$d/t.txt" "$tmp/ref.npy"
expect 0 "$helper" close "$tmp/t.npy" "$tmp/ref.npy" 1e-6
expect 0 "$rr" embed -b 2 --model "$tmp/clip" --text "$d/t.txt" -o "$tmp/t2.npy"
expect 0 "$helper" close "$tmp/t2.npy" "$tmp/ref.npy" 1e-6
mkdir "$tmp/clip-tok"
cp "$tmp/clip/config.json" "$tmp/clip/model.safetensors" "$tmp/clip-tok/"
gunzip -c "$fx/tokenizer/merges.txt.gz" >"$tmp/clip-tok/merges.txt"
gunzip -c "$fx/tokenizer/vocab.json.gz" >"$tmp/clip-tok/vocab.json"
expect 0 "$rr" embed -v --model "$tmp/clip-tok" --text "$d/t.txt" -o "$tmp/tok.npy"
has "$tmp/err" "tokenizer: .*merges.txt" "the model directory's tokenizer"
same "$tmp/tok.npy" "$tmp/t.npy" "the model's vocab.json and merges.txt, and the shipped merges"
: >"$d/empty.txt"
expect 0 "$rr" embed --model "$tmp/clip" --text "$d/empty.txt" -o "$tmp/e.npy"
has "$tmp/e.npy" "'shape': (0, 16)" "no lines, no rows"
printf 'caf\351\nok\n\377\n' >"$d/latin1.txt"
expect 0 "$rr" embed --model "$tmp/clip" --text - -o "$tmp/l1.npy" <"$d/latin1.txt"
has "$tmp/err" "(stdin):1: invalid UTF-8 replaced with U+FFFD" "invalid UTF-8 named"
has "$tmp/err" "(stdin):3: invalid UTF-8" "each line named"
eq "$(grep -c invalid "$tmp/err")" 2 "a valid line is not warned about"

# ---- any model rclip reads gives the rows of the HF directory of the same
# weights: an open_clip directory or file and a vision tower with its
# projection (rclip-export), an rclip-train checkpoint (one step from the
# training fixture's model)
expect 0 "$rr" embed --model "$tmp/clip" --images "$d/m.jsonl" -o "$tmp/hf.npy"
expect 0 "$ex" -q --from "$tmp/clip" --to open_clip -o "$tmp/clip.oc"
for oc in "$tmp/clip.oc" "$tmp/clip.oc/open_clip_model.safetensors"; do
	expect 0 "$rr" embed --model "$oc" --images "$d/m.jsonl" -o "$tmp/oc.npy"
	same "$tmp/oc.npy" "$tmp/hf.npy" "images, open_clip ${oc##*/}"
	expect 0 "$rr" embed --model "$oc" --text "$d/t.txt" -o "$tmp/oc.npy"
	same "$tmp/oc.npy" "$tmp/t.npy" "text, open_clip ${oc##*/}"
done
expect 0 "$ex" -q --from "$tmp/clip" --to hf-vision --with-projection -o "$tmp/vis"
expect 0 "$rr" embed --model "$tmp/vis" --images "$d/m.jsonl" -o "$tmp/vis.npy"
same "$tmp/vis.npy" "$tmp/hf.npy" "images, a CLIPVisionModelWithProjection export"
expect 0 "$ex" -q --from "$tmp/clip" --to hf-vision -o "$tmp/vis0"
expect 1 "$rr" embed --model "$tmp/vis0" --images "$d/m.jsonl" -o "$tmp/x.npy"
has "$tmp/err" "vis0: a vision tower without its projection" "a vision tower without it"
expect 0 "$sh_" -q --store raw -s 32 -o "$tmp/lite" "$fx/train/lite.jsonl"
expect 0 "$train" --stage 0 --stream tb --init "$fx/train/init" --data "$tmp/lite.list" \
	--batch 6 --steps 1 --out "$tmp/run" -q
ck="$tmp/run/final.safetensors"
expect 0 "$ex" -q --from "$ck" --to hf -o "$tmp/ck.hf"
for kind in images text; do
	input="$d/m.jsonl"; [ $kind = text ] && input="$d/t.txt"
	expect 0 "$rr" embed --model "$ck" --$kind "$input" -o "$tmp/ck.npy" --json
	has "$tmp/out" '"rows": 5' "$kind from a checkpoint"
	expect 0 "$rr" embed --model "$tmp/ck.hf" --$kind "$input" -o "$tmp/ck-hf.npy"
	same "$tmp/ck.npy" "$tmp/ck-hf.npy" "$kind, a checkpoint and its HF export"
done
expect 1 "$rr" embed --model "$d/t.txt" --text "$d/t.txt" -o "$tmp/x.npy"
absent "$tmp/x.npy" "not a model: nothing written"

# ---- bad images: the run fails naming file:line, or NaN rows with --skip-bad
cat >"$d/bad.jsonl" <<'EOF'
{"image_path": "img/a.jpg", "caption": "fine"}
{"image_path": "img/missing.jpg", "caption": "no file"}
{"image_path": "img/truncated.jpg", "caption": "cut short"}
{"image_path": "img/b.png", "caption": "
{"image_path": "img/c.webp", "caption": "fine too"}
EOF
echo "old contents" >"$tmp/bad.npy"
expect 1 "$rr" embed --model "$model" --images "$d/bad.jsonl" -o "$tmp/bad.npy"
has "$tmp/err" "bad.jsonl:2: cannot read image .*missing.jpg" "the first bad input named"
has "$tmp/err" "hint: --skip-bad" "the --skip-bad hint"
eq "$(cat "$tmp/bad.npy")" "old contents" "a failed run leaves the old file"
expect 0 "$rr" embed --skip-bad --model "$model" --images "$d/bad.jsonl" -o "$tmp/bad.npy" \
	--ids "$tmp/bad.ids" --json
norms "$tmp/bad.npy" 5 3 "--skip-bad"
has "$tmp/err" "bad.jsonl:2: .*a row of NaN" "missing image warned"
has "$tmp/err" "bad.jsonl:3: .*a row of NaN" "truncated image warned"
has "$tmp/err" "bad.jsonl:4: .*a row of NaN" "malformed line warned"
has "$tmp/out" '"bad": 3' "bad rows counted"
eq "$(sed -n 4p "$tmp/bad.ids")" "" "a malformed line has an empty key"
printf '{"image_path": "img/a.jpg", "caption": "x"}\n{"image_path": "img/c.webp", "caption": "y"}\n' >"$d/good.jsonl"
expect 0 "$rr" embed --model "$model" --images "$d/good.jsonl" -o "$tmp/good.npy"
row() { head -c $((128 + 64 * ($2 + 1))) "$1" | tail -c 64; }
eq "$(row "$tmp/bad.npy" 0 | od -An -tx1)" "$(row "$tmp/good.npy" 0 | od -An -tx1)" "good rows beside bad ones (1)"
eq "$(row "$tmp/bad.npy" 4 | od -An -tx1)" "$(row "$tmp/good.npy" 1 | od -An -tx1)" "good rows beside bad ones (2)"

# ---- inputs that are not read
expect 1 "$rr" embed --model "$tmp/nowhere" --images "$d/m.jsonl" -o "$tmp/x.npy"
expect 1 "$rr" embed --model "$model" --images "$d/none.jsonl" -o "$tmp/x.npy"
: >"$d/data.tar"
expect 1 "$rr" embed --model "$model" --images "$d/data.tar" -o "$tmp/x.npy"
has "$tmp/err" "hint: shard it first" "a tar: shard it first"
expect 1 "$rr" embed --model "$model" --images "$d/m.jsonl" -o "$tmp/no/dir/x.npy"
absent "$tmp/x.npy" "failed runs write nothing"

# ---- threads, pipes and standard input give the same bytes
expect 0 "$rr" embed -j 1 --model "$model" --images "$d/m.jsonl" -o "$tmp/j1.npy"
expect 0 "$rr" embed -j 2 --model "$model" --images "$d/m.jsonl" -o "$tmp/j2.npy"
# the same rows, in the same order; the last bits may differ (the matrix
# products are cut into other blocks for another thread count)
expect 0 "$helper" close "$tmp/j1.npy" "$tmp/j2.npy" 1e-6
expect 0 "$rr" embed -j 1 --model "$tmp/clip" --text "$d/t.txt" -o "$tmp/tj1.npy"
expect 0 "$rr" embed -j 2 --model "$tmp/clip" --text "$d/t.txt" -o "$tmp/tj2.npy"
expect 0 "$helper" close "$tmp/tj1.npy" "$tmp/tj2.npy" 1e-6
"$rr" embed -j 2 --model "$model" --images "$d/m.jsonl" -o - | cat >"$tmp/pipe.npy"
same "$tmp/pipe.npy" "$tmp/j2.npy" "a manifest's rows through a pipe"
"$rr" embed -j 2 --model "$model" --images "$tmp/raw.list" -o - | cat >"$tmp/pipe2.npy"
same "$tmp/pipe2.npy" "$tmp/j2.npy" "a shard list's rows through a pipe"
(cd "$d" && "$rr" embed -j 2 --model "$model" --images - -o "$tmp/stdin.npy" <m.jsonl) \
	&& ok || fail "a manifest on standard input"
same "$tmp/stdin.npy" "$tmp/j2.npy" "a manifest on standard input"
"$rr" embed -j 2 --model "$tmp/clip" --text - -o - <"$d/t.txt" | cat >"$tmp/tpipe.npy"
same "$tmp/tpipe.npy" "$tmp/tj2.npy" "text from standard input to a pipe"

echo "retrieve-cli: $passes passed, $fails failed"
[ "$fails" -eq 0 ]

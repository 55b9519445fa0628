#!/bin/sh
# preprocess-cli.sh - which preprocessing a shard holds (issue 15): rclip-shard
# --preprocess and --model record it; a SigLIP model embeds raw image files
# with its own whole-image resize, so a manifest and a raw SigLIP shard of
# the same non-square images give the same rows, and a CLIP-cropped shard
# does not; rclip-train, rclip-eval and rclip-retrieve refuse a shard made
# for the other family (and an old shard, which holds CLIP crops) in one
# line naming the shard and both sides, exit 1, nothing written (rclip-train
# leaves its run directory empty).
set -u
: "${top_builddir:=.}" "${top_srcdir:=.}"
bin="$top_builddir/tools"
fx="$top_srcdir/tests/fixtures"
sig="$fx/siglip/siglip-img64"   # SigLIP, image 64
clip="$fx/clip/tiny-img64"      # CLIP, image 64
[ -f "$sig/config.json" ] && [ -f "$clip/config.json" ] || { echo "model fixtures missing"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0 passes=0
. "$top_srcdir/tests/cli/testlib.sh"

# ---- data: non-square images (crop and resize differ), one square
d="$tmp/data"
mkdir -p "$d/img"
cp "$fx/images/jpeg-rgb-q90-420-500x375.jpg" "$d/img/a.jpg"
cp "$fx/images/png-rgb-233x640.png" "$d/img/b.png"
cp "$fx/images/jpeg-rgb-1000x10.jpg" "$d/img/c.jpg"
cp "$fx/images/jpeg-rgb-224x224.jpg" "$d/img/d.jpg"
cat >"$d/m.jsonl" <<'EOF'
{"image_path": "img/a.jpg", "caption": "a car"}
{"image_path": "img/b.png", "caption": "a tall picture"}
{"image_path": "img/c.jpg", "caption": "a strip"}
{"image_path": "img/d.jpg", "caption": "a square"}
EOF

# ---- rclip-shard: the option, the model, what is recorded
expect 0 "$bin/rclip-shard" --help
has "$tmp/out" "--preprocess=KIND" "--help names --preprocess"
has "$tmp/out" "--model=MODEL" "--help names --model"
expect 2 "$bin/rclip-shard" --preprocess bicubic -o "$tmp/x" "$d/m.jsonl"
has "$tmp/err" "unknown preprocessing 'bicubic'" "an unknown kind"
expect 2 "$bin/rclip-shard" --model "$sig" -s 32 -o "$tmp/x" "$d/m.jsonl"
has "$tmp/err" "takes 64x64 images" "-s against the model's size"
expect 2 "$bin/rclip-shard" --model "$clip" --preprocess siglip -o "$tmp/x" "$d/m.jsonl"
has "$tmp/err" "takes clip" "--preprocess against the model's"
expect 1 "$bin/rclip-shard" --model "$tmp/nothing" -o "$tmp/x" "$d/m.jsonl"
absent "$tmp/x.list" "no list after a usage error"

expect 0 "$bin/rclip-shard" -q --model "$sig" --store raw -o "$tmp/sig" "$d/m.jsonl"
expect 0 "$bin/rclip-shard" --inspect "$tmp/sig-000000.rcs"
has "$tmp/out" "^  preprocess: siglip$" "a SigLIP shard says so"
has "$tmp/out" "^  image_size: 64$" "at the model's size"
expect 0 "$bin/rclip-shard" -q -s 64 --preprocess siglip --store raw -o "$tmp/sig2" "$d/m.jsonl"
expect 0 "$bin/rclip-shard" --inspect --records "$tmp/sig-000000.rcs"
cp "$tmp/out" "$tmp/r1"
expect 0 "$bin/rclip-shard" --inspect --records "$tmp/sig2-000000.rcs"
sed 's/sig2-/sig-/' "$tmp/out" >"$tmp/r2"
same "$tmp/r1" "$tmp/r2" "the records of --model and of --preprocess siglip -s 64"
if cmp -s "$tmp/sig-000000.rcs" "$tmp/clip-000000.rcs"; then fail "SigLIP and CLIP shards alike"; else ok; fi
expect 0 "$bin/rclip-shard" -q --model "$clip" --store raw -o "$tmp/clip" "$d/m.jsonl"
expect 0 "$bin/rclip-shard" --inspect "$tmp/clip-000000.rcs"
if grep -q "preprocess" "$tmp/out"; then fail "a CLIP shard has a preprocess key (v1 writers wrote none)"; else ok; fi

# ---- the rows from the image files equal those from the raw shard of the
# model's preprocessing (the pixels themselves: test_preprocess)
rr="$bin/rclip-retrieve"
expect 0 "$rr" embed --model "$sig" --images "$d/m.jsonl" -o "$tmp/files.npy"
expect 0 "$rr" embed --model "$sig" --images "$tmp/sig.list" -o "$tmp/shard.npy"
same "$tmp/files.npy" "$tmp/shard.npy" "SigLIP: image files are resized as rclip-shard --model does"
expect 0 "$rr" embed --model "$clip" --images "$d/m.jsonl" -o "$tmp/cfiles.npy"
expect 0 "$rr" embed --model "$clip" --images "$tmp/clip.list" -o "$tmp/cshard.npy"
same "$tmp/cfiles.npy" "$tmp/cshard.npy" "CLIP: image files are cropped as before"

# ---- refusals: the other family's shard, and an old shard
expect 1 "$rr" embed --model "$sig" --images "$tmp/clip.list" -o "$tmp/no.npy"
has "$tmp/err" "clip-000000.rcs: images are 64x64 CLIP crops, the model takes 64x64 SigLIP resizes" \
	"retrieve: SigLIP model, CLIP shard"
has "$tmp/err" "hint: .*rclip-shard -s 64 --preprocess siglip" "the hint"
absent "$tmp/no.npy" "retrieve: nothing written"
expect 1 "$rr" embed --model "$clip" --images "$tmp/sig.list" -o "$tmp/no.npy"
has "$tmp/err" "sig-000000.rcs: images are 64x64 SigLIP resizes, the model takes 64x64 CLIP crops" \
	"retrieve: CLIP model, SigLIP shard"
absent "$tmp/no.npy" "retrieve: nothing written"
expect 1 "$rr" embed --model "$sig" --images "$fx/shards/golden-v1.rcs" -o "$tmp/no.npy"
has "$tmp/err" "golden-v1.rcs: images are 224x224 CLIP crops, the model takes 64x64 SigLIP resizes" \
	"an old shard (no key) reads as CLIP crops"

expect 1 "$bin/rclip-eval" retrieval -q -m "$sig" "$tmp/clip.list"
has "$tmp/err" "clip-000000.rcs: images are 64x64 CLIP crops, the model takes 64x64 SigLIP resizes" \
	"eval: SigLIP model, CLIP shard"
expect 1 "$bin/rclip-eval" retrieval -q -m "$clip" "$tmp/sig.list"
has "$tmp/err" "sig-000000.rcs: images are 64x64 SigLIP resizes, the model takes 64x64 CLIP crops" \
	"eval: CLIP model, SigLIP shard"

T="$bin/rclip-train"
# rclip-train makes its run directory before it opens the data: it stays empty
nothing_in() { if [ -z "$(ls -A "$1" 2>/dev/null)" ]; then ok; else fail "$2: $1 holds $(ls "$1")"; fi; rm -rf "$1"; }
expect 1 "$T" --stage 0 --stream caption --loss siglip --init "$sig" --data "$tmp/clip.list" \
	--batch 2 --steps 1 -q --out "$tmp/run"
has "$tmp/err" "clip-000000.rcs: images are 64x64 CLIP crops, the model takes 64x64 SigLIP resizes" \
	"train: SigLIP model, CLIP shard"
lines=$(grep -vc "hint:" "$tmp/err")
eq "$lines" 1 "train: one line (and a hint)"
nothing_in "$tmp/run" "train"
expect 1 "$T" --stage 0 --stream caption --init "$clip" --data "$tmp/sig.list" \
	--batch 2 --steps 1 -q --out "$tmp/run"
has "$tmp/err" "sig-000000.rcs: images are 64x64 SigLIP resizes, the model takes 64x64 CLIP crops" \
	"train: CLIP model, SigLIP shard"
nothing_in "$tmp/run" "train"

echo "preprocess-cli: $passes passed, $fails failed"
[ "$fails" -eq 0 ]

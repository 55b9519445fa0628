#!/usr/bin/env bash
# quickstart.sh - the main job, from a fresh clone: install dependencies,
# build rclip in build/, then run its programs on a few samples: captions
# through rclip-tokenize, images and captions through rclip-shard. The
# later steps (train, eval, export) join here as their programs land.
#
# usage: examples/quickstart.sh          (from any directory)
# Environment: RCLIP_SKIP_DEPS=1        do not run build-aux/install-deps.sh
#              RCLIP_CONFIGURE_FLAGS    extra arguments for ./configure
# Writes its files to build/quickstart/.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
jobs=$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)
read -r -a configure_flags <<<"${RCLIP_CONFIGURE_FLAGS:-}"
tok=build/tools/rclip-tokenize
shard=build/tools/rclip-shard
out=build/quickstart
n=0

step() {
	n=$((n + 1))
	printf '\n==== %d. %s\n' "$n" "$*"
}
# Show a command, then run it.
run() {
	printf '$ %s\n' "$*"
	"$@"
}

# ---------------------------------------------------------------- build
if [ "${RCLIP_SKIP_DEPS:-0}" != 1 ]; then
	step "dependencies (build-aux/install-deps.sh; RCLIP_SKIP_DEPS=1 skips this)"
	run build-aux/install-deps.sh
fi

# Rebuild when the program is missing or a source is newer than it.
stale() {
	[ ! -x "$tok" ] || [ ! -x "$shard" ] ||
		[ -n "$(find common tools data configure.ac Makefile.am \
			-newer "$tok" -print -quit 2>/dev/null)" ]
}

if stale; then
	if [ ! -x configure ] || [ configure.ac -nt configure ]; then
		step "generate ./configure (autoreconf -fi)"
		mkdir -p build-aux/m4 # git does not keep the empty directory
		run autoreconf -fi
	fi
	if [ ! -f build/Makefile ]; then
		step "configure in build/"
		mkdir -p build
		(cd build && run ../configure "${configure_flags[@]}")
	fi
	step "build (make -j$jobs in build/)"
	run make -C build -j"$jobs"
else
	step "build: the programs in build/tools/ are up to date"
fi

# ---------------------------------------------------------------- captions
step "sample captions -> $out/captions.txt"
mkdir -p "$out"
# Descriptive and reasoning-style captions, one per line; one with an HTML
# entity, one with accents, and one too long for CLIP's 77 tokens.
cat >"$out/captions.txt" <<'EOF'
A photo of a white cup on a wooden table.
The cup is about to fall because it hangs over the table edge.
The ice on the pond is thin, so the skater stays close to the shore.
The boy holds an umbrella because it's raining and the street is wet.
A shop sign that says Fish &amp; Chips above the door.
A café in São Paulo with crème brûlée on the menu.
The glass on the left is fuller than the one on the right, so it weighs more; the man reaches for the lighter one because his arm is tired after carrying the heavy box up the stairs, and the lighter glass is also closer to the edge of the counter where he is standing, while the heavy box, now on the floor by the door, blocks the way out of the small kitchen for the dog that waits to go outside.
EOF
run cat "$out/captions.txt"

# ---------------------------------------------------------------- tokenize
step "tokenize to text ids: one line per caption, 49406 ... 49407"
run "$tok" "$out/captions.txt"

step "count tokens (with start and end; the summary goes to stderr)"
run "$tok" --count "$out/captions.txt"
run "$tok" --count --json "$out/captions.txt"

step "captions longer than 77 tokens (CLIP keeps the first 75 and the end token)"
printf '$ %s\n' "$tok --count -q $out/captions.txt | awk '\$1 > 77'"
"$tok" --count -q "$out/captions.txt" | awk '$1 > 77 { print "line " NR ": " $1 " tokens" }'

step "tokenize to bin rows: 77 uint16 little-endian ids per caption, padded with 0"
run "$tok" -f bin -o "$out/captions.bin" "$out/captions.txt"
printf '%s: %s bytes = %s captions x 77 ids x 2 bytes\n' "$out/captions.bin" \
	"$(wc -c <"$out/captions.bin" | tr -d ' ')" "$(wc -l <"$out/captions.txt" | tr -d ' ')"
echo "row 2, as numbers:"
od -An -v -tu2 -j 154 -N 154 "$out/captions.bin"

step "decode the bin rows back to text (cleaned, lower case, split into tokens; the long caption stops where it was cut)"
run "$tok" -d -f bin "$out/captions.bin"

# ---------------------------------------------------------------- shards
step "a small image-caption manifest (images from tests/fixtures/images)"
fx=tests/fixtures/images
cat >"$out/pairs.jsonl" <<'JSONL'
{"image_path": "jpeg-rgb-q90-420-500x375.jpg", "caption": "a photo with a gradient and shapes"}
{"image_path": "png-rgba-400x300.png", "caption": "an image with transparency"}
{"image_path": "webp-lossy-500x375.webp", "caption": "a lossy webp picture"}
{"image_path": "jpeg-gray-375x500.jpg", "caption": "a grayscale photo, taller than wide"}
{"image_path": "missing.jpg", "caption": "this image does not exist: the record is skipped"}
JSONL
run cat "$out/pairs.jsonl"

step "shard it: images resized and cropped to 224x224 as CLIP's preprocessing does, captions tokenized"
run "$shard" --image-root "$fx" -o "$out/pairs" "$out/pairs.jsonl"
run cat "$out/pairs.list"

step "look inside: header and metadata (every checksum verified), a record as JSON, the pixels as PPM"
run "$shard" --inspect "$out/pairs-000000.rcs"
printf '$ %s\n' "$shard --inspect --records $out/pairs-000000.rcs | head -n 1"
"$shard" --inspect --records "$out/pairs-000000.rcs" | head -n 1
rm -rf "$out/pixels"
mkdir -p "$out/pixels"
run "$shard" --inspect --pixels "$out/pixels" "$out/pairs-000000.rcs"
run ls "$out/pixels"

step "done"
cat <<EOF
Files are in $out/. Next:
  man -l man/rclip-shard.1        sharding image-text data
  man -l man/rclip-tokenize.1     the tokenizer's manual
  man -l man/rclip.7              the toolkit and its conventions
  tests/run.sh                    build and run every test
EOF

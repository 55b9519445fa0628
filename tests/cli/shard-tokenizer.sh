#!/bin/sh
# shard-tokenizer.sh - shards of a model's own tokenizer (issue 15), end to
# end: rclip-shard --model DIR with the SentencePiece fixture (SigLIP's
# unigram), the Gemma BPE fixture and SigLIP2's (--lowercase) stores, for
# every caption, the ids rclip-tokenize --model gives and the row
# transformers gave (tests/fixtures/spm/*.ids.gz, without its padding),
# records the tokenizer (name, hash, :lower) and the model's context; a
# Gemma-style tokenizer.json of 70001 pieces made here (a piece moved to
# id 70000) gives format v2 shards whose ids over 65535 come back, mapped
# and streamed (and equal transformers' when the fixtures venv is there);
# CLIP shards stay v1 and the golden v1 shard reads as it always did; a
# tiny SigLIP model (siglip-train/init with the fixture's tokenizer) trains
# 2 steps on each tokenizer's shards and its checkpoint names the
# tokenizer (rclip-retrieve embeds its texts only beside that tokenizer);
# rclip-train refuses, in one line naming the shard and both
# sides and with an empty run directory, CLIP shards for the SigLIP model,
# Gemma shards for it, SentencePiece shards for a CLIP model, a list of
# two tokenizers, and CLIP shards for a checkpoint trained on SigLIP's.
set -u
: "${top_builddir:=.}" "${top_srcdir:=.}"
bin="$top_builddir/tools"
fx="$top_srcdir/tests/fixtures"
[ -f "$fx/siglip-train/init/config.json" ] && [ -f "$fx/spm/siglip/spiece.model" ] ||
	{ echo "model fixtures missing"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0 passes=0
. "$top_srcdir/tests/cli/testlib.sh"

# ---- models: the tiny SigLIP of train-siglip.sh (vocabulary 49408, images
# 32) with each tokenizer beside it; the tiny CLIP of the train fixtures
# with SigLIP's tokenizer beside it (SentencePiece ids, CLIP crops)
for m in siglip gemma siglip2; do
	cp -r "$fx/siglip-train/init" "$tmp/$m"
	cp "$fx/spm/$m/"* "$tmp/$m/"
done
cp -r "$fx/train/init" "$tmp/clipspm"
cp "$fx/spm/siglip/"* "$tmp/clipspm/"

# ---- data: 12 images, each with one caption: printable ASCII lines of
# lines.txt.gz (no quote or backslash), their line numbers kept
d="$tmp/data"
mkdir -p "$d"
cp -r "$fx/train/images" "$d/"
gzip -dc "$fx/spm/lines.txt.gz" | awk 'length($0) > 0 && $0 !~ /[^ -~]/ && $0 !~ /["\\]/ {
	print NR "\t" $0; if (++n == 12) exit }' >"$tmp/picked"
cut -f2 "$tmp/picked" >"$tmp/captions.txt"
awk -F '\t' '{ printf "{\"image_path\": \"images/img-%02d.png\", \"caption\": \"%s\"}\n", NR - 1, $2 }' \
	"$tmp/picked" >"$d/m.jsonl"
eq "$(wc -l <"$d/m.jsonl" | tr -d ' ')" 12 "12 captions picked"

# the ids of each record's text, one line per record, from --inspect --records
ids_of() {
	"$bin/rclip-shard" --inspect --records "$1" |
		sed 's/.*"tokens":\[\([0-9,]*\)\].*/\1/; s/,/ /g'
}
# transformers' rows of the picked lines without their padding: SigLIP pads
# </s> (1) on the right, Gemma <pad> (0) on the left, the SigLIP2-style
# Gemma fixture (ending in <eos>) <pad> on the right
reference() {
	gzip -dc "$fx/spm/$1.ids.gz" | awk 'NR == FNR { want[$1] = 1; next } FNR in want' \
		"$tmp/picked" - >"$tmp/ref.raw"
	case $1 in
	siglip) sed 's/\( 1\)*$//' "$tmp/ref.raw" ;;
	gemma) sed 's/^\(0 \)*//' "$tmp/ref.raw" ;;
	*) sed 's/\( 0\)*$//' "$tmp/ref.raw" ;;
	esac
}

# ---- each tokenizer: the ids of rclip-tokenize and of transformers
for m in siglip gemma siglip2; do
	low=
	[ "$m" = siglip2 ] && low=--lowercase
	expect 0 "$bin/rclip-shard" -q --model "$tmp/$m" $low --store raw -o "$tmp/$m-d" "$d/m.jsonl"
	expect 0 "$bin/rclip-shard" --inspect "$tmp/$m-d-000000.rcs"
	has "$tmp/out" "rclip shard v1, 12 records, descriptive, raw 32x32, text context 64," \
		"$m: a v1 shard (its ids fit 16 bits), the SigLIP context"
	name=siglip-unigram
	[ "$m" = siglip ] || name=gemma-bpe   # both GemmaTokenizer classes
	has "$tmp/out" "^  tokenizer: $name:[0-9a-f]\{16\}${low:+:lower}\$" "$m: the tokenizer recorded"
	sed -n 's/^  tokenizer: //p' "$tmp/out" >"$tmp/$m.id"
	has "$tmp/out" "^  preprocess: siglip\$" "$m: SigLIP's preprocessing from the model"
	ids_of "$tmp/$m-d-000000.rcs" >"$tmp/$m.shard"
	"$bin/rclip-tokenize" -q --model "$tmp/$m" $low "$tmp/captions.txt" >"$tmp/$m.tok"
	same "$tmp/$m.shard" "$tmp/$m.tok" "$m: the shard's ids and rclip-tokenize --model's"
	if [ "$m" = siglip ]; then
		# a row whose content ends in </s> keeps one: compare the content only
		sed 's/\( 1\)*$//' "$tmp/$m.shard" >"$tmp/$m.cmp"
	else
		cp "$tmp/$m.shard" "$tmp/$m.cmp"
	fi
	reference "$m" >"$tmp/$m.ref"
	same "$tmp/$m.cmp" "$tmp/$m.ref" "$m: the shard's ids and transformers' rows"
done
# other files, or the same with --lowercase, are other tokenizers
for a in "gemma siglip2" "siglip gemma"; do
	set -- $a
	if cmp -s "$tmp/$1.id" "$tmp/$2.id"; then fail "$1 and $2 recorded as one tokenizer"; else ok; fi
done
expect 0 "$bin/rclip-shard" -q --model "$tmp/gemma" --lowercase --store raw -o "$tmp/gl" "$d/m.jsonl"
expect 0 "$bin/rclip-shard" --inspect "$tmp/gl-000000.rcs"
eq "$(sed -n 's/^  tokenizer: //p' "$tmp/out")" "$(cat "$tmp/gemma.id"):lower" "gemma --lowercase"

# ---- usage errors: --lowercase needs a model tokenizer, --tokenizer is CLIP's
expect 2 "$bin/rclip-shard" --lowercase -o "$tmp/x" "$d/m.jsonl"
has "$tmp/err" "lowercase goes with --model" "--lowercase without --model"
expect 2 "$bin/rclip-shard" --model "$fx/siglip-train/init" --lowercase -o "$tmp/x" "$d/m.jsonl"
has "$tmp/err" "no SentencePiece-family tokenizer" "--lowercase with a model without one"
expect 2 "$bin/rclip-shard" --model "$tmp/siglip" --tokenizer hf -o "$tmp/x" "$d/m.jsonl"
has "$tmp/err" "has its own tokenizer" "--tokenizer with a model tokenizer"
absent "$tmp/x.list" "no list after a usage error"

# ---- ids over 65535: a Gemma tokenizer.json of 70001 pieces, "▁cat" moved
# to id 70000 and fillers in its place and above the fixture's 4000
big="$tmp/big"
cp -r "$tmp/gemma" "$big"
awk '
/^    "vocab": \{$/ { print; invocab = 1
	printf "      \"<filler-%d>\": %d,\n", 695, 695
	for (i = 4000; i < 70000; i++) printf "      \"<filler-%d>\": %d,\n", i, i
	next }
invocab && /^      "▁cat": 695,$/ { print "      \"▁cat\": 70000,"; next }
invocab && /^    \},?$/ { invocab = 0 }
{ print }' "$tmp/gemma/tokenizer.json" >"$big/tokenizer.json"
printf '{"image_path": "images/img-00.png", "caption": "a photo of a cat"}\n{"image_path": "images/img-01.png", "caption": "cat cat, a Cat"}\n' >"$d/cat.jsonl"
printf 'a photo of a cat\ncat cat, a Cat\n' >"$tmp/cat.txt"
expect 0 "$bin/rclip-shard" -q --model "$big" --store raw -o "$tmp/big-d" "$d/cat.jsonl"
expect 0 "$bin/rclip-shard" --inspect "$tmp/big-d-000000.rcs"
has "$tmp/out" "rclip shard v2, 2 records, .*text context 64 (32-bit ids)," "a v2 shard"
has "$tmp/out" "^  format_version: 2\$" "format_version 2"
ids_of "$tmp/big-d-000000.rcs" >"$tmp/big.shard"
"$bin/rclip-tokenize" -q --model "$big" "$tmp/cat.txt" >"$tmp/big.tok"
same "$tmp/big.shard" "$tmp/big.tok" "ids over 65535: the shard's and rclip-tokenize's"
has "$tmp/big.shard" " 70000" "the id over 65535 is there"
# streamed: the same records
"$bin/rclip-shard" --inspect --records - <"$tmp/big-d-000000.rcs" |
	sed 's/.*"tokens":\[\([0-9,]*\)\].*/\1/; s/,/ /g' >"$tmp/big.stream"
same "$tmp/big.stream" "$tmp/big.shard" "ids over 65535 through a pipe"
venv=${RCLIP_VENV:-${HOME:-/root}/.cache/rclip/venv}
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import transformers' >/dev/null 2>&1; then
	if HF_HUB_OFFLINE=1 "$venv/bin/python" - "$big" "$tmp/cat.txt" "$tmp/big.shard" <<'EOF'
import sys, warnings
warnings.filterwarnings("ignore")
from transformers import AutoTokenizer
from transformers.utils import logging
logging.set_verbosity_error()
d, texts, got = sys.argv[1:4]
tok = AutoTokenizer.from_pretrained(d)
lines = open(texts, encoding="utf-8").read().split("\n")[:-1]
want = [" ".join(map(str, tok(t, truncation=True, max_length=64)["input_ids"])) for t in lines]
have = open(got).read().split("\n")[:-1]
print(f"transformers: {len(want)} rows equal, ids up to {max(int(x) for w in want for x in w.split())}") if want == have else print("transformers:", want)
sys.exit(0 if want == have else 1)
EOF
	then ok; else fail "ids over 65535: the shard's and transformers'"; fi
fi

# ---- version 1: CLIP shards are v1 as before; the golden v1 shard reads
expect 0 "$bin/rclip-shard" -q -s 32 --preprocess siglip --store raw -o "$tmp/clip-d" "$d/m.jsonl"
expect 0 "$bin/rclip-shard" --inspect "$tmp/clip-d-000000.rcs"
has "$tmp/out" "rclip shard v1, 12 records, descriptive, raw 32x32, text context 77," "CLIP: v1, 77"
has "$tmp/out" "^  tokenizer: clip-bpe\$" "CLIP: clip-bpe"
expect 0 "$bin/rclip-shard" --inspect --json "$fx/shards/golden-v1.rcs"
has "$tmp/out" '"version":1,.*"token_bytes":2' "golden v1: version 1, 2-byte ids"
has "$tmp/out" '"xxh3":"e791a21479323b9c"' "golden v1: its committed hash"

# ---- training: 2 steps of the tiny SigLIP model on each tokenizer's shards,
# its checkpoint naming the tokenizer (without :lower: the vocabulary)
T="$bin/rclip-train"
train() { expect "$1" "$T" --stage 0 --loss siglip --init "$2" --data "$3" --batch 4 --steps 2 \
	-j 1 -q --out "$4"; }
for m in siglip gemma siglip2; do
	train 0 "$tmp/$m" "$tmp/$m-d.list" "$tmp/run-$m"
	has "$tmp/run-$m/metrics.jsonl" '"step": *2' "$m: 2 steps"
	head -c 65536 "$tmp/run-$m/final.safetensors" | tr -c '[:print:]' '\n' >"$tmp/meta"
	has "$tmp/meta" "\"tokenizer\":\"$(sed 's/:lower$//' "$tmp/$m.id")\"" \
		"$m: the checkpoint names its tokenizer"
	# the model's tokenizer files kept beside the run's checkpoints
	for f in "$tmp/$m"/*; do
		case ${f##*/} in config.json | *.safetensors) continue ;; esac
		if cmp -s "$f" "$tmp/run-$m/${f##*/}"; then ok
		else fail "$m: ${f##*/} copied into the run"; fi
	done
done
# texts padded on the tokenizer's side: Gemma's config pads on the left
rm -rf "$tmp/run-left"
expect 0 "$T" --stage 0 --loss siglip --init "$tmp/gemma" --data "$tmp/gemma-d.list" --batch 4 \
	--steps 1 -j 1 -v --out "$tmp/run-left"
has "$tmp/err" "its tokenizer pads on the left" "gemma: the training pads on the left"
expect 0 "$T" --stage 0 --loss siglip --init "$tmp/siglip2" --data "$tmp/siglip2-d.list" \
	--batch 4 --steps 1 -j 1 -v --out "$tmp/run-right"
if grep -q "pads on the left" "$tmp/err"; then fail "siglip2: padded on the right"; else ok; fi
# an export of the run's checkpoint carries the tokenizer
expect 0 "$bin/rclip-export" -q --from "$tmp/run-siglip2/final.safetensors" --to hf -o "$tmp/exp"
if cmp -s "$tmp/siglip2/tokenizer.json" "$tmp/exp/tokenizer.json"; then ok
else fail "export of a run: its tokenizer.json"; fi

# a checkpoint's texts are embedded with the tokenizer it was trained on:
# the one beside it must be that one
printf 'a photo of a cat\n' >"$tmp/t.txt"
expect 0 "$bin/rclip-retrieve" embed -q --model "$tmp/run-siglip/final.safetensors" \
	--text "$tmp/t.txt" -o "$tmp/t.npy"
rm "$tmp/run-siglip/spiece.model"
cp "$fx/spm/gemma/"* "$tmp/run-siglip/"
expect 1 "$bin/rclip-retrieve" embed -q --model "$tmp/run-siglip/final.safetensors" \
	--text "$tmp/t.txt" -o "$tmp/t2.npy"
has "$tmp/err" "final.safetensors: trained on the ids of $(cat "$tmp/siglip.id"), and the tokenizer beside it is $(cat "$tmp/gemma.id")\$" \
	"embed: a checkpoint beside another tokenizer"
absent "$tmp/t2.npy" "embed: nothing written"
# nor does an export of it carry that other tokenizer
expect 0 "$bin/rclip-export" --from "$tmp/run-siglip/final.safetensors" --to hf -o "$tmp/exp2"
absent "$tmp/exp2/tokenizer.json" "export: not the other tokenizer beside the checkpoint"
has "$tmp/err" "no tokenizer files to copy" "export: says it wrote no tokenizer"

# ---- refusals: one line naming the shard and both sides, nothing written
refused() {  # WHAT INIT LIST PATTERN
	rm -rf "$tmp/no"
	train 1 "$2" "$3" "$tmp/no"
	has "$tmp/err" "$4" "$1"
	eq "$(grep -c -v 'hint:' "$tmp/err")" 1 "$1: one error line"
	eq "$(ls -A "$tmp/no" 2>/dev/null)" "" "$1: nothing written"
}
sig=$(cat "$tmp/siglip.id")
refused "CLIP BPE shards, SigLIP model" "$tmp/siglip" "$tmp/clip-d.list" \
	"clip-d-000000.rcs: token ids of clip-bpe, the model takes $sig\$"
refused "Gemma shards, SigLIP model" "$tmp/siglip" "$tmp/gemma-d.list" \
	"gemma-d-000000.rcs: token ids of $(cat "$tmp/gemma.id"), the model takes $sig\$"
refused "SigLIP shards, Gemma model" "$tmp/gemma" "$tmp/siglip-d.list" \
	"siglip-d-000000.rcs: token ids of $sig, the model takes $(cat "$tmp/gemma.id")\$"
refused "CLIP shards, a checkpoint trained on SigLIP's" "$tmp/run-siglip/final.safetensors" \
	"$tmp/clip-d.list" "clip-d-000000.rcs: token ids of clip-bpe, the model takes $sig\$"
# a CLIP model: SentencePiece ids of CLIP crops refused, CLIP BPE taken
expect 0 "$bin/rclip-shard" -q --model "$tmp/clipspm" --store raw -o "$tmp/cs" "$d/m.jsonl"
refused "SigLIP tokenizer shards, CLIP model" "$fx/train/init" "$tmp/cs.list" \
	"cs-000000.rcs: token ids of $sig, the model takes clip-bpe\$"
expect 0 "$bin/rclip-shard" -q -s 32 --store raw -o "$tmp/cc" "$d/m.jsonl"
expect 0 "$T" --stage 0 --init "$fx/train/init" --data "$tmp/cc.list" --batch 4 --steps 1 -j 1 -q \
	--out "$tmp/run-clip"
# one list, one tokenizer, even for a model that names none (random
# weights of a config)
cat "$tmp/siglip-d.list" >"$tmp/mixed.list"
grep -v '^#' "$tmp/gl.list" >>"$tmp/mixed.list"
rm -rf "$tmp/no"
expect 1 "$T" --stage 0 --loss siglip --init-config "$fx/siglip-train/init/config.json" \
	--data "$tmp/mixed.list" --batch 4 --steps 2 -j 1 -q --out "$tmp/no"
has "$tmp/err" \
	"gl-000000.rcs: token ids of .*, and .*siglip-d-000000.rcs holds ids of $sig: one list, one tokenizer" \
	"a list of two tokenizers"
eq "$(ls -A "$tmp/no" 2>/dev/null)" "" "a list of two tokenizers: nothing written"
# and learns the data's: its checkpoint names it
expect 0 "$T" --stage 0 --loss siglip --init-config "$fx/siglip-train/init/config.json" \
	--data "$tmp/gl.list" --batch 4 --steps 2 -j 1 -q --out "$tmp/run-cfg"
head -c 65536 "$tmp/run-cfg/final.safetensors" | tr -c '[:print:]' '\n' >"$tmp/meta"
has "$tmp/meta" "\"tokenizer\":\"$(cat "$tmp/gemma.id"):lower\"" "random weights learn the data's tokenizer"
refused "SigLIP shards, a checkpoint trained on Gemma's" "$tmp/run-cfg/final.safetensors" \
	"$tmp/siglip-d.list" "siglip-d-000000.rcs: token ids of $sig, the model takes $(cat "$tmp/gemma.id"):lower\$"

echo "shard-tokenizer: $passes passed, $fails failed"
[ "$fails" -eq 0 ]

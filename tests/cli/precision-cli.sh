#!/bin/sh
# precision-cli.sh - --precision fp32|bf16|int8 as a user meets it in
# rclip-retrieve embed, rclip-retrieve search --text and rclip-eval on the
# CPU: an unknown name is a usage error; bf16 and int8 run and give rows
# close to fp32 (the contract itself is tests/unit/test_lowp's); a CPU
# without the instructions (oneDNN's ONEDNN_MAX_CPU_ISA stands in for one)
# or a build without oneDNN fails at once, in one line and a hint, writing
# nothing; int8 on a GPU and training in bf16 on the CPU are refused.
set -u
: "${top_builddir:=.}" "${top_srcdir:=.}"
rr="$top_builddir/tools/rclip-retrieve"
ev="$top_builddir/tools/rclip-eval"
tr="$top_builddir/tools/rclip-train"
fx="$top_srcdir/tests/fixtures"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0 passes=0
. "$top_srcdir/tests/cli/testlib.sh"
m="$fx/eval/model"   # CLIP's vocabulary
printf 'a photo of a cat\nA Red Car, parked.\nthe dog will jump because it crouches\n' >"$tmp/t.txt"
printf '{"image_path": "%s", "caption": "x"}\n' "$fx"/eval/img/0[0-3].png >"$tmp/m.jsonl"

# ---- usage: the names
for p in int4 fp16 BF16 ""; do
	expect 2 "$rr" embed --device cpu --precision "$p" -m "$m" --text "$tmp/t.txt" -o "$tmp/u.npy"
	has "$tmp/err" "expected fp32, bf16, int8 or auto" "--precision '$p'"
done
absent "$tmp/u.npy" "a usage error writes nothing"
expect 0 "$rr" embed --help
has "$tmp/out" "fp32, bf16, int8 or auto" "embed --help"
expect 0 "$ev" --help
has "$tmp/out" "fp32, bf16, int8 or auto" "rclip-eval --help"

# ---- what needs no oneDNN: int8 is the CPU's, training stays fp32
expect 1 "$rr" embed --device cuda --precision int8 -m "$m" --text "$tmp/t.txt" -o "$tmp/g.npy"
has "$tmp/err" "^rclip-retrieve embed: cuda:0: int8 is the CPU's inference precision$" \
	"int8 on a GPU"
absent "$tmp/g.npy" "int8 on a GPU writes nothing"
"$top_builddir/tools/rclip-shard" -q -s 32 --store raw -o "$tmp/lite" "$fx/train/lite.jsonl" ||
	fail "shard lite"
for p in bf16 int8; do
	expect 1 "$tr" --device cpu --precision $p --stage 1 --init "$fx/train/init" \
		--data "$tmp/lite.list" --steps 1 --batch 4 --out "$tmp/run-$p"
	has "$tmp/err" "cpu: training runs in fp32 ($p is for encoding)" "rclip-train $p"
	eq "$(grep -c . "$tmp/err")" 2 "rclip-train $p: one line and a hint"
done

# ---- without the instructions (or without oneDNN): one line, a hint
for p in bf16 int8; do
	ONEDNN_MAX_CPU_ISA=AVX2 expect 1 "$rr" embed --device cpu --precision $p -m "$m" \
		--text "$tmp/t.txt" -o "$tmp/n.npy"
	has "$tmp/err" "^rclip-retrieve embed: cpu: $p \(needs .* and this CPU has AVX2\|: this rclip is built without oneDNN\)$" \
		"$p on a CPU without it"
	has "$tmp/err" "^rclip-retrieve embed: hint: " "$p: a hint"
	eq "$(grep -c . "$tmp/err")" 2 "$p: one line and a hint"
	absent "$tmp/n.npy" "$p on a CPU without it writes nothing"
	ONEDNN_MAX_CPU_ISA=AVX2 expect 1 "$ev" sets --device cpu --precision $p -m "$m" \
		-o "$tmp/n.txt" "$fx/eval/sets.jsonl"
	has "$tmp/err" "^rclip-eval: cpu: $p" "rclip-eval $p on a CPU without it"
	absent "$tmp/n.txt" "rclip-eval $p on a CPU without it writes nothing"
done

# ---- the precisions at work, where this build and CPU have them
if ! "$rr" embed -q --device cpu --precision bf16 -m "$m" --text "$tmp/t.txt" -o - >/dev/null \
	2>/dev/null || ! "$rr" embed -q --device cpu --precision int8 -m "$m" --text "$tmp/t.txt" \
	-o - >/dev/null 2>/dev/null; then
	echo "precision-cli: $passes passed, $fails failed (bf16 and int8 not run: no oneDNN, or a CPU without the instructions)"
	[ "$fails" -eq 0 ] || exit 1
	exit 77
fi
expect 0 "$rr" embed --device cpu --precision fp32 -m "$m" --text "$tmp/t.txt" -o "$tmp/f.npy"
expect 0 "$rr" embed --device cpu --precision fp32 -m "$m" --images "$tmp/m.jsonl" -o "$tmp/fi.npy"
expect 0 "$rr" embed --device cpu -m "$m" --text "$tmp/t.txt" -o "$tmp/a.npy"
same "$tmp/a.npy" "$tmp/f.npy" "the CPU's default is fp32"
for p in bf16 int8; do
	expect 0 "$rr" embed --device cpu --precision $p -m "$m" --text "$tmp/t.txt" -o "$tmp/$p.npy"
	expect 0 "$rr" embed --device cpu --precision $p -m "$m" --images "$tmp/m.jsonl" \
		-o "$tmp/$p-i.npy"
	if cmp -s "$tmp/$p.npy" "$tmp/f.npy"; then fail "$p: the rows of fp32"; else ok; fi
	# each query finds its own fp32 row first: search --text in $p
	expect 0 "$rr" search --device cpu --precision $p -g "$tmp/f.npy" -m "$m" \
		--text "$tmp/t.txt" -k 1
	eq "$(cut -f3 "$tmp/out" | tr '\n' ' ')" "0 1 2 " "search --text --precision $p"
	expect 0 "$rr" search --device cpu --precision $p -g "$tmp/fi.npy" -m "$m" \
		--text "$tmp/t.txt" -k 4
	# the scores against the image gallery stay within what the contract
	# allows: |a'·b - a·b| <= |a' - a| = sqrt(2 - 2 cos) for unit rows
	"$rr" search -q --device cpu --precision fp32 -g "$tmp/fi.npy" -m "$m" \
		--text "$tmp/t.txt" -k 4 >"$tmp/ref.tsv" || fail "search fp32"
	[ $p = bf16 ] && bound=0.0317 || bound=0.1
	sort -k1,1n -k3,3n "$tmp/ref.tsv" | cut -f1,3,4 >"$tmp/ref.s"
	sort -k1,1n -k3,3n "$tmp/out" | cut -f1,3,4 >"$tmp/got.s"
	d=$(paste "$tmp/ref.s" "$tmp/got.s" | awk -F'\t' '$1 != $4 || $2 != $5 { bad = 1 }
		{ x = $3 - $6; if (x < 0) x = -x; if (x > w) w = x }
		END { if (bad || NR != 12) print "mismatch"; else printf "%.6f", w + 0 }')
	if [ "$d" != mismatch ] && awk "BEGIN { exit !($d <= $bound) }"; then ok; else
		fail "search --precision $p: scores differ from fp32's by $d (bound $bound)"; fi
	expect 0 "$ev" sets --device cpu --precision $p -m "$m" "$fx/eval/sets.jsonl"
	has "$tmp/out" "^overall " "rclip-eval sets --precision $p"
done

echo "precision-cli: $passes passed, $fails failed"
[ "$fails" -eq 0 ]

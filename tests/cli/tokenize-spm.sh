#!/bin/sh
# tokenize-spm.sh - rclip-tokenize --model DIR end to end on the
# SentencePiece-family fixtures (tests/fixtures/spm, gen_spm.py): every line
# of lines.txt.gz, as bin and bin32 rows of 64 ids with one thread and with
# all, must be transformers' row (siglip.ids.gz, gemma.ids.gz, and
# siglip2.ids.gz with --lowercase); text rows must be those rows without
# their padding; bad directories fail with one line.
set -u
: "${top_builddir:=.}" "${top_srcdir:=.}"
tok="$top_builddir/tools/rclip-tokenize"
fx="$top_srcdir/tests/fixtures/spm"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
gzip -dc "$fx/lines.txt.gz" >"$tmp/lines.txt" || exit 1
pass=0 fails=0
ok() { pass=$((pass + 1)); echo "ok: $*"; }
fail() { fails=$((fails + 1)); echo "FAIL: $*"; }

# rows of 64 ids, one per line, from bin (u2) or bin32 (u4) output
as_text() { od -An -v -t "u$1" -w"$((64 * $1))" | sed 's/^ *//; s/  */ /g'; }

for m in siglip gemma siglip2; do
	gzip -dc "$fx/$m.ids.gz" >"$tmp/want.txt" || exit 1
	low=
	[ "$m" = siglip2 ] && low=--lowercase
	for f in bin:2 bin32:4; do
		for j in 1 0; do
			if ! "$tok" -q -j "$j" --model "$fx/$m" $low -f "${f%:*}" "$tmp/lines.txt" >"$tmp/got.bin"; then
				fail "$m -f ${f%:*} -j $j exited non-zero"
				continue
			fi
			as_text "${f#*:}" <"$tmp/got.bin" >"$tmp/got.txt"
			if cmp -s "$tmp/got.txt" "$tmp/want.txt"; then
				ok "$m -f ${f%:*} -j $j: $(wc -l <"$tmp/want.txt" | tr -d ' ') rows equal to transformers'"
			else
				n=$(paste -d '\t' "$tmp/got.txt" "$tmp/want.txt" | awk -F '\t' '$1 != $2' | wc -l)
				fail "$m -f ${f%:*} -j $j: $n rows differ from transformers'"
				paste -d '\n' "$tmp/got.txt" "$tmp/want.txt" | head -4
			fi
		done
	done
done

# text rows: the SigLIP row without its padding (</s> = 1 pads after </s>)
"$tok" -q --model "$fx/siglip" "$tmp/lines.txt" >"$tmp/text.txt" || fail "siglip text exited non-zero"
gzip -dc "$fx/siglip.ids.gz" | sed 's/\( 1\)*$//' >"$tmp/want.txt"
# a row whose content ends in </s> keeps one: compare the content only
sed 's/\( 1\)*$//' "$tmp/text.txt" >"$tmp/got.txt"
if cmp -s "$tmp/got.txt" "$tmp/want.txt"; then ok "siglip text rows"; else fail "siglip text rows differ"; fi

# --count with the special tokens, and the summary
printf 'a photo of a cat\n' | "$tok" --model "$fx/siglip" --count >"$tmp/count" 2>/dev/null
[ "$(cat "$tmp/count")" = 6 ] && ok "--count" || fail "--count gave '$(cat "$tmp/count")', want 6"

# errors: one line, exit status 1 or 2, no output
mkdir "$tmp/empty" "$tmp/bad" "$tmp/word"
echo 'not protobuf' >"$tmp/bad/spiece.model"
echo '{"model": {"type": "WordPiece", "vocab": {}}}' >"$tmp/word/tokenizer.json"
for d in bad word; do
	if printf 'x\n' | "$tok" --model "$tmp/$d" >"$tmp/out" 2>"$tmp/err"; then
		fail "--model $d succeeded"
	elif [ -s "$tmp/out" ] || [ "$(wc -l <"$tmp/err")" -ne 1 ]; then
		fail "--model $d: output or more than one line on stderr"; cat "$tmp/err"
	else
		ok "--model $d: $(cat "$tmp/err")"
	fi
done
printf 'x\n' | "$tok" --lowercase >/dev/null 2>&1
[ $? -eq 2 ] && ok "--lowercase without --model: usage error" || fail "--lowercase without --model"
# a directory without tokenizer files: the CLIP BPE rclip ships
[ "$(printf 'a photo\n' | "$tok" --model "$tmp/empty")" = "49406 320 1125 49407" ] &&
	ok "--model without tokenizer files: CLIP BPE" || fail "--model empty"

echo "tokenize-spm: $pass passed, $fails failed"
[ "$fails" -eq 0 ]

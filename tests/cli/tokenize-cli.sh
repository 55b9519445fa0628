#!/bin/sh
# tokenize-cli.sh - rclip-tokenize as a user runs it: help and version,
# usage errors (exit 2), stdin/stdout and '-', both formats and --decode
# round trips, truncation, --count/--json, -o written whole or not at all,
# bad input (exit 1, one line naming the file), -j giving the same bytes.
set -u
: "${top_builddir:=.}" "${top_srcdir:=.}"
tok="$top_builddir/tools/rclip-tokenize"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0 passes=0

ok() { passes=$((passes + 1)); }
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
# expect STATUS CMD...: run CMD, stdout to $tmp/out, stderr to $tmp/err
expect() {
	want=$1; shift
	"$@" >"$tmp/out" 2>"$tmp/err"
	got=$?
	if [ "$got" -eq "$want" ]; then ok; else
		fail "exit $got (expected $want): $*"; sed 's/^/  stderr: /' "$tmp/err"
	fi
}
same() { # same FILE TEXT
	if [ "$(cat "$1")" = "$2" ]; then ok; else fail "$3: got '$(cat "$1")', expected '$2'"; fi
}
has() { # has FILE PATTERN WHAT
	if grep -q -e "$2" "$1"; then ok; else fail "$3: no '$2' in: $(head -c 300 "$1")"; fi
}

cat_ids="49406 320 1125 539 320 2368 269 49407" # open_clip.tokenize("A photo of a CAT.")

# ---- help, version, usage errors
expect 0 "$tok" --help
for opt in --format --context-length --pad --decode --count --json --merges \
	--vocab --output --threads --quiet --verbose --help --version; do
	has "$tmp/out" -- "$opt" "--help lists $opt"
done
expect 0 "$tok" --version
has "$tmp/out" "rclip-tokenize (rclip)" "--version"
expect 2 "$tok" --no-such-option
has "$tmp/err" "Try 'rclip-tokenize --help'" "bad option hint"
expect 2 "$tok" -c abc
has "$tmp/err" "invalid value for --context-length: 'abc'" "bad number"
expect 2 "$tok" -f xml
expect 2 "$tok" -f bin -c 1
expect 2 "$tok" -c 1
expect 2 "$tok" --json
expect 2 "$tok" --vocab v.json

# ---- stdin, stdout, '-'
printf 'A photo of a CAT.\n' | expect 0 "$tok"
same "$tmp/out" "$cat_ids" "stdin to stdout"
printf 'A photo of a CAT.' | expect 0 "$tok" -
same "$tmp/out" "$cat_ids" "'-' and a last line without newline"
printf '\n\n' | expect 0 "$tok"
same "$tmp/out" "49406 49407
49406 49407" "empty lines"

# ---- bin rows and decode round trips
printf 'A photo of a CAT.\nit'"'"'s 2 dogs!\n' >"$tmp/in.txt"
expect 0 "$tok" -f bin -o "$tmp/rows.bin" "$tmp/in.txt"
size=$(wc -c <"$tmp/rows.bin" | tr -d ' ')
[ "$size" -eq 308 ] && ok || fail "2 bin rows of 77 uint16 are 308 bytes, got $size"
first=$(od -An -tu2 -N4 --endian=little "$tmp/rows.bin" | tr -s ' ' | sed 's/^ //')
same_first() { [ "$first" = "49406 320" ] && ok || fail "first bin ids: $first"; }
same_first
expect 0 "$tok" -d -f bin "$tmp/rows.bin"
same "$tmp/out" "a photo of a cat .
it 's 2 dogs !" "bin decode (open_clip's decode spaces every token)"
"$tok" "$tmp/in.txt" | expect 0 "$tok" --decode
same "$tmp/out" "a photo of a cat .
it 's 2 dogs !" "text decode"
expect 0 "$tok" -f bin --pad 7 -c 10 "$tmp/in.txt" -o "$tmp/p.bin"
last=$(od -An -tu2 -j 18 -N2 --endian=little "$tmp/p.bin" | tr -d ' ')
[ "$last" = 7 ] && ok || fail "--pad 7: last id of row 1 is $last"

# ---- truncation as open_clip: 75 content tokens and the end token
yes 'cat' | head -n 100 | tr '\n' ' ' >"$tmp/long.txt"; echo >>"$tmp/long.txt"
expect 0 "$tok" "$tmp/long.txt"
n=$(wc -w <"$tmp/out" | tr -d ' ')
[ "$n" -eq 77 ] && ok || fail "truncated row has $n ids"
has "$tmp/out" " 49407$" "truncated row ends with the end token"
expect 0 "$tok" -c 0 "$tmp/long.txt"
n=$(wc -w <"$tmp/out" | tr -d ' ')
[ "$n" -eq 102 ] && ok || fail "-c 0 keeps every token: $n ids"
expect 0 "$tok" --count "$tmp/long.txt" "$tmp/in.txt"
same "$tmp/out" "102
8
7" "--count"
has "$tmp/err" "3 lines, 117 tokens (max 102), 1 truncated at 77" "--count summary"
expect 0 "$tok" --count --json "$tmp/long.txt"
same "$tmp/out" '{"lines": 1, "tokens": 102, "max_tokens": 102, "truncated": 1, "context_length": 77, "invalid_utf8_lines": 0}' "--count --json"

# ---- -o: whole or not at all
expect 0 "$tok" -o "$tmp/ids.txt" "$tmp/in.txt"
[ -s "$tmp/ids.txt" ] && [ ! -s "$tmp/out" ] && ok || fail "-o writes the file, not stdout"
expect 1 "$tok" -o "$tmp/none.txt" "$tmp/in.txt" "$tmp/missing.txt"
has "$tmp/err" "missing.txt" "missing input named"
[ ! -e "$tmp/none.txt" ] && ok || fail "a failed run left $tmp/none.txt"
[ -z "$(ls -A "$tmp" | grep '\.tmp\.')" ] && ok || fail "a temporary file was left"
lines=$(wc -l <"$tmp/err" | tr -d ' ')
[ "$lines" -eq 1 ] && ok || fail "one stderr line for a missing input, got $lines"

# ---- bad input
printf 'caf\303 \377ok\n' | expect 0 "$tok"
has "$tmp/err" "(stdin):1: invalid UTF-8 replaced with U+FFFD" "invalid UTF-8 warned"
printf 'a 99999\n' | expect 1 "$tok" -d
has "$tmp/err" "(stdin):1: not a token id: 'a'" "decode of a word"
printf '49406 abc\n' | expect 1 "$tok" -d
has "$tmp/err" "(stdin):1: not a token id: 'abc'" "the whole bad word is shown"
printf '320 99999\n' | expect 1 "$tok" -d
has "$tmp/err" "(stdin):1: token id 99999 is out of range" "decode of a big id"
head -c 100 "$tmp/rows.bin" | expect 1 "$tok" -d -f bin
has "$tmp/err" "ends inside row 1" "truncated bin rows"
expect 1 "$tok" --merges "$tmp/nonexistent.txt" "$tmp/in.txt"
has "$tmp/err" "nonexistent.txt" "missing merges file named"
printf '#version: 0.2\nzz q\n' >"$tmp/bad-merges.txt"
expect 1 "$tok" --merges "$tmp/bad-merges.txt" "$tmp/in.txt"
has "$tmp/err" "bad-merges.txt:2:" "corrupt merges file: file and line"

# ---- binary output refused on a terminal (needs script(1))
if command -v script >/dev/null 2>&1; then
	script -qec "printf 'x\n' | $tok -f bin" /dev/null >"$tmp/tty.txt" 2>&1
	st=$?
	[ "$st" -eq 1 ] && ok || fail "bin to a terminal: exit $st"
	has "$tmp/tty.txt" "refusing to write binary data to a terminal" "tty refusal message"
fi

printf 'a<end_of_text>b\n' | "$tok" | expect 0 "$tok" -d
same "$tmp/out" "a <end_of_text>b" "an end token inside the text decodes as open_clip spells it"
expect 0 "$tok" --count -c 0 "$tmp/long.txt"
has "$tmp/err" "1 lines, 102 tokens (max 102), no truncation" "--count -c 0"

# ---- --tokenizer: open_clip's (ftfy turns the curly apostrophe into ') or
# transformers' CLIPTokenizerFast's (it keeps it)
printf 'it\342\200\231s a cat\n' >"$tmp/curly.txt"
expect 0 "$tok" "$tmp/curly.txt"
same "$tmp/out" "49406 585 568 320 2368 49407" "--tokenizer open_clip by default"
expect 0 "$tok" --tokenizer hf "$tmp/curly.txt"
same "$tmp/out" "49406 585 728 503 338 320 2368 49407" "--tokenizer hf"
printf 'x<|endoftext|>y\n' | expect 0 "$tok" --tokenizer hf
same "$tmp/out" "49406 343 49407 344 49407" "--tokenizer hf: <|endoftext|> in the text"
expect 2 "$tok" --tokenizer sentencepiece "$tmp/curly.txt"
has "$tmp/err" "expected open_clip or hf" "--tokenizer: an unknown name"

# ---- threads give the same bytes
for i in $(seq 1 3000); do echo "Line $i: a photo of $i cats, it's café time &amp; ＡＢＣ"; done >"$tmp/many.txt"
expect 0 "$tok" -j 1 -f bin -o "$tmp/j1.bin" "$tmp/many.txt"
expect 0 "$tok" -j 2 -f bin -o "$tmp/j2.bin" "$tmp/many.txt"
cmp -s "$tmp/j1.bin" "$tmp/j2.bin" && ok || fail "-j 1 and -j 2 differ"

echo "tokenize-cli: $passes passed, $fails failed"
[ "$fails" -eq 0 ]

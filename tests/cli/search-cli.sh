#!/bin/sh
# search-cli.sh - rclip-retrieve search as a user runs it: the pipeline
# `embed --text - -o - | search --gallery G.npy` on the tiny-quickgelu
# fixture (given CLIP's vocabulary by retrieve-helper), its hits checked
# against a brute force in awk over od's dump of the .npy files; the same
# bytes from --model --text (an HF directory or an open_clip export), from
# -j 1 and 2 and from --queries FILE; --ids and --jsonl; k above N; and
# every refused input: one line on stderr naming the file, exit status 1,
# no output written.
set -u
: "${top_builddir:=.}" "${top_srcdir:=.}"
rr="$top_builddir/tools/rclip-retrieve"
helper="$top_builddir/tests/cli/retrieve-helper"
ex="$top_builddir/tools/rclip-export"
fx="$top_srcdir/tests/fixtures"
tiny="$fx/clip/tiny-quickgelu" # projection 16, text vocabulary 256
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0 passes=0
. "$top_srcdir/tests/cli/testlib.sh"
# refused WHAT PATTERN CMD...: exit 1, one stderr line matching PATTERN,
# nothing on stdout
refused() {
	what=$1 pat=$2; shift 2
	expect 1 "$@"
	has "$tmp/err" "$pat" "$what"
	eq "$(wc -l <"$tmp/err" | tr -d ' ')" 1 "$what: one line on stderr"
	eq "$(wc -c <"$tmp/out" | tr -d ' ')" 0 "$what: nothing on stdout"
}
# npy ROWS COLS: an (ROWS, COLS) '<f4' .npy header as numpy writes it, on
# stdout (the data follows from the caller)
npy() {
	h="{'descr': '<f4', 'fortran_order': False, 'shape': ($1, $2), }"
	printf '\223NUMPY\001\000\166\000%-117s\n' "$h"
}
# floats FILE: the rows of an .npy as text, one row a line
floats() {
	hl=$(od -A n -t u2 -j 8 -N 2 "$1" | tr -d ' ')
	cols=$(head -c $((10 + hl)) "$1" | LC_ALL=C sed "s/.*'shape': ([0-9]*, \([0-9]*\)).*/\1/")
	od -A n -t f4 -v -j $((10 + hl)) "$1" | tr -s ' ' '\n' | grep . |
		awk -v c="$cols" '{ printf "%s%s", $0, (NR % c ? " " : "\n") }'
}

# ---- a model with CLIP's vocabulary, a gallery of captions, queries
expect 0 "$helper" clip-vocab "$tiny" "$tmp/clip"
m="$tmp/clip"
cat >"$tmp/g.txt" <<'EOF'
a red car
a cat
a small cat
a dog on the grass
a gray photo
a palette image
two dogs
EOF
printf 'a cat\na photo of two dogs\nsomething else entirely\n' >"$tmp/q.txt"
expect 0 "$rr" embed -m "$m" --text "$tmp/g.txt" -o "$tmp/g.npy" --ids "$tmp/g.ids"
expect 0 "$rr" embed -m "$m" --text "$tmp/q.txt" -o "$tmp/q.npy"

# ---- usage
expect 0 "$rr" search --help
for opt in --gallery --ids --queries --model --text --top --output --jsonl --batch \
	--threads --quiet --verbose --help --version query_index; do
	has "$tmp/out" -- "$opt" "search --help lists $opt"
done
expect 0 "$rr" search --version
has "$tmp/out" "^rclip-retrieve (rclip)" "search --version"
expect 2 "$rr" search -Q "$tmp/q.npy"
has "$tmp/err" "no gallery" "no gallery"
expect 2 "$rr" search -g "$tmp/g.npy" -Q "$tmp/q.npy" -k 0
has "$tmp/err" "\-k" "-k 0"
expect 2 "$rr" search -g "$tmp/g.npy" -Q "$tmp/q.npy" -k -3
expect 2 "$rr" search -g "$tmp/g.npy" --text "$tmp/q.txt"
has "$tmp/err" "needs --model" "--text without --model"
expect 2 "$rr" search -g "$tmp/g.npy" -m "$m" -Q "$tmp/q.npy"
expect 2 "$rr" search -g "$tmp/g.npy" -m "$m" --text "$tmp/q.txt" -Q "$tmp/q.npy"
has "$tmp/err" "exclude" "--queries and --text"
expect 2 "$rr" search -g - -Q - </dev/null
has "$tmp/err" "both be standard input" "two inputs on stdin"
expect 2 "$rr" search -g "$tmp/g.npy" -Q "$tmp/q.npy" extra
has "$tmp/err" "unexpected argument 'extra'" "an extra argument"

# ---- the pipeline, and the brute force in awk
"$rr" embed --model "$m" --text - -o - <"$tmp/q.txt" |
	"$rr" search --gallery "$tmp/g.npy" -k 3 >"$tmp/pipe.tsv" 2>"$tmp/err"
eq "$?" 0 "the pipeline"
eq "$(wc -l <"$tmp/pipe.tsv" | tr -d ' ')" 9 "3 queries x 3 hits"
if awk -F'\t' 'NF != 4 || $1 != int((NR - 1) / 3) || $2 != (NR - 1) % 3 + 1 ||
	$3 !~ /^[0-6]$/ { exit 1 }' "$tmp/pipe.tsv"; then ok; else
	fail "TSV query_index rank id score: $(head -3 "$tmp/pipe.tsv")"; fi
floats "$tmp/g.npy" >"$tmp/g.txtf"
floats "$tmp/q.npy" >"$tmp/q.txtf"
eq "$(wc -l <"$tmp/g.txtf" | tr -d ' ')" 7 "od dump of the gallery"
# every score in double, ranked by score then row: the top 3 of each query
awk 'NR == FNR { for (i = 1; i <= NF; i++) g[FNR - 1, i] = $i; n = FNR; next }
{
	for (r = 0; r < n; r++) { s[r] = 0; for (i = 1; i <= NF; i++) s[r] += $i * g[r, i]; used[r] = 0 }
	for (k = 1; k <= 3; k++) {
		b = -1
		for (r = 0; r < n; r++) if (!used[r] && (b < 0 || s[r] > s[b])) b = r
		used[b] = 1
		printf "%d\t%d\t%d\t%.6f\n", FNR - 1, k, b, s[b]
	}
}' "$tmp/g.txtf" "$tmp/q.txtf" >"$tmp/ref.tsv"
if awk -F'\t' 'NR == FNR { id[FNR] = $3; s[FNR] = $4; next }
	$3 != id[FNR] || $4 - s[FNR] > 1e-5 || s[FNR] - $4 > 1e-5 { exit 1 }' \
	"$tmp/ref.tsv" "$tmp/pipe.tsv"; then ok; else
	fail "hits differ from the brute force: $(paste "$tmp/pipe.tsv" "$tmp/ref.tsv" | head -9)"; fi
# "a cat" is gallery row 1: itself first, at cosine 1
eq "$(head -1 "$tmp/pipe.tsv" | cut -f1-3)" "$(printf '0\t1\t1')" "a caption finds itself"
if head -1 "$tmp/pipe.tsv" | awk -F'\t' '{ exit !($4 > 0.999999 && $4 < 1.000001) }'; then ok; else
	fail "self score: $(head -1 "$tmp/pipe.tsv")"; fi

# ---- the same bytes: --queries FILE, --model --text, -j 1 and 2, -o
expect 0 "$rr" search --gallery "$tmp/g.npy" -Q "$tmp/q.npy" -k 3
same "$tmp/out" "$tmp/pipe.tsv" "--queries FILE and the pipe"
expect 0 "$rr" search -g "$tmp/g.npy" -m "$m" --text "$tmp/q.txt" -k 3
same "$tmp/out" "$tmp/pipe.tsv" "--model --text and the pipe"
expect 0 "$rr" search -g "$tmp/g.npy" -m "$m" --text - -k 3 <"$tmp/q.txt"
same "$tmp/out" "$tmp/pipe.tsv" "--text - and the pipe"
expect 0 "$ex" -q --from "$m" --to open_clip -o "$tmp/clip.oc"
expect 0 "$rr" search -g "$tmp/g.npy" -m "$tmp/clip.oc" --text "$tmp/q.txt" -k 3
same "$tmp/out" "$tmp/pipe.tsv" "--model an open_clip export of the model"
expect 0 "$rr" search -j 1 -g "$tmp/g.npy" -Q "$tmp/q.npy" -k 3
same "$tmp/out" "$tmp/pipe.tsv" "-j 1"
expect 0 "$rr" search -j 2 -g "$tmp/g.npy" -Q "$tmp/q.npy" -k 3 -o "$tmp/o.tsv"
same "$tmp/o.tsv" "$tmp/pipe.tsv" "-j 2 -o FILE"
eq "$(wc -c <"$tmp/out" | tr -d ' ')" 0 "-o leaves stdout empty"

# ---- k above N: every row once, in order
expect 0 "$rr" search -g "$tmp/g.npy" -Q "$tmp/q.npy" -k 100
eq "$(wc -l <"$tmp/out" | tr -d ' ')" 21 "k > N gives N hits a query"
eq "$(awk -F'\t' '$1 == 2 { print $3 }' "$tmp/out" | sort -n | tr '\n' ' ')" "0 1 2 3 4 5 6 " \
	"every row once"
if awk -F'\t' 'NR > 1 && $1 == p && $4 > s + 0 { exit 1 } { p = $1; s = $4 }' "$tmp/out"; then ok; else
	fail "scores not descending"; fi
expect 0 "$rr" search -g "$tmp/g.npy" -Q "$tmp/q.npy" -k 1
same "$tmp/out" "$(awk -F'\t' '$2 == 1' "$tmp/pipe.tsv" >"$tmp/top1"; echo "$tmp/top1")" "-k 1"

# ---- --ids and --jsonl
printf 'car.jpg\ncat.jpg\nsay "hi"\nback\\\\slash\ntab\\there\ngray.png\ndogs.jpg\n' >"$tmp/ids"
expect 0 "$rr" search -g "$tmp/g.npy" -Q "$tmp/q.npy" -k 2 --ids "$tmp/ids"
eq "$(head -1 "$tmp/out" | cut -f3)" "cat.jpg" "an id from --ids"
expect 0 "$rr" search -g "$tmp/g.npy" -Q "$tmp/q.npy" -k 7 --ids "$tmp/ids"
has "$tmp/out" "$(printf '\ttab\\\\there\t')" "TSV ids as in the file"
expect 0 "$rr" search -g "$tmp/g.npy" -Q "$tmp/q.npy" -k 7 --ids "$tmp/ids" --jsonl
eq "$(wc -l <"$tmp/out" | tr -d ' ')" 3 "one JSON line a query"
has "$tmp/out" '^{"query_index": 0, "ids": \["cat.jpg", ' "JSONL shape"
has "$tmp/out" '"say \\"hi\\""' "JSON escapes a quote"
has "$tmp/out" '"back\\\\slash"' "embed's \\\\ read back"
has "$tmp/out" '"tab\\there"' "embed's \\t read back"
has "$tmp/out" '"scores": \[1, \|"scores": \[0.99999' "scores"
expect 0 "$rr" search -g "$tmp/g.npy" -Q "$tmp/q.npy" -k 2 --jsonl
has "$tmp/out" '"ids": \[1, ' "row numbers as JSON numbers"
expect 0 "$rr" search -g "$tmp/g.npy" -Q "$tmp/q.npy" -k 2 --ids "$tmp/g.ids"
eq "$(head -1 "$tmp/out" | cut -f3)" "2" "embed's --ids (line numbers)"

# ---- no queries: no output, success
: >"$tmp/empty.txt"
expect 0 "$rr" embed -m "$m" --text "$tmp/empty.txt" -o "$tmp/e.npy"
expect 0 "$rr" search -g "$tmp/g.npy" -Q "$tmp/e.npy"
eq "$(wc -c <"$tmp/out" | tr -d ' ')" 0 "no queries, no hits"

# ---- refused inputs
{ npy 2 4; head -c 32 /dev/zero; } >"$tmp/w4.npy"
refused "queries of another width" "q.npy: queries of 16 values, the rows of .*w4.npy have 4" \
	"$rr" search -g "$tmp/w4.npy" -Q "$tmp/q.npy"
refused "a model of another width" "clip: the model's embeddings have 16 values, the rows of .*w4.npy have 4" \
	"$rr" search -g "$tmp/w4.npy" -m "$m" --text "$tmp/q.txt"
{ npy 3 4; head -c 16 /dev/zero; printf '\0\0\0\0\0\0\300\177\0\0\0\0\0\0\0\0'; head -c 16 /dev/zero; } \
	>"$tmp/nan.npy"
refused "a NaN gallery row" "nan.npy: gallery row 1 is not finite" \
	"$rr" search -g "$tmp/nan.npy" -Q "$tmp/w4.npy"
{ npy 2 4; head -c 28 /dev/zero; printf '\0\0\200\177'; } >"$tmp/inf.npy"
refused "an infinite query row" "inf.npy: query row 1 is not finite" \
	"$rr" search -g "$tmp/w4.npy" -Q "$tmp/inf.npy"
head -5 "$tmp/ids" >"$tmp/ids5"
refused "an ids file of 5 lines" "ids5: 5 ids for the 7 rows of .*g.npy" \
	"$rr" search -g "$tmp/g.npy" -Q "$tmp/q.npy" --ids "$tmp/ids5"
{ cat "$tmp/ids"; echo extra; } >"$tmp/ids8"
refused "an ids file of 8 lines" "ids8: 8 ids for the 7 rows" \
	"$rr" search -g "$tmp/g.npy" -Q "$tmp/q.npy" --ids "$tmp/ids8"
{ npy 0 16; } >"$tmp/g0.npy"
refused "an empty gallery" "g0.npy: an empty gallery" "$rr" search -g "$tmp/g0.npy" -Q "$tmp/q.npy"
refused "a missing gallery" "nothere.npy" "$rr" search -g "$tmp/nothere.npy" -Q "$tmp/q.npy"
refused "not an .npy" "g.txt: not a NumPy .npy file" "$rr" search -g "$tmp/g.txt" -Q "$tmp/q.npy"
head -c 200 "$tmp/q.npy" >"$tmp/cut.npy"
refused "truncated queries on stdin" "search: -: truncated" \
	"$rr" search -g "$tmp/g.npy" <"$tmp/cut.npy"
refused "a vocabulary of 256" "q.txt:1: token id .* outside the model's vocabulary of 256" \
	"$rr" search -g "$tmp/g.npy" -m "$tiny" --text "$tmp/q.txt"
# nothing half-written: an old output stays, a new one is not created
echo old >"$tmp/keep.tsv"
refused "-o on failure" "not finite" "$rr" search -g "$tmp/nan.npy" -Q "$tmp/w4.npy" -o "$tmp/keep.tsv"
eq "$(cat "$tmp/keep.tsv")" "old" "a failed search keeps the old output"
refused "-o on failure (new)" "not finite" "$rr" search -g "$tmp/nan.npy" -Q "$tmp/w4.npy" -o "$tmp/new.tsv"
absent "$tmp/new.tsv" "a failed search creates no output"
expect 0 "$rr" search -g "$tmp/w4.npy" -Q "$tmp/w4.npy" -k 1 -o "$tmp/keep.tsv"
eq "$(cat "$tmp/keep.tsv")" "$(printf '0\t1\t0\t0\n1\t1\t0\t0')" "zero rows: all ties, the lowest row"

echo "search-cli: $passes passed, $fails failed"
[ "$fails" -eq 0 ]

#!/bin/sh
# eval-cli.sh - rclip-eval as a user runs it, on the reference fixtures of
# tests/fixtures/eval (the counts themselves are checked against the
# generator's in tests/unit/test_eval): usage errors; every task's table;
# a missing image skipped and counted, or failing the run with --strict;
# malformed sets, labels and templates named by file:line; a model that
# does not fit the data; --errors, --bootstrap, --compare, -o, -j; shards
# giving the numbers of the manifest.
set -u
: "${top_builddir:=.}" "${top_srcdir:=.}"
ev="$top_builddir/tools/rclip-eval"
sh_="$top_builddir/tools/rclip-shard"
fx="$top_srcdir/tests/fixtures"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0 passes=0
. "$top_srcdir/tests/cli/testlib.sh"

# the fixtures, copied: relative image paths resolve against the manifest
d="$tmp/d"
cp -r "$fx/eval" "$d"
m="$d/model"
zs="--classes $d/classes.txt --templates $d/templates.txt"

# ---- usage
expect 0 "$ev" --help
has "$tmp/out" "rclip-eval sets --model" "--help"
expect 0 "$ev" --version
expect 2 "$ev"
expect 2 "$ev" frobnicate -m "$m" "$d/sets.jsonl"
has "$tmp/err" "unknown task 'frobnicate'" "unknown task"
expect 2 "$ev" sets "$d/sets.jsonl"
has "$tmp/err" "no model" "no model"
expect 2 "$ev" sets -m "$m"
expect 2 "$ev" zeroshot -m "$m" "$d/zeroshot.jsonl"
has "$tmp/err" "needs --classes" "zeroshot without classes"
expect 2 "$ev" retrieval -m "$m" --errors "$tmp/e" "$d/retrieval.jsonl"
expect 2 "$ev" sets -m "$m" --bootstrap 0 "$d/sets.jsonl"
expect 2 "$ev" sets -m "$m" "$d/sets.jsonl" "$d/sets.jsonl"

# ---- --device: an unknown name is a usage error; a device this build
# cannot use fails at once, in one line and a hint; cpu is the default's
expect 2 "$ev" sets -m "$m" --device gpu "$d/sets.jsonl"
has "$tmp/err" "^rclip-eval: --device: 'gpu' (expected cpu, cuda, cuda:N or auto)" "--device gpu"
expect 2 "$ev" sets -m "$m" --device cuda:x "$d/sets.jsonl"
expect 1 "$ev" sets -m "$m" --device cuda:99 -o "$tmp/dev.txt" "$d/sets.jsonl"
has "$tmp/err" "^rclip-eval: cuda:99: \(this rclip is built without the CUDA backend\|no such GPU\|no GPU (or no driver) on this machine\)$" "--device cuda:99"
absent "$tmp/dev.txt" "--device cuda:99 writes nothing"
expect 0 "$ev" sets -m "$m" --device cpu "$d/sets.jsonl"
cp "$tmp/out" "$tmp/sets.cpu"

# ---- the tasks: a table on stdout, the skipped image counted on stderr
expect 0 "$ev" sets -m "$m" "$d/sets.jsonl"
same "$tmp/out" "$tmp/sets.cpu" "--device cpu is what auto gives without a GPU"
has "$tmp/out" "^overall  *[0-9][0-9]*  *[0-9][0-9]*  *[0-9.]*$" "sets table"
has "$tmp/out" "^skipped: 1 unreadable image, 1 set" "sets: skipped count"
has "$tmp/err" "sets.jsonl:6: cannot read image .*missing.png" "sets: missing image named"
cp "$tmp/out" "$tmp/sets.table"
expect 0 "$ev" rclip-retrieval -m "$m" "$d/sets.jsonl"
has "$tmp/out" "^I2T R@10 " "rclip-retrieval table"
has "$tmp/out" "^T2I median rank " "rclip-retrieval ranks"
expect 0 "$ev" retrieval -m "$m" "$d/retrieval.jsonl"
has "$tmp/out" "^T2I R@5 " "retrieval table"
expect 0 "$ev" zeroshot -m "$m" $zs "$d/zeroshot.jsonl"
has "$tmp/out" "^top-5 " "zeroshot table"
has "$tmp/out" "^mean per-class recall " "zeroshot recall"

# ---- --strict: the missing image fails the run, nothing is written
expect 1 "$ev" sets --strict -m "$m" -o "$tmp/strict.out" "$d/sets.jsonl"
has "$tmp/err" "sets.jsonl:6: cannot read image" "strict: named"
absent "$tmp/strict.out" "strict: output"
expect 1 "$ev" sets --strict -m "$m" "$d/sets.jsonl"
empty "$tmp/out" "strict: stdout"

# ---- malformed data: one line naming file:line and the reason
head -n 2 "$d/sets.jsonl" >"$d/bad3.jsonl"
echo '{"id": "x", "image_path": "img/00.png", "sets": [{"tag": "v1", "gt": "a", "neg": ["b", "c", "d"]}]}' >>"$d/bad3.jsonl"
# skipped, named and counted by default, as the official script drops it
expect 0 "$ev" sets -m "$m" --json -o "$tmp/bad.out" "$d/bad3.jsonl"
has "$tmp/err" "bad3.jsonl:3: set 0: 3 negatives, expected 4 (skipped)" "3 negatives: warned"
eq "$(wc -l <"$tmp/err")" 1 "3 negatives: one line"
has "$tmp/bad.out" '"malformed_sets": 1' "3 negatives: counted"
has "$tmp/bad.out" '"tokenizer": "hf"' "a Hugging Face model: its tokenizer"
expect 0 "$ev" sets -m "$m" "$d/bad3.jsonl"
has "$tmp/out" "skipped: 0 malformed records, 1 malformed set" "3 negatives: in the table"
# --strict fails on it, writing nothing
expect 1 "$ev" sets -m "$m" --strict -o "$tmp/bad.out2" "$d/bad3.jsonl"
has "$tmp/err" "bad3.jsonl:3: set 0: 3 negatives, expected 4" "strict: 3 negatives"
eq "$(wc -l <"$tmp/err")" 1 "strict: one line"
absent "$tmp/bad.out2" "strict: 3 negatives: output"
# --negatives any scores it; --negatives 3 skips the 4-negative ones
expect 0 "$ev" sets -m "$m" --negatives any --json "$d/bad3.jsonl"
has "$tmp/out" '"malformed_sets": 0' "--negatives any"
has "$tmp/out" '"id": "x#0"' "--negatives any: the set is scored"
expect 0 "$ev" sets -m "$m" --negatives 3 --json "$d/bad3.jsonl"
has "$tmp/out" '"malformed_sets": 3' "--negatives 3: the 3 sets of 4 skipped"
expect 2 "$ev" sets -m "$m" --negatives 0 "$d/bad3.jsonl"
expect 2 "$ev" sets -m "$m" --tokenizer spm "$d/bad3.jsonl"
has "$tmp/err" "expected hf, open_clip or auto" "--tokenizer: an unknown name"
expect 2 "$ev" winoground -m "$m" "$d/x.list"
has "$tmp/err" "winoground reads its examples.jsonl" "winoground: no shards"
expect 2 "$ev" retrieval -m "$m" --format valse "$d/bad3.jsonl"
expect 2 "$ev" sets -m "$m" --format imagenet "$d/bad3.jsonl"
# an {"error": ...} row, a line that is not JSON, a set without a tag
{ head -n 2 "$d/sets.jsonl"
  echo '{"id": "e", "error": "rate limited"}'
  echo '{"id": "n", "image_path": "img/00.png", "sets": [{"tag": "v1", "gt": "a", "neg": ["b", "c", "d", "e"]}'
  echo '{"id": "t", "image_path": "img/00.png", "sets": [{"gt": "a", "neg": ["b", "c", "d", "e"]}, {"tag": "v2", "gt": "a", "neg": ["b", "c", "d", "e"]}]}'
  echo '{"image_path": "img/01.png", "sets": [{"tag": "v2", "gt": "no id", "neg": ["b", "c", "d", "e"]}]}'
} >"$d/rows.jsonl"
expect 0 "$ev" sets -m "$m" --json "$d/rows.jsonl"
has "$tmp/err" 'rows.jsonl:3: an "error" row, no sets (skipped)' "error row"
has "$tmp/err" "rows.jsonl:4: not JSON" "not JSON"
has "$tmp/err" "rows.jsonl:5: set 0: no tag string (skipped)" "no tag"
has "$tmp/out" '"malformed_records": 2' "rows: records counted"
has "$tmp/out" '"malformed_sets": 1' "rows: sets counted"
has "$tmp/out" '"id": "t#1"' "rows: the good set of a record kept"
has "$tmp/out" '"id": "img/01.png#0"' "rows: a record without id kept, named by its image"
echo '{"id": "y", "image_path": "img/00.png", "sets": [{"tag": "v1", "gt": " ", "neg": ["b", "c", "d", "e"]}]}' >"$d/empty.jsonl"
expect 1 "$ev" rclip-retrieval -m "$m" "$d/empty.jsonl"
has "$tmp/err" "empty.jsonl:1: set 0: gt: empty or whitespace only" "empty caption"
has "$tmp/err" "no items" "empty caption: nothing left"
expect 1 "$ev" rclip-retrieval --strict -m "$m" "$d/empty.jsonl"
has "$tmp/err" "empty.jsonl:1: set 0: gt: empty" "strict: empty caption"
printf 'a photo of {}\nno placeholder\n' >"$d/badt.txt"
expect 1 "$ev" zeroshot -m "$m" --classes "$d/classes.txt" --templates "$d/badt.txt" "$d/zeroshot.jsonl"
has "$tmp/err" "badt.txt:2: no {} in the template" "template without {}"
{ head -n 3 "$d/zeroshot.jsonl"; echo '{"image_path": "img/00.png", "label": "unicorn"}'; } >"$d/badl.jsonl"
expect 1 "$ev" zeroshot -m "$m" $zs "$d/badl.jsonl"
has "$tmp/err" "badl.jsonl:4: label is not one of the classes" "unknown label"
echo '{"image_path": "img/00.png", "label": 99}' >"$d/badi.jsonl"
expect 1 "$ev" zeroshot -m "$m" $zs "$d/badi.jsonl"
has "$tmp/err" "badi.jsonl:1: label index out of range" "label index"

# ---- a model that does not fit: vocabulary 256, image 64
expect 1 "$ev" sets -m "$fx/clip/tiny-img64" "$d/sets.jsonl"
has "$tmp/err" "sets.jsonl:1: .*outside the model's vocabulary of 256" "vocabulary"

# ---- --errors: one JSON line per failed set, written whole
expect 0 "$ev" sets -q -m "$m" --errors "$tmp/errors.jsonl" "$d/sets.jsonl"
set -- $(grep '^overall' "$tmp/out")
eq "$(wc -l <"$tmp/errors.jsonl")" $(($3 - $2)) "--errors: failed sets"
has "$tmp/errors.jsonl" '^{"id":"item[0-9]*","image_path":"img/[0-9]*.png","set":[01],"tag":"v[123]","gt":"' "--errors lines"
expect 1 "$ev" sets --strict -m "$m" --errors "$tmp/errors2.jsonl" "$d/sets.jsonl"
absent "$tmp/errors2.jsonl" "--errors on failure"

# ---- --json, -j, -o, --bootstrap
expect 0 "$ev" sets -q -j 1 --json -m "$m" "$d/sets.jsonl"
cp "$tmp/out" "$tmp/a.json"
has "$tmp/a.json" '"task": "sets"' "--json task"
has "$tmp/a.json" '"id": "item00#0"' "--json items"
expect 0 "$ev" sets -q -j 2 --json -m "$m" -b 3 -o "$tmp/b.json" "$d/sets.jsonl"
empty "$tmp/out" "-o: stdout"
# the same report but for the timing block
sed '/"timing"/,/}/d' "$tmp/a.json" >"$tmp/a.notime"
sed '/"timing"/,/}/d' "$tmp/b.json" >"$tmp/b.notime"
has "$tmp/a.json" '"images_per_second"' "--json timing"
same "$tmp/a.notime" "$tmp/b.notime" "-j 1 and -j 2, batch 32 and 3"
expect 0 "$ev" sets -q --bootstrap 300 --seed 5 -m "$m" "$d/sets.jsonl"
has "$tmp/out" "95% CI" "--bootstrap column"
has "$tmp/out" "^overall .*\[ *[0-9.]*, *[0-9.]*\]$" "--bootstrap interval"
cp "$tmp/out" "$tmp/boot1"
expect 0 "$ev" sets -q --bootstrap 300 --seed 5 -m "$m" "$d/sets.jsonl"
same "$tmp/boot1" "$tmp/out" "--bootstrap: the same seed, the same intervals"

# ---- --compare: against itself, then against a report with 3 items flipped
expect 0 "$ev" sets -q -m "$m" --compare "$tmp/a.json" "$d/sets.jsonl"
has "$tmp/out" "only this run 0, only the other 0" "compare with itself"
has "$tmp/out" "exact p = 1," "compare with itself: p"
# the first three correct items become wrong in the other run: b = 3, c = 0,
# exact p = 2 * 0.5^3
awk '/"correct": true/ && n < 3 { sub(/"correct": true/, "\"correct\": false"); n++ } { print }' \
	"$tmp/a.json" >"$tmp/flip.json"
expect 0 "$ev" sets -q -m "$m" --json --compare "$tmp/flip.json" "$d/sets.jsonl"
has "$tmp/out" '"only_this": 3' "compare: b"
has "$tmp/out" '"only_other": 0' "compare: c"
has "$tmp/out" '"p_exact": 0.25' "compare: exact p"
grep -v '"id": "item00#0"' "$tmp/a.json" >"$tmp/less.json"
expect 1 "$ev" sets -q -m "$m" --compare "$tmp/less.json" "$d/sets.jsonl"
expect 0 "$ev" zeroshot -q -m "$m" $zs --json -o "$tmp/z.json" "$d/zeroshot.jsonl"
expect 1 "$ev" sets -q -m "$m" --compare "$tmp/z.json" "$d/sets.jsonl"
has "$tmp/err" "not a --json report of sets" "compare: another task"

# ---- shards: raw pixels at the model's size give the manifest's numbers
if [ -x "$sh_" ]; then
	expect 0 "$sh_" -q --store raw -s 32 -o "$tmp/sh" "$d/sets.jsonl"
	expect 0 "$ev" sets -q -m "$m" "$tmp/sh.list"
	grep -v '^skipped' "$tmp/sets.table" >"$tmp/sets.noskip"
	same "$tmp/out" "$tmp/sets.noskip" "sets from shards"
	expect 0 "$sh_" -q --store jpeg -s 64 -o "$tmp/sh64" "$d/sets.jsonl"
	expect 1 "$ev" sets -q -m "$m" "$tmp/sh64.list"
	has "$tmp/err" "images are 64x64 CLIP crops, the model takes 32x32 CLIP crops" "shard image size"
	expect 1 "$ev" retrieval -q -m "$m" "$tmp/sh.list"
	has "$tmp/err" "a sets shard, retrieval needs descriptive records" "shard schema"
fi

echo "eval-cli: $passes passed, $fails failed"
[ "$fails" -eq 0 ]

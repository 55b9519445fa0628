#!/bin/sh
# synth-cli.sh - rclip-synth as a user runs it: usage errors; the same seed
# gives the same bytes, another seed other bytes; every manifest passes
# rclip-shard --strict with no caption cut; the splits share no image and
# cover all; families of scenes share their kind and objects; every choice
# set has four distinct negatives other than the true caption; the test
# split's combinations of kind and objects never occur in the train split;
# the fair wording uses only training's words and none of its captions, the
# hard wording's sentence forms never occur in training; pixels do not
# depend on the wording; outputs are never mixed.
set -u
: "${top_builddir:=.}" "${top_srcdir:=.}"
syn="$top_builddir/tools/rclip-synth"
shard="$top_builddir/tools/rclip-shard"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0 passes=0
. "$top_srcdir/tests/cli/testlib.sh"
# the checksum of every file of a tree, names included
tree_sum() { (cd "$1" && find . -type f | LC_ALL=C sort | xargs cksum) | cksum; }
lines() { wc -l <"$1" | tr -d ' '; }
paths() { sed 's/.*"image_path": "\([^"]*\)".*/\1/' "$1" | LC_ALL=C sort; }

# ---- help, usage errors
expect 0 "$syn" --help
for opt in --seed --count --size --family --test-frac --quality --output --force --quiet \
	--verbose --help --version; do
	has "$tmp/out" -- "$opt" "--help lists $opt"
done
expect 0 "$syn" --version
expect 2 "$syn"
has "$tmp/err" "no output" "no -o"
for bad in "--size 63" "--size 129" "-n 0" "-n x" "--test-frac 1.5" "--test-frac -0.1" \
	"--test-frac x" "--seed -1" "--seed 1x" "--quality 0" "--family 0" "--family 17" \
	"--bogus"; do
	# shellcheck disable=SC2086
	expect 2 "$syn" $bad -o "$tmp/never"
done
expect 2 "$syn" -o "$tmp/never" extra
[ ! -e "$tmp/never" ] && ok || fail "a usage error wrote $tmp/never"

# ---- a world, twice with the same seed, once with another
expect 0 "$syn" --seed 5 -n 60 --test-frac 0.2 -o "$tmp/a"
has "$tmp/err" "60 scenes of 64x64" "summary"
has "$tmp/err" "^test " "summary table"
expect 0 "$syn" -q --seed 5 -n 60 --test-frac 0.2 -o "$tmp/b"
eq "$(cat "$tmp/err")" "" "-q prints nothing"
eq "$(tree_sum "$tmp/a")" "$(tree_sum "$tmp/b")" "same seed, same bytes"
expect 0 "$syn" -q --seed 6 -n 60 --test-frac 0.2 -o "$tmp/c"
[ "$(tree_sum "$tmp/a")" != "$(tree_sum "$tmp/c")" ] && ok || fail "another seed, same bytes"
n_differ=0
for f in "$tmp"/a/images/*.jpg; do
	cmp -s "$f" "$tmp/c/images/${f##*/}" || n_differ=$((n_differ + 1))
done
eq "$n_differ" 60 "another seed changes every image"
ls "$tmp"/a/images/*.jpg | wc -l | tr -d ' ' >"$tmp/n"
eq "$(cat "$tmp/n")" 60 "60 images"

# ---- the splits: 15 families of 4, 3 a category, of which round(3 × 0.2)
# = 1 is test: 20 test scenes
for m in desc lite pro sets; do
	eq "$(lines "$tmp/a/$m-train.jsonl")" 40 "$m-train records"
	eq "$(lines "$tmp/a/$m-test.jsonl")" 20 "$m-test records"
	paths "$tmp/a/$m-train.jsonl" >"$tmp/$m.train"
	paths "$tmp/a/$m-test.jsonl" >"$tmp/$m.test"
	eq "$(LC_ALL=C comm -12 "$tmp/$m.train" "$tmp/$m.test" | wc -l | tr -d ' ')" 0 \
		"$m: train and test share no image"
	cmp -s "$tmp/$m.train" "$tmp/desc.train" && ok || fail "$m-train: other images than desc-train"
done
(cd "$tmp/a" && ls images/*.jpg) | LC_ALL=C sort >"$tmp/all"
LC_ALL=C sort "$tmp/desc.train" "$tmp/desc.test" | cmp -s - "$tmp/all" && ok ||
	fail "the splits do not cover the images"
eq "$(grep -c . "$tmp/a/scenes.tsv")" 61 "scenes.tsv: a header and a line a scene"
for w in fair seen hard; do
	eq "$(lines "$tmp/a/sets-test-$w.jsonl")" 20 "sets-test-$w records"
done
same "$tmp/a/sets-test.jsonl" "$tmp/a/sets-test-fair.jsonl" "sets-test is the fair wording"
# a family: 4 consecutive scenes, one split, one category, one family kind
# (left-right and above-below are one, as are reach, look and carry)
bad=$(awk -F '\t' 'NR > 1 { k = $5; sub(/above-below/, "left-right", k)
		if (k == "look" || k == "carry") k = "reach"
		if ($3 != int((NR - 2) / 4)) { print "family " $3 " at line " NR; next }
		f = $3 SUBSEP $2 SUBSEP $4 SUBSEP k
		if (($3 in fam) && fam[$3] != f) print "family " $3 " mixed at " $1
		fam[$3] = f }' "$tmp/a/scenes.tsv")
eq "$bad" "" "families"

# ---- every manifest passes rclip-shard --strict, no caption cut
for f in "$tmp"/a/*.jsonl; do
	b=${f##*/}
	expect 0 "$shard" --strict -s 64 -j 1 -o "$tmp/shard-${b%.jsonl}" "$f"
	has "$tmp/err" " 0 skipped" "$b: nothing skipped"
	has "$tmp/err" " 0 captions truncated" "$b: no caption cut"
done

# ---- choice sets: four negatives, distinct, none equal to the true caption
expect 0 "$syn" -q --seed 9 -n 400 -s 64 --test-frac 0.5 --test-phrasings hard -o "$tmp/big"
for s in train test; do
	f="$tmp/big/sets-$s.jsonl"
	sed -n 's/.*"tag": "\([SAHTP]\)", "gt": "\([^"]*\)", "neg": \["\([^"]*\)", "\([^"]*\)", "\([^"]*\)", "\([^"]*\)"\]}\]}$/\1|\2|\3|\4|\5|\6/p' \
		"$f" >"$tmp/sets"
	eq "$(lines "$tmp/sets")" "$(lines "$f")" "sets-$s: every record read"
	bad=$(awk -F'|' '{ for (i = 2; i <= 6; i++) for (j = i + 1; j <= 6; j++)
		if ($i == $j || $i == "") { print NR; next } }' "$tmp/sets" | wc -l | tr -d ' ')
	eq "$bad" 0 "sets-$s: sets with a repeated or empty caption"
	eq "$(cut -d'|' -f1 "$tmp/sets" | LC_ALL=C sort -u | tr -d '\n')" "AHPST" "sets-$s: every tag"
done

# ---- the test split's combinations never occur in training: a family's
# combination is its family kind and the coloured objects its members'
# reasoning captions name (rclip-synth hashes the same from its own state)
combos() { # MANIFEST SPLIT SETS: family kind and named objects, a line a family
	tail -n +2 "$tmp/big/scenes.tsv" | awk -F '\t' -v s="$2" '$2 == s {
		k = $5; sub(/above-below/, "left-right", k); if (k == "look" || k == "carry") k = "reach"
		print $3 "|" k }' >"$tmp/kinds"
	# the reasoning captions and the choice set of each scene, on one line
	sed 's/"image_path": "[^"]*", "tb": \[[^]]*\]//' "$1" | paste -d ' ' - "$3" |
	while IFS= read -r line; do
		printf '%s\n' "$line" | grep -o -E \
			'(red|green|blue|yellow|purple|orange|black|pink) [a-z]+' | LC_ALL=C sort -u |
			tr '\n' ','
		echo
	done >"$tmp/named"
	# the union over a family's members
	paste -d '|' "$tmp/kinds" "$tmp/named" | awk -F '|' '{ key[$1] = $2
		n = split($3, o, ","); for (i = 1; i <= n; i++) if (o[i] != "") has[$1, o[i]] = 1 }
		END { for (f in key) { s = ""
			for (c in has) { split(c, p, SUBSEP); if (p[1] == f) s = s p[2] "," }
			print f "|" key[f] "|" s } }' | while IFS='|' read -r f k objs; do
		printf '%s|%s\n' "$k" "$(printf '%s' "$objs" | tr ',' '\n' | LC_ALL=C sort | tr '\n' ',')"
	done
}
combos "$tmp/big/lite-train.jsonl" train "$tmp/big/sets-train.jsonl" | LC_ALL=C sort -u \
	>"$tmp/combos.train"
combos "$tmp/big/lite-test.jsonl" test "$tmp/big/sets-test.jsonl" | LC_ALL=C sort -u \
	>"$tmp/combos.test"
[ "$(lines "$tmp/combos.test")" -gt 10 ] && ok || fail "too few test combinations"
eq "$(LC_ALL=C comm -12 "$tmp/combos.train" "$tmp/combos.test" | head -3 | tr '\n' ';')" "" \
	"test combinations seen in train"
has "$tmp/big/synth.json" '"test_combinations_in_train": 0,' "synth.json: no combination leaked"

# ---- the fair wording: only words training's captions use, and none of
# its captions (normalised)
words() { sed -e 's/"id": "[0-9]*"//' -e 's/"[a-z_]*": //g' -e 's/images\/[0-9]*\.jpg//g' "$@" |
	tr -c 'a-z0-9\n' ' ' |
	tr ' ' '\n' | sed '/^$/d' | LC_ALL=C sort -u; }
texts() { sed -e 's/^{"id[^[]*\[{"tag": "[A-Z]", //' -e 's/^{"image_path": "[^"]*", //' \
	-e 's/"[a-z_]*": //g' -e 's/[]{}[]//g' "$@" | sed 's/", "/\n/g' |
	sed -e 's/^ *"//' -e 's/"[^"]*$//' -e '/^$/d' | LC_ALL=C sort -u; }
# a world large enough that training's captions use every word of the
# templates (a small one may not draw some template at all: the generator
# counts such words, as synth.json shows)
expect 0 "$syn" -q --seed 9 -n 1500 -s 64 -o "$tmp/fair"
train="$tmp/fair/desc-train.jsonl $tmp/fair/lite-train.jsonl $tmp/fair/pro-train.jsonl"
# shellcheck disable=SC2086
words $train >"$tmp/words.train"
# shellcheck disable=SC2086
texts $train >"$tmp/texts.train"
words "$tmp/fair/sets-test.jsonl" "$tmp/fair/desc-test.jsonl" "$tmp/fair/lite-test.jsonl" \
	"$tmp/fair/pro-test.jsonl" >"$tmp/words.fair"
eq "$(LC_ALL=C comm -13 "$tmp/words.train" "$tmp/words.fair" | head -5 | tr '\n' ' ')" "" \
	"fair wording: words training never uses"
texts "$tmp/fair/sets-test.jsonl" "$tmp/fair/lite-test.jsonl" "$tmp/fair/desc-test.jsonl" \
	>"$tmp/texts.fair"
[ "$(lines "$tmp/texts.fair")" -gt 500 ] && ok || fail "too few fair texts"
eq "$(LC_ALL=C comm -12 "$tmp/texts.train" "$tmp/texts.fair" | head -3 | tr '\n' ';')" "" \
	"fair wording: test captions in training"
has "$tmp/fair/synth.json" '"fair": {"captions_in_train": 0, "unseen_words": 0}' \
	"synth.json: the fair wording's counts"
words "$tmp/fair/sets-test-hard.jsonl" >"$tmp/words.hard"
[ "$(LC_ALL=C comm -13 "$tmp/words.train" "$tmp/words.hard" | wc -l)" -gt 10 ] && ok ||
	fail "hard wording: no word of its own"

# ---- the hard wording's sentence forms never occur in the train split:
# with the objects named X and the frames of both splits taken off, no
# reasoning caption of the test split is a train caption
forms() {
	sed -e 's/^{"id[^[]*\[{"tag": "[A-Z]", //' -e 's/^{"image_path": "[^"]*", "tb": \[[^]]*\], //' \
		-e 's/"[a-z_]*": //g' -e 's/[]{}[]//g' "$@" |
	sed 's/", "/\n/g' | sed -e 's/^ *"//' -e 's/"$//' -e '/^$/d' \
		-e 's/^in this picture //' -e 's/^we can see that //' \
		-e 's/^notice that //' -e 's/^as the image shows, //' -e 's/^ *//' \
		-e 's/\(red\|green\|blue\|yellow\|purple\|orange\|black\|pink\|grey\) [a-z]*/X/g' |
	LC_ALL=C sort -u
}
forms "$tmp/big/sets-train.jsonl" "$tmp/big/lite-train.jsonl" >"$tmp/forms.train"
forms "$tmp/big/sets-test.jsonl" "$tmp/big/lite-test.jsonl" >"$tmp/forms.test"
[ "$(lines "$tmp/forms.test")" -gt 50 ] && ok || fail "too few test forms: $(lines "$tmp/forms.test")"
LC_ALL=C comm -12 "$tmp/forms.train" "$tmp/forms.test" >"$tmp/shared"
eq "$(lines "$tmp/shared")" 0 "test forms seen in train: $(head -3 "$tmp/shared" | tr '\n' ';')"

# ---- --test-frac 0: no test scene (the split decides the combinations,
# so it changes the scenes too)
expect 0 "$syn" -q --seed 5 -n 60 --test-frac 0 -o "$tmp/d"
eq "$(lines "$tmp/d/sets-test.jsonl")" 0 "--test-frac 0: no test scene"
cmp -s "$tmp/a/desc-train.jsonl" "$tmp/d/desc-train.jsonl" && fail "manifests ignore the split" || ok

# ---- outputs: an earlier output is kept unless --force; other directories never
expect 1 "$syn" -q -n 5 -o "$tmp/a"
has "$tmp/err" "earlier rclip-synth output" "an earlier output is named"
has "$tmp/err" "hint: --force" "with a hint"
eq "$(lines "$tmp/a/desc-train.jsonl")" 40 "the earlier output is untouched"
expect 0 "$syn" -q -n 5 --force -o "$tmp/a"
eq "$(ls "$tmp/a/images" | wc -l | tr -d ' ')" 5 "--force replaced the earlier output"
echo mine >"$tmp/a/notes.txt"
expect 1 "$syn" -q -n 7 --force -o "$tmp/a"
has "$tmp/err" "other files than an rclip-synth output" "an output with other files is refused"
eq "$(ls "$tmp/a/images" | wc -l | tr -d ' '):$(cat "$tmp/a/notes.txt")" 5:mine \
	"an output with other files is untouched"
mkdir "$tmp/other" && echo keep >"$tmp/other/notes.txt"
expect 1 "$syn" -q -n 5 --force -o "$tmp/other"
has "$tmp/err" "not an empty directory" "a foreign directory is refused"
eq "$(cat "$tmp/other/notes.txt")" keep "a foreign directory is untouched"
mkdir "$tmp/empty"
expect 0 "$syn" -q -n 5 -o "$tmp/empty"
[ -f "$tmp/empty/synth.json" ] && ok || fail "an empty directory was not filled"
expect 1 "$syn" -q -n 5 -o "$tmp/missing/parent/dir"
eq "$(ls -a "$tmp" | grep -c '\.tmp\.')" 0 "no temporary directory is left"

# ---- the measurement controls: --key-objects and --test-phrasings
expect 0 "$syn" -q -n 100 --key-objects 3 -o "$tmp/k3"
# the reasoning captions name only the key objects: red, green or blue
# (the descriptive ones, tb, name the distractors too)
others=$(sed 's/"tb": \[[^]]*\]//' "$tmp/k3/lite-train.jsonl" |
	grep -o -w -E 'yellow|purple|orange|pink' | wc -l | tr -d ' ')
expect 0 "$syn" -q -n 100 -o "$tmp/k8"
others8=$(sed 's/"tb": \[[^]]*\]//' "$tmp/k8/lite-train.jsonl" |
	grep -o -w -E 'yellow|purple|orange|pink' | wc -l | tr -d ' ')
[ "$others" -lt "$((others8 / 4))" ] && ok ||
	fail "--key-objects 3: $others mentions of other colours ($others8 without)"
expect 0 "$syn" -q -n 100 --test-phrasings seen -o "$tmp/seen"
same=0
for f in "$tmp"/k8/images/*.jpg; do
	cmp -s "$f" "$tmp/seen/images/${f##*/}" && same=$((same + 1))
done
eq "$same" 100 "--test-phrasings seen: the same images"
cmp -s "$tmp/k8/sets-test.jsonl" "$tmp/seen/sets-test.jsonl" && fail "seen: the same test wording" || ok
same "$tmp/seen/sets-test.jsonl" "$tmp/k8/sets-test-seen.jsonl" "seen: sets-test-seen.jsonl"
cmp -s "$tmp/k8/sets-train.jsonl" "$tmp/seen/sets-train.jsonl" && ok || fail "seen: train wording changed"
expect 2 "$syn" -q -n 5 --key-objects 9 -o "$tmp/x"
expect 2 "$syn" -q -n 5 --test-phrasings new -o "$tmp/x"

echo "synth-cli: $passes passed, $fails failed"
[ "$fails" -eq 0 ]

#!/bin/sh
# quickstart.sh - the main job in miniature: examples/quickstart.sh --tiny
# with the programs of this build (no install, no build): a 60-scene
# world in families, sharded, a tiny CLIP trained from scratch in batches
# of whole families, stage 1 and 2 and the two stage-0 baselines, all five
# evaluated on the three wordings of the choice sets and on retrieval, the
# table printed, the stage-2 model exported and checked. Seconds.
set -u
: "${top_builddir:=.}" "${top_srcdir:=.}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
bin=$(cd "$top_builddir/tools" && pwd)
command -v bash >/dev/null 2>&1 || { echo "no bash: skipped"; exit 77; }
if ! RCLIP_BIN=$bin bash "$top_srcdir/examples/quickstart.sh" --tiny --out "$tmp/q" -j 2 \
	>"$tmp/log" 2>&1; then
	tail -n 30 "$tmp/log"
	fail "examples/quickstart.sh --tiny failed"
fi
r="$tmp/q/results.tsv"
[ "$(wc -l < "$r" 2>/dev/null)" = 6 ] && head -n 1 "$r" | grep -q 'fair.seen.hard'  || fail "results.tsv: $(cat "$r" 2>/dev/null)"
for m in base s0-des s0-rea s1 s2; do
	# a row per model, every field a percentage the evaluation printed
	awk -F '\t' -v m="$m" '$1 == m { for (i = 2; i <= 11; i++) if ($i !~ /^[0-9]+\.[0-9][0-9]$/) exit 1; f = 1 }
		END { exit !f }' "$r" || fail "results row $m: $(grep "^$m" "$r")"
	[ -f "$tmp/q/$m/final.safetensors" ] || fail "no $m/final.safetensors"
done
grep -q '^model[[:space:]][[:space:]]*S[[:space:]][[:space:]]*A[[:space:]].*fair' "$tmp/log" || fail "no table in the output"
grep -q -- '--group 4 ' "$tmp/log" || fail "the runs do not keep the families together"
[ -f "$tmp/q/reasonclip-synth/config.json" ] && [ -f "$tmp/q/reasonclip-synth/model.safetensors" ] ||
	fail "no exported model"
grep -q 'check:    ok' "$tmp/log" || fail "export --check"

# examples/reasonclip-real.sh, the recipe for the official data, on the
# tiny world's manifests with the tiny base standing in for OpenAI's CLIP
q="$tmp/q"
if "$bin/rclip-export" -q --from "$q/base/final.safetensors" --to hf -o "$tmp/start" >/dev/null &&
	RCLIP_BIN=$bin MODEL="$tmp/start" IMAGES="$q/world" LITE="$q/world/lite-train.jsonl" \
	PRO="$q/world/pro-train.jsonl" BENCH="$q/world/sets-test.jsonl" SIZE=32 BATCH=8 ACCUM=1 \
	S1_STEPS=2 S2_STEPS=2 bash "$top_srcdir/examples/reasonclip-real.sh" -j 2 --out "$tmp/real" \
	>"$tmp/real.log" 2>&1; then
	[ -f "$tmp/real/reasonclip-vision/config.json" ] || fail "reasonclip-real.sh: no vision export"
	grep -q "McNemar" "$tmp/real.log" || fail "reasonclip-real.sh: no McNemar comparison"
else
	tail -n 20 "$tmp/real.log"
	fail "examples/reasonclip-real.sh on the tiny world"
fi

echo "quickstart: $fails failed"
[ "$fails" -eq 0 ]

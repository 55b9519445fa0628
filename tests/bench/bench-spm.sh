#!/bin/sh
# Throughput of rclip-tokenize --model on the SentencePiece-family fixtures
# (tests/fixtures/spm: SigLIP unigram, Gemma BPE) against transformers'
# tokenizers, and for SigLIP against the SentencePiece library alone (what
# linking libsentencepiece would give, without SigLIP's canonicalisation),
# single-threaded and on all cores; also checks that the benchmark's rows
# are equal. Informative: always exits 0 unless its own setup fails.
#
# usage: tests/bench/bench-spm.sh [-n RUNS] [RCLIP_TOKENIZE [CORPUS]]
#   RCLIP_TOKENIZE  the binary (default: $RCLIP_TOKENIZE, else
#                   build/tools/rclip-tokenize, else tools/rclip-tokenize)
#   CORPUS          caption lines, UTF-8 (default: the fixtures' ordinary
#                   captions repeated to ~5 MiB in a temporary file)
# environment: PYTHON (default: the fixtures venv), THREADS (the "all
#   cores" count, default nproc), MIB (default corpus size, 5).

set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
fx=$root/tests/fixtures/spm
runs=5
if [ "${1:-}" = "-n" ]; then runs=$2; shift 2; fi
bin=${1:-${RCLIP_TOKENIZE:-$root/build/tools/rclip-tokenize}}
[ -x "$bin" ] || bin=$root/tools/rclip-tokenize
[ -x "$bin" ] || { echo "bench-spm: no rclip-tokenize (build it first)" >&2; exit 1; }
corpus=${2:-}
threads=${THREADS:-$(nproc 2>/dev/null || echo 1)}
if [ -z "${PYTHON:-}" ]; then
	venv=${RCLIP_VENV:-${HOME:-/root}/.cache/rclip/venv}
	if [ -x "$venv/bin/python" ]; then PYTHON=$venv/bin/python; else PYTHON=python3; fi
fi
py="$here/bench_spm_ref.py"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rclip-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
if [ -z "$corpus" ]; then
	corpus=$tmp/corpus.txt
	"$PYTHON" "$here/bench_hf_tokenize.py" make-corpus "$corpus" --mib "${MIB:-5}" >/dev/null
fi
bytes=$(wc -c <"$corpus" | tr -d ' ')
lines=$(wc -l <"$corpus" | tr -d ' ')

median() { sort -g | awk '{ v[NR] = $1 } END {
	if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
now() { date +%s.%N; }
mibs() { if [ "$1" = - ]; then echo -; else
	awk -v b="$bytes" -v s="$1" 'BEGIN { printf "%.2f", b / 1048576 / s }'; fi; }

# time_rclip MODEL J: the median seconds of $runs runs
time_rclip() {
	: >"$tmp/t"
	i=0
	while [ $i -lt "$runs" ]; do
		t0=$(now)
		"$bin" -q --model "$fx/$1" -j "$2" -f bin32 -o /dev/null "$corpus" || { echo -; return; }
		t1=$(now)
		echo "$t1 $t0" | awk '{ printf "%.6f\n", $1 - $2 }' >>"$tmp/t"
		i=$((i + 1))
	done
	median <"$tmp/t"
}
# time_ref KIND MODEL J
time_ref() {
	RAYON_NUM_THREADS=$3 TOKENIZERS_PARALLELISM=$([ "$3" = 1 ] && echo false || echo true) \
		"$PYTHON" "$py" run "$1" "$fx/$2" "$corpus" --runs "$runs" --threads "$3" >"$tmp/ref" 2>/dev/null ||
		{ echo -; return; }
	[ "$3" = 1 ] && sed -n 's/^backend=//p' "$tmp/ref" >"$tmp/name.$1"
	sed -n 's/^median=//p' "$tmp/ref"
}
row() { printf '%-44s %7s %9s %9s\n' "$1" "$2" "$(mibs "$3")" \
	"$(if [ "$3" = - ]; then echo -; else awk -v b="$bytes" -v s="$3" -v t="$2" \
		'BEGIN { printf "%.2f", b / 1048576 / s / t }'; fi)"; }
ratio() { if [ "$1" = - ] || [ "$2" = - ]; then echo -; else
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b / a }'; fi; }

echo "corpus: $bytes bytes, $lines lines; median of $runs runs each; rclip: wall time"
echo "        (process start, loading and reading included), reference: the call only"
printf '%-44s %7s %9s %9s\n' tokenizer threads MiB/s "MiB/s/thr"
for m in siglip gemma; do
	r1=$(time_rclip $m 1); rn=$(time_rclip $m "$threads")
	h1=$(time_ref $m $m 1); hn=$(time_ref $m $m "$threads")
	row "rclip-tokenize --model $m -j 1" 1 "$r1"
	row "rclip-tokenize --model $m -j $threads" "$threads" "$rn"
	row "$(cut -c1-44 "$tmp/name.$m")" 1 "$h1"
	row "  (same)" "$threads" "$hn"
	echo "  rclip/reference: $(ratio "$r1" "$h1") (1 thread), $(ratio "$rn" "$hn") ($threads threads)"
	if [ $m = siglip ]; then
		s1=$(time_ref spm siglip 1); sn=$(time_ref spm siglip "$threads")
		row "$(cut -c1-44 "$tmp/name.spm")" 1 "$s1"
		row "  (same)" "$threads" "$sn"
		echo "  rclip/libsentencepiece: $(ratio "$r1" "$s1") (1 thread)," \
			"$(ratio "$rn" "$sn") ($threads threads)"
	fi
	# the rows of the benchmark corpus, rclip against the reference
	"$bin" -q --model "$fx/$m" -f bin32 "$corpus" |
		od -An -v -tu4 -w256 | sed 's/^ *//; s/  */ /g' >"$tmp/rclip.ids"
	"$PYTHON" "$py" ids $m "$fx/$m" "$corpus" "$tmp/ref.ids" 2>/dev/null
	echo "  rows differing from the reference: $(paste -d '\t' "$tmp/rclip.ids" "$tmp/ref.ids" |
		awk -F '\t' '$1 != $2' | wc -l | tr -d ' ') of $lines"
done
if command -v spm_encode >/dev/null 2>&1; then
	: >"$tmp/t"
	i=0
	while [ $i -lt "$runs" ]; do
		t0=$(now); spm_encode --model="$fx/siglip/spiece.model" --output_format=id <"$corpus" >/dev/null
		t1=$(now); echo "$t1 $t0" | awk '{ printf "%.6f\n", $1 - $2 }' >>"$tmp/t"; i=$((i + 1))
	done
	row "Debian spm_encode (libsentencepiece)" 1 "$(median <"$tmp/t")"
fi
exit 0

#!/bin/sh
# Throughput of rclip-tokenize against Hugging Face's Rust tokenizer
# (transformers.CLIPTokenizer / tokenizers), single-threaded and on all cores.
# Informative: always exits 0 unless its own setup fails.
#
# usage: tests/bench/bench-tokenize.sh [-n RUNS] [RCLIP_TOKENIZE [CORPUS]]
#   RCLIP_TOKENIZE  the binary (default: $RCLIP_TOKENIZE, else
#                   build/tools/rclip-tokenize, else tools/rclip-tokenize)
#   CORPUS          caption lines, UTF-8 (default: the fixtures' ordinary
#                   captions repeated to ~20 MiB in a temporary file)
# environment: PYTHON (default: the fixtures venv of build-aux/install-deps.sh
#   --fixtures, $RCLIP_VENV or ~/.cache/rclip/venv, else python3),
#   RCLIP_TOKENIZE_ARGS (extra arguments for rclip-tokenize), THREADS
#   (the "all cores" count, default nproc).

set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
runs=5
if [ "${1:-}" = "-n" ]; then runs=$2; shift 2; fi

bin=${1:-${RCLIP_TOKENIZE:-}}
if [ -z "$bin" ]; then
	for b in "$root/build/tools/rclip-tokenize" "$root/tools/rclip-tokenize"; do
		if [ -x "$b" ]; then bin=$b; break; fi
	done
fi
corpus=${2:-}
threads=${THREADS:-$(nproc 2>/dev/null || echo 1)}
if [ -z "${PYTHON:-}" ]; then
	venv=${RCLIP_VENV:-${HOME:-/root}/.cache/rclip/venv}
	if [ -x "$venv/bin/python" ]; then PYTHON=$venv/bin/python
	else PYTHON=python3; fi
fi
py="$here/bench_hf_tokenize.py"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rclip-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
if [ -z "$corpus" ]; then
	corpus=$tmp/corpus.txt
	"$PYTHON" "$py" make-corpus "$corpus" --mib 20 >/dev/null
fi
bytes=$(wc -c <"$corpus" | tr -d ' ')
lines=$(wc -l <"$corpus" | tr -d ' ')

# median of the numbers on stdin
median() { sort -g | awk '{ v[NR] = $1 } END {
	if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
now() { date +%s.%N; }

# time_rclip J: prints the median seconds of $runs runs, or "-" on failure
time_rclip() {
	j=$1
	: >"$tmp/t.$j"
	i=0
	while [ $i -lt "$runs" ]; do
		t0=$(now)
		# shellcheck disable=SC2086
		if ! "$bin" ${RCLIP_TOKENIZE_ARGS:-} -j "$j" --format bin -o - >/dev/null \
			"$corpus" 2>"$tmp/err"; then
			echo "bench-tokenize: rclip-tokenize -j $j failed:" \
				"$(head -n 1 "$tmp/err")" >&2
			echo -; return
		fi
		t1=$(now)
		echo "$t1 $t0" | awk '{ printf "%.6f\n", $1 - $2 }' >>"$tmp/t.$j"
		i=$((i + 1))
	done
	median <"$tmp/t.$j"
}

if [ -n "$bin" ] && [ -x "$bin" ]; then
	r1=$(time_rclip 1)
	rn=$(time_rclip "$threads")
	rclip_note="$bin (wall time, process start and file reading included)"
else
	r1=-; rn=-
	rclip_note="unavailable (build it, or pass its path or set RCLIP_TOKENIZE)"
fi

hf() {
	RAYON_NUM_THREADS=$1 TOKENIZERS_PARALLELISM=$2 \
		"$PYTHON" "$py" run "$corpus" --runs "$runs" >"$tmp/hf.$1"
	sed -n 's/^median=//p' "$tmp/hf.$1"
}
h1=$(hf 1 false)
hn=$(hf "$threads" true)
kv() { sed -n "s/^$1=//p" "$tmp/hf.1"; }

mibs() { # seconds -> MiB/s
	if [ "$1" = - ]; then echo -; else
	awk -v b="$bytes" -v s="$1" 'BEGIN { printf "%.2f", b / 1048576 / s }'; fi; }
ratio() { # (a/ta) / (b/tb), per thread
	if [ "$1" = - ] || [ "$3" = - ]; then echo -; else
	awk -v a="$1" -v ta="$2" -v b="$3" -v tb="$4" \
		'BEGIN { printf "%.2f", (a / ta) / (b / tb) }'; fi; }

m_r1=$(mibs "$r1"); m_rn=$(mibs "$rn"); m_h1=$(mibs "$h1"); m_hn=$(mibs "$hn")
echo "corpus: $corpus"
echo "        $bytes bytes, $lines lines; median of $runs runs each"
echo "rclip:  $rclip_note"
echo "HF:     $(kv backend) (encoding only, truncation 77)"
echo
printf '%-28s %8s %10s %12s\n' tokenizer threads MiB/s "MiB/s/thread"
printf '%-28s %8s %10s %12s\n' "rclip-tokenize -j 1" 1 "$m_r1" "$m_r1"
printf '%-28s %8s %10s %12s\n' "rclip-tokenize -j $threads" "$threads" "$m_rn" \
	"$(if [ "$m_rn" = - ]; then echo -; else
		awk -v m="$m_rn" -v t="$threads" 'BEGIN { printf "%.2f", m / t }'; fi)"
printf '%-28s %8s %10s %12s\n' "HF tokenizers" 1 "$m_h1" "$m_h1"
printf '%-28s %8s %10s %12s\n' "HF tokenizers" "$threads" "$m_hn" \
	"$(awk -v m="$m_hn" -v t="$threads" 'BEGIN { printf "%.2f", m / t }')"
echo
echo "rclip/HF per thread: $(ratio "$m_r1" 1 "$m_h1" 1) (1 thread)," \
	"$(ratio "$m_rn" "$threads" "$m_hn" "$threads") ($threads threads)"
echo "HF ids vs open_clip (informative): $(kv mismatch_ordinary) ordinary" \
	"captions differ, $(kv mismatch_all) of all single-line fixture captions"
exit 0

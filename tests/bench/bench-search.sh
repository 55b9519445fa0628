#!/bin/sh
# Exact top-k search: rclip-retrieve search against NumPy (matmul +
# argpartition + argsort of the k, bench_search_ref.py) on a generated
# gallery of 1,000,000 x 512 random unit float32 rows and 1,000 queries,
# k = 10, both at the same thread count, runs interleaved in one
# invocation; the median queries/s of each, their ratio, and how many of
# rclip's hits are NumPy's. Informative: always exits 0 unless its own
# setup fails. Needs about 2 GB in $TMPDIR and 6 GB of memory.
#
# usage: tests/bench/bench-search.sh [-n RUNS] [RCLIP_RETRIEVE]
# environment: PYTHON (default: the fixtures venv, $RCLIP_VENV or
#   ~/.cache/rclip/venv, else python3; it needs NumPy), THREADS (default:
#   all cores), N (gallery rows), D, QUERIES, K.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
runs=3
if [ "${1:-}" = "-n" ]; then runs=$2; shift 2; fi
bin=${1:-}
if [ -z "$bin" ]; then
	for b in "$root/build/tools/rclip-retrieve" "$root/tools/rclip-retrieve"; do
		if [ -x "$b" ]; then bin=$b; break; fi
	done
fi
[ -x "$bin" ] || { echo "bench-search: no rclip-retrieve binary (build first)" >&2; exit 1; }
threads=${THREADS:-$(nproc 2>/dev/null || echo 1)}
n=${N:-1000000} d=${D:-512} nq=${QUERIES:-1000} k=${K:-10}
if [ -z "${PYTHON:-}" ]; then
	venv=${RCLIP_VENV:-${HOME:-/root}/.cache/rclip/venv}
	if [ -x "$venv/bin/python" ]; then PYTHON=$venv/bin/python; else PYTHON=python3; fi
fi
py="$here/bench_search_ref.py"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rclip-bench-search.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "generating a $n x $d gallery and $nq queries ..." >&2
"$PYTHON" "$py" make "$tmp" "$n" "$d" "$nq"
g="$tmp/gallery.npy" q="$tmp/queries.npy"

median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
now() { date +%s.%N; }

# rclip: wall time of the whole process (start, mapping the gallery from
# the page cache, the finite-row checks, the search, writing the TSV).
# NumPy: the search alone, the gallery already in memory.
: >"$tmp/rclip" && : >"$tmp/numpy"
for r in $(seq 1 "$runs"); do
	echo "run $r of $runs ..." >&2
	t0=$(now)
	"$bin" search -q -j "$threads" -g "$g" -Q "$q" -k "$k" -o "$tmp/rclip.tsv"
	t1=$(now)
	echo "$nq $t0 $t1" | awk '{printf "%.2f\n", $1 / ($3 - $2)}' >>"$tmp/rclip"
	OPENBLAS_NUM_THREADS=$threads OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads \
		"$PYTHON" "$py" numpy "$g" "$q" "$k" 1 "$tmp/np.npy" |
		sed 's/.*queries_per_s=\([0-9.]*\).*/\1/' >>"$tmp/numpy"
done
rq=$(median <"$tmp/rclip")
nqs=$(median <"$tmp/numpy")
npver=$("$PYTHON" -c 'import numpy; print(numpy.__version__)')
agree=$("$PYTHON" "$py" agree "$tmp/rclip.tsv" "$tmp/np.npy")

echo "data:   $n x $d float32 unit rows, $nq unit queries, k = $k (bench_search_ref.py); median of $runs runs"
echo "rclip:  $bin search -j $threads (wall time, process start included)"
echo "NumPy:  $npver, $threads BLAS threads: queries @ gallery.T, argpartition, argsort of the k (search only)"
echo
printf '%-28s %8s %12s %s\n' search threads queries/s "runs"
printf '%-28s %8d %12.2f %s\n' "rclip-retrieve search" "$threads" "$rq" "$(tr '\n' ' ' <"$tmp/rclip")"
printf '%-28s %8d %12.2f %s\n' "NumPy" "$threads" "$nqs" "$(tr '\n' ' ' <"$tmp/numpy")"
echo
echo "rclip/NumPy: $(echo "$rq $nqs" | awk '{printf "%.2f", $1 / $2}')x at $threads threads"
echo "hits agreeing with NumPy: $agree"

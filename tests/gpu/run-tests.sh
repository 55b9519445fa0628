#!/usr/bin/env bash
# run-tests.sh - the GPU tests of an unpacked pack (tests/gpu/pack.sh), as
# make check would run them: each test's output in TEST.log and its result
# in TEST.trs (automake's format, which device-check.sh counts), exit 77
# a skip. The kernel tests (tests/cuda/test_*-gpu) and the training job
# on the device (tests/cuda/train-gpu.sh) run; the CPU's tests are CI's.
#
# usage: tests/gpu/run-tests.sh BUILD
#   BUILD   where the pack was unpacked (its tools/, tests/, lib/); the
#           libraries must already be on LD_LIBRARY_PATH
# Exit status: 0 when none failed, 1 when one did, 2 usage.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
if [ $# != 1 ] || [ ! -d "$1/tests/cuda" ]; then
	echo "usage: run-tests.sh BUILD (an unpacked pack)" >&2
	exit 2
fi
build=$(cd "$1" && pwd)
# what AM_TESTS_ENVIRONMENT sets (Makefile.am)
export top_srcdir=$root top_builddir=$build RCLIP_DATA_DIR=$root/data RCLIP_DEVICE=cpu
failed=0
one() { # NAME CMD...: run, then NAME.log and NAME.trs under BUILD
	local name=$1 rc res
	shift
	"$@" >"$build/$name.log" 2>&1
	rc=$?
	case $rc in 0) res=PASS ;; 77) res=SKIP ;; *) res=FAIL; failed=1 ;; esac
	printf ':test-result: %s\n:global-test-result: %s\n' "$res" "$res" >"$build/$name.trs"
	echo "$res: $name"
}
for t in "$build"/tests/cuda/test_*-gpu; do
	[ -x "$t" ] || continue
	one "tests/cuda/$(basename "$t")" "$t"
done
one tests/cuda/train-gpu.sh sh "$root/tests/cuda/train-gpu.sh"
exit $failed

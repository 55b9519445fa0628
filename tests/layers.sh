#!/bin/sh
# layers.sh - the layering of common/ (DESIGN.md §2), checked on the sources:
# a file includes headers of its own folder and of the layers below it,
# never above, and names the folder ("data/shard.h"). The order, lowest
# first:
#
#   base < text < data < model < convert, eval < train < tools
#
# cuda/ (the CUDA backend, its kernels and the NCCL communicator) sits
# between train and tools: it may include every layer of common/, and only
# tools include it.
# convert and eval are peers (neither includes the other); synth stands
# apart: it includes only base, and only tools include it. The compute
# seam: the CPU backend's own headers (its forward and backward, ops,
# losses, optimizer and search) are included only inside common/model/;
# everything else computes through model/backend.h. tests/ may include
# anything. Run by `make check`; `tests/layers.sh DIR` checks the
# tree at DIR (default: $top_srcdir or the checkout this script is in).
# Exit 0 when every include is allowed, 1 with one line per violation.
root=${1:-${top_srcdir:-$(dirname "$0")/..}}
cd "$root" || exit 99
[ -d common/base ] || { echo "layers.sh: $root/common/base: no such directory" >&2; exit 99; }

# rank of a layer; peers share a rank but may not include each other
rank() {
	case $1 in
	base) echo 0 ;; text) echo 1 ;; data) echo 2 ;; model) echo 3 ;;
	convert | eval) echo 4 ;; train) echo 5 ;; cuda) echo 6 ;; tools) echo 7 ;;
	synth) echo S ;; *) echo X ;;
	esac
}

# the CPU backend's private headers
private="model/cpu.h model/ops_cpu.h model/loss.h model/optim_cpu.h model/topk_cpu.h
	model/lowp_cpu.h"

# every header of the library, by file name, so a bare "shard.h" is caught
headers=$(find common -name '*.h' | sed 's#.*/##' | sort)

bad=0
for f in $(find common tools cuda -name '*.[ch]' -o -name '*.cu' -o -name '*.cuh' -o \
    -name '*.cc' 2>/dev/null | sort); do
	case $f in
	tools/*) from=tools ;;
	cuda/*) from=cuda ;;
	common/*/*) from=${f#common/}; from=${from%%/*} ;;
	*) echo "$f: a file outside the layer folders of common/"; bad=$((bad + 1)); continue ;;
	esac
	rf=$(rank "$from")
	if [ "$rf" = X ]; then
		echo "$f: common/$from is not a layer (base text data model convert eval train synth)"
		bad=$((bad + 1))
		continue
	fi
	n=0
	while IFS= read -r line; do
		n=$((n + 1))
		case $line in '#include "'*) ;; *) continue ;; esac
		h=${line#\#include \"}
		h=${h%%\"*}
		case $h in
		*/*) to=${h%%/*} ;;
		*)
			# a bare name: allowed only for headers that are not the library's
			if printf '%s\n' "$headers" | grep -qx "$h"; then
				echo "$f:$n: #include \"$h\" does not name its folder"
				bad=$((bad + 1))
			fi
			continue ;;
		esac
		if [ "$from" != model ] && printf '%s\n' $private | grep -qx "$h"; then
			echo "$f:$n: #include \"$h\": private to the CPU backend; compute through model/backend.h"
			bad=$((bad + 1))
			continue
		fi
		[ "$to" = "$from" ] && continue
		rt=$(rank "$to")
		why=
		if [ "$rt" = X ]; then
			why="common/$to is not a layer"
		elif [ "$from" = synth ]; then
			[ "$to" = base ] || why="synth includes only base"
		elif [ "$rt" = S ]; then
			[ "$from" = tools ] || why="only tools include synth"
		elif [ "$rt" -ge "$rf" ]; then
			why="$to is not below $from"
		fi
		if [ -n "$why" ]; then
			echo "$f:$n: #include \"$h\": $why"
			bad=$((bad + 1))
		fi
	done <"$f"
done
if [ $bad -gt 0 ]; then
	echo "layers.sh: $bad include(s) against the layering (DESIGN.md §2)"
	exit 1
fi
exit 0

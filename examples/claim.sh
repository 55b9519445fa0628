#!/usr/bin/env bash
# claim.sh - the quickstart's comparison over several seeds: runs
# examples/quickstart.sh once per seed (world and training seed alike) and
# prints, for base, S0-Des, S0-Rea, S1 and S2, the mean and the standard
# deviation over the seeds of each choice-set accuracy and retrieval R@1.
#
# usage: examples/claim.sh [-j N] [--out DIR] [SEED...]   (default seeds 1 2 3)
# Each seed takes as long as one quickstart (about 15 minutes on 2 cores);
# the runs go to DIR/seed-N (default build/claim). Extra quickstart
# arguments can be given in QUICKSTART_ARGS.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=build/claim jobs=()
seeds=()
while [ $# -gt 0 ]; do
	case $1 in
	-j) jobs=(-j "$2"); shift 2 ;;
	--out) out=$2; shift 2 ;;
	-h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) seeds+=("$1"); shift ;;
	esac
done
[ ${#seeds[@]} -gt 0 ] || seeds=(1 2 3)
read -r -a extra <<<"${QUICKSTART_ARGS:-}"
for s in "${seeds[@]}"; do
	examples/quickstart.sh --seed "$s" --out "$out/seed-$s" "${jobs[@]}" "${extra[@]}"
	RCLIP_SKIP_DEPS=1
	export RCLIP_SKIP_DEPS
done
echo
echo "mean ± standard deviation over seeds ${seeds[*]} (%):"
for s in "${seeds[@]}"; do tail -n +2 "$out/seed-$s/results.tsv"; done | awk -F '\t' '
	BEGIN { split("S A H T P fair seen hard I2T_R@1 T2I_R@1", col, " ") }
	{ m = $1; if (!(m in seen)) { seen[m] = 1; order[++nm] = m }
	  k[m]++; for (i = 2; i <= 11; i++) { s[m, i] += $i; q[m, i] += $i * $i } }
	END {
		printf "%-7s", "model"
		for (i = 1; i <= 10; i++) printf " %13s", col[i]
		printf "\n"
		for (j = 1; j <= nm; j++) {
			m = order[j]; printf "%-7s", m
			for (i = 2; i <= 11; i++) {
				mu = s[m, i] / k[m]; v = k[m] > 1 ? (q[m, i] - k[m] * mu * mu) / (k[m] - 1) : 0
				printf " %6.1f ± %4.1f", mu, sqrt(v > 0 ? v : 0)
			}
			printf "\n"
		}
	}'

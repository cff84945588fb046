#!/usr/bin/env bash
# papermill vs `deckle execute` on the same 5-cell notebook, same kernel, same
# machine, run alternately so drift hits both equally. Prints each tool's median
# wall time and the ratio deckle/papermill (target: <= 0.3).
#
#   benches/execute_vs_papermill.sh [RUNS]      (default 9)
set -euo pipefail
runs=${1:-9}
source "$(dirname "$0")/common.sh"
nb=benches/notebooks/five_cells.ipynb

pm=() dk=()
# One untimed run of each warms the page cache (Python imports, the binary).
papermill --no-progress-bar "$nb" "$work/pm.ipynb" -p x 3 >/dev/null 2>&1
./target/release/deckle execute --no-progress-bar "$nb" "$work/dk.ipynb" -p x 3 >/dev/null 2>&1
for i in $(seq "$runs"); do
  t0=$(now); papermill --no-progress-bar "$nb" "$work/pm.ipynb" -p x "$i" >/dev/null 2>&1; t1=$(now)
  ./target/release/deckle execute --no-progress-bar "$nb" "$work/dk.ipynb" -p x "$i" >/dev/null 2>&1; t2=$(now)
  pm+=("$(awk "BEGIN{print $t1 - $t0}")"); dk+=("$(awk "BEGIN{print $t2 - $t1}")")
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
mp=$(median "${pm[@]}"); md=$(median "${dk[@]}")
printf 'runs: %d each, alternating\n' "$runs"
printf 'papermill median: %.3f s\n' "$mp"
printf 'deckle    median: %.3f s\n' "$md"
printf 'ratio deckle/papermill: %.3f (target <= 0.3)\n' "$(awk "BEGIN{print $md / $mp}")"

#!/usr/bin/env bash
# A 40-node sequential chain of trivial notebooks run by `deckle run`, against
# papermill run 40 times in a loop on the same notebook (target: deckle
# takes at most 0.15 of papermill's time). Run once per `python3` kernelspec form:
#   installed  the venv's, as `python -m ipykernel install --prefix` writes it
#              (absolute interpreter, -Xfrozen_modules=off; scripts/setup.sh does it)
#   wheel      the 5-word form the ipykernel wheel bundles, put first on JUPYTER_PATH
# Prints both wall times and the ratio for each. `DECKLE_NO_ZYGOTE=1` in the
# environment measures deckle with every kernel booted from scratch.
#
#   benches/chain_vs_papermill.sh [NODES]     (default 40)
set -euo pipefail
n=${1:-40}
source "$(dirname "$0")/common.sh"
cp benches/notebooks/trivial.ipynb "$work/trivial.ipynb"
{
  echo "workflow: chain"
  echo "nodes:"
  echo "  n1: { notebook: trivial.ipynb, params: { x: 1 }, outputs: [y] }"
  for i in $(seq 2 "$n"); do
    echo "  n$i: { notebook: trivial.ipynb, needs: [n$((i-1))], params: { x: \"\${{ nodes.n$((i-1)).outputs.y }}\" }, outputs: [y] }"
  done
} > "$work/chain.yaml"

wheel="$work/wheel/kernels/python3"
mkdir -p "$wheel"
printf '{"argv": ["python", "-m", "ipykernel_launcher", "-f", "{connection_file}"], "display_name": "Python 3 (ipykernel)", "language": "python"}\n' > "$wheel/kernel.json"

chain() { # LABEL: one deckle run and $n papermill runs, with the kernelspec in effect
  rm -rf "$work/data"
  t0=$(now)
  ./target/release/deckle run "$work/chain.yaml" --data "$work/data" --json > "$work/run.json"
  t1=$(now)
  status=$(python3 -c "import json,sys; r=json.load(open('$work/run.json')); print(r['run']['status'], r['nodes'][-1]['outputs'].get('y'))")
  for i in $(seq "$n"); do
    papermill --no-progress-bar "$work/trivial.ipynb" "$work/pm.ipynb" -p x "$i" >/dev/null 2>&1
  done
  t2=$(now)
  dk=$(awk "BEGIN{print $t1 - $t0}"); pm=$(awk "BEGIN{print $t2 - $t1}")
  argv=$(python3 -c "import json,sys; print(' '.join(json.load(open(sys.argv[1]))['argv']))" "$2")
  printf '%s kernelspec: %s\n' "$1" "$argv"
  printf '  deckle run, %d-node chain: %.2f s (run %s)\n' "$n" "$dk" "$status"
  printf '  papermill x %d:            %.2f s\n' "$n" "$pm"
  printf '  ratio deckle/papermill: %.3f (target <= 0.15)\n' "$(awk "BEGIN{print $dk / $pm}")"
}

chain installed "$root/.venv/share/jupyter/kernels/python3/kernel.json"
JUPYTER_PATH="$work/wheel" chain wheel "$wheel/kernel.json"

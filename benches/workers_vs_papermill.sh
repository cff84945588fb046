#!/usr/bin/env bash
# N independent trivial notebooks through `deckle server` and two `deckle worker`s
# of one slot each, against papermill run two at a time (`xargs -P 2`) on the same
# notebook. Prints notebooks per minute for both and the ratio (target: >= 3x).
#
#   benches/workers_vs_papermill.sh [N]     (default 200)
set -euo pipefail
n=${1:-200}
source "$(dirname "$0")/common.sh"
mkdir -p "$work/wf" "$work/pm"
cp benches/notebooks/trivial.ipynb "$work/wf/trivial.ipynb"
{
  echo "workflow: many"
  echo "nodes:"
  for i in $(seq "$n"); do echo "  n$i: { notebook: trivial.ipynb, params: { x: $i }, outputs: [y] }"; done
} > "$work/wf/many.yaml"

deckle=./target/release/deckle
"$deckle" server --data "$work/data" --listen 127.0.0.1:0 2> "$work/server.log" &
pids=($!)
trap 'kill "${pids[@]}" 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do grep -q "listening on" "$work/server.log" && break; sleep 0.1; done
url=$(grep -o 'http://[0-9.:]*' "$work/server.log" | head -1)
export DECKLE_SERVER="$url"
"$deckle" register "$work/wf/many.yaml" > /dev/null
for w in a b; do
  "$deckle" worker --server "$url" --slots 1 --name "$w" --cache "$work/cache-$w" 2> "$work/worker-$w.log" &
  pids+=($!)
done
sleep 3 # let the workers boot their warm kernels, as long-running workers would have

t0=$(now)
"$deckle" trigger many --wait > "$work/trigger.out" 2>&1 || { cat "$work/trigger.out"; exit 1; }
t1=$(now)
seq "$n" | xargs -P 2 -I{} papermill --no-progress-bar "$work/wf/trivial.ipynb" "$work/pm/out-{}.ipynb" -p x {} >/dev/null 2>&1
t2=$(now)
dk=$(awk "BEGIN{print $t1 - $t0}"); pm=$(awk "BEGIN{print $t2 - $t1}")
printf 'deckle, 2 workers x 1 slot, %d notebooks: %.2f s (%.0f notebooks/min)\n' "$n" "$dk" "$(awk "BEGIN{print $n * 60 / $dk}")"
printf 'papermill, xargs -P 2:          %.2f s (%.0f notebooks/min)\n' "$pm" "$(awk "BEGIN{print $n * 60 / $pm}")"
printf 'throughput ratio deckle/papermill: %.2fx (target >= 3x)\n' "$(awk "BEGIN{print $pm / $dk}")"

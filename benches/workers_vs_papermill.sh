#!/usr/bin/env bash
# N independent trivial notebooks through `deckle server` and two `deckle worker`s
# of one slot each, against papermill run two at a time (`xargs -P 2`) on the same
# notebook. Deckle runs twice in one go: artifacts on the local disk, then in an
# S3 bucket (`--artifacts s3://…`) on a local S3-compatible server (moto, from the
# test venv). Prints notebooks per minute for each, the ratio against papermill
# (target: >= 3x) and what object storage costs (target: < 15% of throughput).
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
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; rm -rf "$work"' EXIT

# The S3 server, on a free port, with made-up credentials (moto takes any).
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
moto_server -H 127.0.0.1 -p "$port" > "$work/moto.log" 2>&1 &
pids+=($!)
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
curl -s -o /dev/null -X PUT "http://127.0.0.1:$port/bench-artifacts"

# Objects under the bucket's run prefix.
bucket_count() {
  python3 - "$port" <<'EOF2'
import sys, boto3
s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{sys.argv[1]}")
print(sum(len(p.get("Contents", [])) for p in s3.get_paginator("list_objects_v2").paginate(Bucket="bench-artifacts", Prefix="run/artifacts/")))
EOF2
}

# One timed run of the whole workflow: a fresh server (extra flags: "$@") and two workers.
deckle_secs() {
  local tag=$1; shift
  "$deckle" server --data "$work/data-$tag" --listen 127.0.0.1:0 "$@" 2> "$work/server-$tag.log" &
  local spid=$!
  for _ in $(seq 100); do grep -q "listening on" "$work/server-$tag.log" && break; sleep 0.1; done
  local url
  url=$(grep -o 'http://[0-9.:]*' "$work/server-$tag.log" | head -1)
  "$deckle" register --server "$url" "$work/wf/many.yaml" > /dev/null
  local wpids=()
  for w in a b; do
    "$deckle" worker --server "$url" --slots 1 --name "$w" --cache "$work/cache-$tag-$w" 2> "$work/worker-$tag-$w.log" &
    wpids+=($!)
  done
  sleep 3 # let the workers boot their warm kernels, as long-running workers would have
  local t0 t1
  t0=$(now)
  "$deckle" trigger --server "$url" many --wait > "$work/trigger-$tag.out" 2>&1 || { cat "$work/trigger-$tag.out" >&2; exit 1; }
  # With object storage the clock stops once every notebook is in the bucket.
  if [ "$tag" = s3 ]; then
    until [ "$(bucket_count)" -ge "$n" ]; do sleep 0.1; done
  fi
  t1=$(now)
  kill "${wpids[@]}" "$spid" 2>/dev/null || true
  wait "${wpids[@]}" "$spid" 2>/dev/null || true
  awk "BEGIN{print $t1 - $t0}"
}

local_secs=$(deckle_secs local)
s3_secs=$(deckle_secs s3 --artifacts s3://bench-artifacts/run --artifacts-endpoint "http://127.0.0.1:$port")
got=$(bucket_count)

t1=$(now)
seq "$n" | xargs -P 2 -I{} papermill --no-progress-bar "$work/wf/trivial.ipynb" "$work/pm/out-{}.ipynb" -p x {} >/dev/null 2>&1
t2=$(now)
pm=$(awk "BEGIN{print $t2 - $t1}")
rate() { awk "BEGIN{print $n * 60 / $1}"; }
printf 'deckle, 2 workers x 1 slot, %d notebooks, artifacts on disk: %.2f s (%.0f notebooks/min)\n' "$n" "$local_secs" "$(rate "$local_secs")"
printf 'deckle, same, artifacts in S3 (moto):             %.2f s (%.0f notebooks/min, %s objects)\n' "$s3_secs" "$(rate "$s3_secs")" "$got"
printf 'papermill, xargs -P 2:                              %.2f s (%.0f notebooks/min)\n' "$pm" "$(rate "$pm")"
printf 'throughput ratio deckle/papermill: %.2fx on disk, %.2fx with S3 (target >= 3x)\n' "$(awk "BEGIN{print $pm / $local_secs}")" "$(awk "BEGIN{print $pm / $s3_secs}")"
printf 'object storage costs %.1f%% of throughput (target < 15%%)\n' "$(awk "BEGIN{print (1 - $local_secs / $s3_secs) * 100}")"

#!/usr/bin/env bash
# Signals through `deckle server` (sled state, release build): how many it stores
# per second (each flushed before its 202), how fast duplicates of one key are
# answered, and the time from posting a signal to the run it starts having
# finished on a worker (one trivial notebook node).
#
#   benches/signals.sh [N]     (default 2000 signals; N/2 duplicates; 10 runs)
set -euo pipefail
n=${1:-2000}
source "$(dirname "$0")/common.sh"
mkdir -p "$work/wf"
cp benches/notebooks/trivial.ipynb "$work/wf/trivial.ipynb"
cat > "$work/wf/listen.yaml" <<'YAML'
workflow: listen
triggers:
  - signal: go
nodes:
  only: { notebook: trivial.ipynb, params: { x: 1 }, outputs: [y] }
YAML
deckle=./target/release/deckle
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"
$deckle server --data "$work/data" --listen "127.0.0.1:$port" > "$work/server.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -s -o /dev/null "$url/api/v1/health" && break; sleep 0.1; done
$deckle worker --server "$url" --slots 1 > "$work/worker.log" 2>&1 &
pids+=($!)
$deckle register "$work/wf/listen.yaml" --server "$url" > /dev/null

python3 - "$url" "$n" <<'PY'
import json, statistics, sys, time, urllib.request
from concurrent.futures import ThreadPoolExecutor
url, n = sys.argv[1], int(sys.argv[2])

def post(name, body):
    req = urllib.request.Request(f"{url}/api/v1/signals/{name}", data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return r.status, json.load(r)

def timed(label, bodies, name):
    t = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda b: post(name, b)[0], bodies))
    dt = time.perf_counter() - t
    print(f"{label}: {len(bodies)} in {dt:.2f} s = {len(bodies)/dt:.0f}/s (statuses {sorted(set(statuses))})")

timed("signals stored (no listener, distinct keys, 8 clients)", [{"params": {"i": i}, "key": f"k{i}"} for i in range(n)], "noise")
timed("duplicates of one key (8 clients)", [{"key": "same"} for _ in range(n // 2)], "noise")

def run_of(status, body):
    return body["event"]["firings"][0]["run_id"]

def finished(run):
    with urllib.request.urlopen(f"{url}/api/v1/runs/{run}") as r:
        return json.load(r)["run"]["status"] in ("succeeded", "failed", "cancelled")

lat = []
for i in range(10):
    t = time.perf_counter()
    run = run_of(*post("go", {"key": f"go{i}"}))
    while not finished(run):
        time.sleep(0.005)
    lat.append(time.perf_counter() - t)
print(f"signal to its run finished (one trivial notebook, warm worker): median {statistics.median(lat)*1000:.0f} ms, "
      f"min {min(lat)*1000:.0f} ms, max {max(lat)*1000:.0f} ms over {len(lat)}")
PY

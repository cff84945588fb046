#!/usr/bin/env bash
# The main job: run the video-aggregates example workflow (examples/video-aggregates:
# SQL extract on DuckDB, one notebook per region, an audit that branches to
# publish or alert, a join) on the embedded default — sled state under .deckle/,
# an in-process worker, real kernels — and print the per-node summary with the
# output notebooks.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
scripts/setup.sh
cargo build --quiet --release --bin deckle
export VIRTUAL_ENV="$root/.venv" PATH="$root/.venv/bin:$PATH"
./target/release/deckle run examples/video-aggregates/workflow.yaml --data .deckle "$@"

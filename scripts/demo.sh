#!/usr/bin/env bash
# The main job: execute the example notebook with parameters, as a papermill user
# would, and say where the output notebook is.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
scripts/setup.sh
cargo build --quiet --release --bin deckle
export VIRTUAL_ENV="$root/.venv" PATH="$root/.venv/bin:$PATH"
out=target/example-output/region_report.ipynb
mkdir -p "$(dirname "$out")"
./target/release/deckle execute examples/notebooks/region_report.ipynb "$out" \
  -p region fr -p day 2026-11-01 -y 'thresholds: {min_rows: 100}' \
  --outputs total,passed --outputs-file target/example-output/outputs.json
echo "output notebook: $out"
echo "recorded outputs: $(cat target/example-output/outputs.json | tr -d '\n ')"

#!/usr/bin/env bash
# Run every test: unit tests, doc tests and the end-to-end suite against real
# kernels, the real papermill and scrapbook. Sets up what it needs first.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
scripts/setup.sh --test
cargo build --quiet --bin deckle
# The docs and ARCHITECTURE.md name only paths that exist; their workflow examples validate.
python3 scripts/check_docs.py
cargo test --workspace --no-fail-fast "$@"
# Coverage-guided fuzzing for a bounded time (DECKLE_FUZZ_SECS per target, default 60).
scripts/fuzz.sh

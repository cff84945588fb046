#!/usr/bin/env bash
# Coverage-guided fuzzing (cargo fuzz, libFuzzer) of the workflow parser and the
# notebook reader with injection, for a bounded time per target. Seeds are the
# repository's own workflows and notebooks. A crash, hang (> 10 s) or runaway
# memory (> 2 GiB) leaves its input under fuzz/artifacts/<target>/ and fails.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]     (default: $DECKLE_FUZZ_SECS or 60)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
secs="${1:-${DECKLE_FUZZ_SECS:-60}}"

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --version 0.13.2
# libFuzzer builds need nightly's sanitizer flags: the nightly toolchain when it is
# installed, otherwise the stable one with RUSTC_BOOTSTRAP.
toolchain=()
if rustup run nightly rustc --version >/dev/null 2>&1; then
  toolchain=(+nightly)
else
  export RUSTC_BOOTSTRAP=1
fi

cd "$root/fuzz"
seed() { # target, prefix byte (or empty), files...
  local dir="corpus/$1" prefix="$2"; shift 2
  mkdir -p "$dir"
  for f in "$@"; do
    [ "$(wc -c < "$f")" -le 65536 ] || continue
    { printf "$prefix"; cat "$f"; } > "$dir/seed-$(printf '%s' "$f" | sha256sum | cut -c1-16)"
  done
}
mapfile -t workflows < <(find ../examples ../integration-tests/fixtures ../dsl/tests -name '*.yaml' | sort)
mapfile -t notebooks < <(find ../examples ../integration-tests/fixtures -name '*.ipynb' | sort)
seed workflow "" "${workflows[@]}"
seed notebook '\001' "${notebooks[@]}"

mkdir -p artifacts
for target in workflow notebook; do
  echo "== cargo fuzz run $target for ${secs}s ($(ls "corpus/$target" | wc -l) inputs to start from)"
  log="artifacts/$target.log"
  if ! cargo "${toolchain[@]}" fuzz run "$target" "corpus/$target" -- \
      -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "fuzz target $target failed; the input is under fuzz/artifacts/$target/ (log: fuzz/$log)"
    exit 1
  fi
  grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb)' "$log"
done

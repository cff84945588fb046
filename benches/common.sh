# Sourced by the benchmark scripts: from the repo root, with the test venv set
# up and active, a release build of deckle, a scratch dir `$work` and `now`.
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
scripts/setup.sh --test
cargo build --quiet --release --bin deckle
export VIRTUAL_ENV="$root/.venv" PATH="$root/.venv/bin:$PATH"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
now() { date +%s.%N; }

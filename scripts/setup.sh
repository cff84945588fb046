#!/usr/bin/env bash
# Set up what Deckle needs on this machine, idempotently: a Python venv at .venv
# with the pinned kernel (and, with --test, papermill, scrapbook and bash_kernel
# for the compatibility suite). Re-running is a no-op unless a requirements file
# changed.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

reqs=python/requirements.txt
[ "${1:-}" = "--test" ] && reqs=python/requirements-test.txt

python=${PYTHON:-python3}
command -v "$python" >/dev/null || { echo "setup: $python not found; install Python 3.11+" >&2; exit 2; }
command -v cargo >/dev/null || { echo "setup: cargo not found; install Rust (rustup)" >&2; exit 2; }

stamp=.venv/.deckle-installed
want="$(cat "$reqs" python/requirements.txt | sha256sum | cut -c1-16) $reqs"
if [ -f "$stamp" ] && grep -qxF "$want" "$stamp"; then
  exit 0
fi
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$reqs"
if .venv/bin/python -c 'import bash_kernel' 2>/dev/null; then
  .venv/bin/python -m bash_kernel.install --sys-prefix >/dev/null
fi
echo "$want" >> "$stamp"
echo "setup: .venv ready ($reqs)" >&2

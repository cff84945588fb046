#!/usr/bin/env bash
# Set up what Deckle needs on this machine, idempotently: a Python venv at .venv
# with the pinned kernel (and, with --test, papermill, scrapbook and bash_kernel
# for the compatibility suite), and the `python3` kernelspec installed the way most
# users install it. Re-running is a no-op unless a requirements file or this
# script's `setup_version` changed.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

reqs=python/requirements.txt
[ "${1:-}" = "--test" ] && reqs=python/requirements-test.txt

python=${PYTHON:-python3}
command -v "$python" >/dev/null || { echo "setup: $python not found; install Python 3.11+" >&2; exit 2; }
command -v cargo >/dev/null || { echo "setup: cargo not found; install Rust (rustup)" >&2; exit 2; }

# The UI tests drive headless Chromium through chromedriver, and the language tests
# run an R kernel (IRkernel): Debian's packages, fetched in one apt-get call.
apt_wanted=
if [ "${1:-}" = "--test" ]; then
  { command -v chromium && command -v chromedriver; } >/dev/null || apt_wanted="chromium chromium-driver"
  # A real PostgreSQL for the state store's tests (they start a throwaway cluster).
  { command -v psql && { command -v initdb || ls /usr/lib/postgresql/*/bin/initdb; }; } >/dev/null 2>&1 \
    || apt_wanted="$apt_wanted postgresql"
  # --- R kernel (IRkernel) for the language tests: begin ---
  { command -v R && R --slave -e 'quit(status = !requireNamespace("IRkernel", quietly = TRUE))'; } >/dev/null 2>&1 \
    || apt_wanted="$apt_wanted r-cran-irkernel"
  # --- R kernel: end ---
fi
if [ -n "$apt_wanted" ]; then
  sudo=
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "setup: missing packages; install them as root: apt-get install $apt_wanted" >&2; exit 2; }
    sudo=sudo
  fi
  command -v apt-get >/dev/null || { echo "setup: missing $apt_wanted and there is no apt-get; install Chromium with its chromedriver, and R with IRkernel" >&2; exit 2; }
  apt_get() { $sudo env DEBIAN_FRONTEND=noninteractive apt-get "$@" >&2; }
  # An install on a machine whose package lists were never fetched fails: fetch them, once.
  # shellcheck disable=SC2086 # a list of package names
  apt_get install -y -q $apt_wanted || { apt_get update -q && apt_get install -y -q $apt_wanted; } \
    || { echo "setup: apt-get install $apt_wanted failed" >&2; exit 2; }
  command -v chromedriver >/dev/null || { echo "setup: chromium-driver installed but no chromedriver on PATH" >&2; exit 2; }
fi

# --- R kernel (IRkernel) for the language tests: begin ---
# The IR kernelspec goes into the venv (as `IRkernel::installspec(prefix=)` would put
# it) so tests find it through VIRTUAL_ENV like the Python and bash kernels.
if [ "${1:-}" = "--test" ]; then
  ir_spec="$(R --slave -e 'cat(system.file("kernelspec", package = "IRkernel"))' 2>/dev/null || true)"
  [ -f "$ir_spec/kernel.json" ] || { echo "setup: IRkernel is installed but has no kernelspec directory (looked in '$ir_spec')" >&2; exit 2; }
  if ! cmp -s "$ir_spec/kernel.json" .venv/share/jupyter/kernels/ir/kernel.json; then
    mkdir -p .venv/share/jupyter/kernels/ir
    cp "$ir_spec"/* .venv/share/jupyter/kernels/ir/
  fi
fi
# --- R kernel: end ---

# Azurite (Microsoft's Azure Storage emulator, from npm) for the Azure tests, in a
# git-ignored .tools/azurite rather than globally: the tests start its blob service
# from there. Before the venv's early exit below, so an up-to-date venv still gets it.
if [ "${1:-}" = "--test" ]; then
  azurite_version=3.37.0
  azurite_stamp=.tools/azurite/.deckle-installed
  if ! { [ -f "$azurite_stamp" ] && grep -qxF "azurite@$azurite_version" "$azurite_stamp" \
      && [ -f .tools/azurite/node_modules/azurite/dist/src/blob/main.js ]; }; then
    { command -v node && command -v npm; } >/dev/null || { echo "setup: node and npm are needed for Azurite (the Azure tests); install Node.js 18+" >&2; exit 2; }
    mkdir -p .tools/azurite
    npm install --prefix .tools/azurite "azurite@$azurite_version" --no-audit --no-fund --loglevel=error >&2 \
      || { echo "setup: npm install azurite@$azurite_version failed" >&2; exit 2; }
    echo "azurite@$azurite_version" > "$azurite_stamp"
    echo "setup: Azurite $azurite_version ready (.tools/azurite)" >&2
  fi
fi

# Bump when what follows changes, so an existing venv is brought up to date.
setup_version=2
stamp=.venv/.deckle-installed
want="v$setup_version $(cat "$reqs" python/requirements.txt | sha256sum | cut -c1-16) $reqs"
if [ -f "$stamp" ] && grep -qxF "$want" "$stamp"; then
  exit 0
fi
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$reqs"
# The kernelspec the common way, `python -m ipykernel install`: an absolute
# interpreter path and, on CPython 3.11+, `-Xfrozen_modules=off`. It replaces the
# wheel's bare-`python` spec, so every test runs on the layout most users have. The
# venv's real path (not a symlink to it) goes into the spec.
venv="$(cd .venv && pwd -P)"
"$venv/bin/python" -m ipykernel install --prefix "$venv" --name python3 >/dev/null
if .venv/bin/python -c 'import bash_kernel' 2>/dev/null; then
  .venv/bin/python -m bash_kernel.install --sys-prefix >/dev/null
fi
echo "$want" >> "$stamp"
echo "setup: .venv ready ($reqs)" >&2

#!/usr/bin/env bash
# What saving the record costs on a notebook of many one-line cells: wall time of
# `deckle execute` and how many times it wrote the output notebook (each save is a
# rename into place, counted with strace), against papermill on the same notebook.
# Saves are coalesced to about one a second, so the bytes written stay near
# (saves x final size) instead of growing with cells squared.
#
#   benches/many_cells.sh [CELLS] [PAPERMILL_TOO]     (default 2000; 1 runs papermill too, slow past a few hundred cells)
set -euo pipefail
cells=${1:-2000}
papermill_too=${2:-0}
source "$(dirname "$0")/common.sh"
command -v strace >/dev/null || { echo "many_cells: needs strace (apt-get install strace)" >&2; exit 2; }
nb="$work/many.ipynb"
python - "$nb" "$cells" <<'EOF'
import sys, nbformat
nb = nbformat.v4.new_notebook()
nb.cells = [nbformat.v4.new_code_cell(f"x{i} = {i}") for i in range(int(sys.argv[2]))]
nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
nbformat.write(nb, sys.argv[1])
EOF
# Counts renames onto `out`, i.e. saves of the output notebook.
saves() { grep -c "$1\"" "$2" || true; }
# Timed untraced (strace slows the kernel's process); saves counted in a second, traced run.
t0=$(now)
./target/release/deckle execute --no-progress-bar "$nb" "$work/dk.ipynb" >/dev/null 2>&1
t1=$(now)
strace -f --seccomp-bpf -qq -e trace=rename,renameat,renameat2 -o "$work/dk.strace" \
  ./target/release/deckle execute --no-progress-bar "$nb" "$work/dk.ipynb" >/dev/null 2>&1
size=$(stat -c %s "$work/dk.ipynb")
dk_saves=$(saves dk.ipynb "$work/dk.strace")
printf 'cells: %d, final notebook: %d bytes\n' "$cells" "$size"
printf 'deckle:    %.2f s, %d saves, ~%d MB written\n' "$(awk "BEGIN{print $t1 - $t0}")" "$dk_saves" "$((dk_saves * size / 1000000))"
if [ "$papermill_too" = 1 ]; then
  t0=$(now)
  papermill --no-progress-bar "$nb" "$work/pm.ipynb" >/dev/null 2>&1
  t1=$(now)
  strace -f --seccomp-bpf -qq -e trace=rename,renameat,renameat2,openat -o "$work/pm.strace" \
    papermill --no-progress-bar "$nb" "$work/pm.ipynb" >/dev/null 2>&1
  # papermill writes in place (open with O_TRUNC), not by rename.
  pm_saves=$(grep -c 'pm.ipynb", O_WRONLY|O_CREAT|O_TRUNC' "$work/pm.strace" || true)
  printf 'papermill: %.2f s, %d saves\n' "$(awk "BEGIN{print $t1 - $t0}")" "$pm_saves"
fi

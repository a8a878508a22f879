"""Run the `responses-gateway` CLI from a chosen source tree, and prove which one it is.

    python bench/_rev_launch.py TREE [CLI ARGS...]      # TREE: a checkout (holds pyproject.toml and src/)
    python bench/_rev_launch.py TREE --check            # print where the package comes from, exit

Why not the venv's `responses-gateway` script: the venv has an editable install of
/work/main (a `__editable__.responses_gateway-*.pth` that appends /work/main/src to
sys.path), so a plain run always imports the working tree. Here TREE/src is put first
on sys.path (and on PYTHONPATH, for any child process), the package is imported, and
the run stops unless `responses_gateway.__file__` lies inside TREE/src. Submodules are
found through the package's own `__path__`, so once the package comes from TREE/src
every later (lazy) import of `responses_gateway.*` does too. The console script's
target is read from TREE/pyproject.toml (`[project.scripts] responses-gateway`), so a
refactor that moves `main` still starts.

`serve --workers N` spawns its workers with multiprocessing's "spawn": they get this
process's sys.path and re-import this file as `__mp_main__`, which checks again.
Each process writes one `rg-launch:` line to its stderr (the benchmark's log), which
bench_revisions.py reads back before it measures anything.
"""

from __future__ import annotations

import importlib
import os
import sys
import tomllib
from pathlib import Path

PKG = "responses_gateway"
SCRIPT = "responses-gateway"


def pin(tree: Path) -> str:
    """Import the package from tree/src or exit; return its __init__ path."""
    src = (tree / "src").resolve()
    if str(src) in sys.path:
        sys.path.remove(str(src))
    sys.path.insert(0, str(src))
    stale = [m for m in sys.modules if m == PKG or m.startswith(PKG + ".")]
    if stale:
        raise SystemExit(f"rg-launch: {PKG} was imported before the tree was chosen: {stale[:3]}")
    pkg = importlib.import_module(PKG)
    where = Path(pkg.__file__ or "").resolve()
    if not where.is_relative_to(src):
        raise SystemExit(f"rg-launch: REFUSED: {PKG} imported from {where}, not from {src}")
    print(f"rg-launch: pid {os.getpid()} {PKG} from {where}", file=sys.stderr, flush=True)
    return str(where)


def entry_point(tree: Path) -> str:
    data = tomllib.loads((tree / "pyproject.toml").read_text())
    return str(data.get("project", {}).get("scripts", {}).get(SCRIPT, f"{PKG}.cli:main"))


def main() -> int:
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    tree = Path(sys.argv[1]).resolve()
    os.environ["RG_BENCH_TREE"] = str(tree)
    os.environ["PYTHONPATH"] = os.pathsep.join([str(tree / "src"), *filter(None, [os.environ.get("PYTHONPATH")])])
    where = pin(tree)
    if sys.argv[2:] == ["--check"]:
        print(where)
        return 0
    module, _, func = entry_point(tree).partition(":")
    mod = importlib.import_module(module)
    mfile = Path(getattr(mod, "__file__", "") or "").resolve()
    if not mfile.is_relative_to(tree / "src"):
        raise SystemExit(f"rg-launch: REFUSED: {module} imported from {mfile}, not from {tree / 'src'}")
    sys.argv = [SCRIPT, *sys.argv[2:]]
    return int(getattr(mod, func)() or 0)


if __name__ == "__main__":
    sys.exit(main())
elif __name__ == "__mp_main__" and os.environ.get("RG_BENCH_TREE"):
    pin(Path(os.environ["RG_BENCH_TREE"]))  # a spawned `serve` worker

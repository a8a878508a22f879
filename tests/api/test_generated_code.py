"""The generated modules in src/responses_gateway/api/ match proto/ exactly."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def _gen_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_proto", ROOT / "scripts" / "gen_proto.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_proto"] = module
    spec.loader.exec_module(module)
    return module


def test_generated_code_is_fresh() -> None:
    """Editing a .proto without regenerating fails here: run `python scripts/gen_proto.py`."""
    diff = _gen_script().stale_files()
    assert diff == [], "\n".join(diff[:60])


def test_a_changed_proto_is_detected(tmp_path: Path, monkeypatch) -> None:
    """The check is not vacuous: a committed module that differs is reported."""
    gen = _gen_script()
    fake_target = tmp_path / "v1"
    fake_target.mkdir()
    for src in gen.TARGET.iterdir():
        if src.is_file():
            (fake_target / src.name).write_text(src.read_text())
    (fake_target / "items_pb2.py").write_text("# hand-edited\n")
    monkeypatch.setattr(gen, "TARGET", fake_target)
    assert any("items_pb2.py" in line for line in gen.stale_files())

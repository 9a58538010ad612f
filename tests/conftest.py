"""Shared fixtures: small datasets and a fake installed distribution."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def fake_distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[callable]:
    """Install a throwaway distribution with ``bench`` entry points on sys.path.

    ``make(dist_name, {entry_name: module_name}, {module_name: source})`` writes the
    modules and a ``.dist-info`` that importlib.metadata (and so pluggy) discovers.
    """
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))

    def make(dist: str, entry_points: dict[str, str], modules: dict[str, str]) -> Path:
        for module, source in modules.items():
            (site / f"{module}.py").write_text(textwrap.dedent(source))
        info = site / f"{dist.replace('-', '_')}-1.2.3.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\n")
        lines = "\n".join(f"{name} = {target}" for name, target in entry_points.items())
        (info / "entry_points.txt").write_text(f"[bench]\n{lines}\n")
        return site

    yield make
    for module in [m for m in sys.modules if m.startswith("fakeplugin_")]:
        del sys.modules[module]

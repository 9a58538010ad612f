"""The commit a run records: from the checkout bench runs from, or the one it was installed from."""

from __future__ import annotations

import importlib.metadata
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from bench import machine


class _Dist:
    def __init__(self, direct_url: dict | None) -> None:
        self.direct_url = direct_url

    def read_text(self, name: str) -> str | None:
        assert name == "direct_url.json"
        return None if self.direct_url is None else json.dumps(self.direct_url)


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """bench as ``pip install .`` leaves it: the package outside any checkout."""
    monkeypatch.setattr(machine.bench, "__file__", str(tmp_path / "site-packages" / "bench" / "__init__.py"))

    def with_origin(direct_url: dict | None) -> None:
        monkeypatch.setattr(importlib.metadata, "distribution", lambda name: _Dist(direct_url))

    return with_origin


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_pip_install_of_a_checkout_records_that_checkouts_commit(installed, tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    git = ["git", "-C", str(source), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "x"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()
    installed({"url": source.as_uri(), "dir_info": {}})
    assert machine.git_commit() == head


def test_pip_install_from_git_records_the_commit_pip_resolved(installed) -> None:
    installed({"url": "https://example.org/bench.git", "vcs_info": {"vcs": "git", "commit_id": "abc123"}})
    assert machine.git_commit() == "abc123"


@pytest.mark.parametrize("origin", [None, {"url": "https://example.org/bench-harness-0.1.0.tar.gz",
                                           "archive_info": {}}])
def test_an_install_without_a_known_origin_records_none(installed, origin) -> None:
    installed(origin)
    assert machine.git_commit() is None

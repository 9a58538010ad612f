"""A worker killed by SIGKILL is called out of memory only with evidence."""

from __future__ import annotations

import pytest

from bench.execute import worker


def test_a_peak_near_the_limit_is_evidence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker, "_oom_kills", lambda: None)
    evidence = worker._oom_evidence(None, peak_rss=int(7.8 * 2**30), limit=8 * 2**30)
    assert evidence == "its resident memory reached 7.8 GiB of the 8.0 GiB limit"


def test_a_small_peak_is_no_evidence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker, "_oom_kills", lambda: None)
    assert worker._oom_evidence(None, peak_rss=2**30, limit=8 * 2**30) is None


def test_an_oom_kill_counted_by_the_cgroup_is_evidence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker, "_oom_kills", lambda: 3)
    assert worker._oom_evidence(2, peak_rss=0, limit=8 * 2**30) == "the cgroup's memory.events counted an oom_kill"
    assert worker._oom_evidence(3, peak_rss=0, limit=8 * 2**30) is None

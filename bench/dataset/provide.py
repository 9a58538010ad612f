"""Find or prepare the run's data: the one place that decides whether a prepared copy is reused.

Both the runner (for the rows of one run) and a Ray node (for its own rows) call
:func:`provide_data` with a frozen :class:`DataSettings`:

1. for CIFAR-10, reuse a prepared copy made from the same unchanged source files (same path,
   size and modification time as when they were verified; the copy's own digests are checked
   by :func:`bench.dataset.prepared.find_prepared`), without reading the files again;
2. else load the dataset (:func:`bench.dataset.load_dataset`: verify, download when missing
   and not offline, preprocess; or generate the synthetic set) and, when asked for a copy,
   write one (:func:`bench.dataset.prepared.prepare`), rebuilding a damaged one.

A damaged copy is not printed about here: its line is in :attr:`ProvidedData.note`, for the
caller to show.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.dataset.base import Dataset


@dataclass(frozen=True)
class DataSettings:
    """How a run (or a node) gets its dataset: the settings of ``bench run`` that choose it."""

    dataset: str = "cifar10"
    preprocessing: str = "reference"
    seed: int = 0
    """The synthetic set's seed (the run's ``--seed``)."""
    data_dir: str | None = None
    """Where to look for CIFAR-10; ``None``: ``$BENCH_DATA_DIR`` or the cache."""
    offline: bool = False


@dataclass(frozen=True)
class ProvidedData:
    """What :func:`provide_data` found or made."""

    dataset: Dataset
    """The dataset; when a copy was reused, mapped from it (``populate=False``)."""
    prepared: Path | None
    """The prepared copy's directory; ``None`` when none was asked for."""
    reused: bool
    """Whether an existing copy of unchanged, verified source files was reused (nothing loaded)."""
    write_seconds: float
    """Seconds spent writing (or checking) the prepared copy; 0 when reused or none asked for."""
    seconds: float
    """Seconds for everything, loading included."""
    note: str | None = None
    """A line for the user, such as the prepared copy was damaged and is rebuilt; else ``None``."""


def provide_data(
    settings: DataSettings,
    *,
    prepare: bool = True,
    root: Path | None = None,
    notify: Callable[[str], None] | None = None,
) -> ProvidedData:
    """The dataset of ``settings`` and, when ``prepare``, its prepared copy (found or written).

    ``root`` is the cache of prepared copies (default: :func:`bench.dataset.prepared.cache_root`).
    ``notify`` hears a line before CIFAR-10 is read, verified and preprocessed (seconds).
    Raises :class:`bench.errors.DataError` (missing or damaged source files, a cache that cannot
    be written, ...). A copy returned is held (a shared lock) by this process until it exits,
    so that no other run prunes it.
    """
    from bench import dataset as datasets
    from bench.dataset import prepared as prep

    start = time.perf_counter()
    notes: list[str] = []
    stats = None
    if prepare and settings.dataset == "cifar10":
        stats = prep.cifar10_source_stats(settings.data_dir)
        found = prep.find_prepared("cifar10", settings.preprocessing, stats, root=root, notice=notes.append) if stats else None
        if found is not None:
            dataset = prep.open_prepared(found, populate=False)  # this process trains nothing
            dataset.details["prepared_copy"] = str(found)
            return ProvidedData(dataset, found, True, 0.0, time.perf_counter() - start, _note(notes))
    if notify is not None and settings.dataset == "cifar10":
        notify("reading, verifying and preprocessing CIFAR-10 (a few seconds; a prepared copy is kept for later runs)")
    dataset = datasets.load_dataset(
        settings.dataset,
        data_dir=settings.data_dir,
        offline=settings.offline,
        preprocessing=settings.preprocessing,
        seed=settings.seed,
    )
    if not prepare:
        return ProvidedData(dataset, None, False, 0.0, time.perf_counter() - start, _note(notes))
    written = time.perf_counter()
    if settings.dataset == "cifar10":  # again: the files may have been downloaded just now
        stats = prep.cifar10_source_stats(settings.data_dir)
    copy = prep.prepare(dataset, source_stats=stats, root=root, notice=notes.append)
    dataset.details["prepared_copy"] = str(copy)
    end = time.perf_counter()
    return ProvidedData(dataset, copy, False, end - written, end - start, _note(notes))


def _note(notes: list[str]) -> str | None:
    return "; ".join(line.removeprefix("bench: ") for line in notes) or None

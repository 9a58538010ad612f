"""Find, fetch, load and describe the datasets: the entry points the runner and CLI use."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from bench.dataset import checksums as cs
from bench.dataset.base import Dataset
from bench.dataset.cifar10 import (
    Layout,
    file_md5,
    find_layout,
    load_cifar10,
    parse_binary_batch,
    parse_binary_meta,
    parse_python_batch,
    parse_python_meta,
    read_file,
)
from bench.dataset.download import DEFAULT_TIMEOUT, ENV_URL, check_url, ensure_cifar10
from bench.dataset.preprocess import PREPROCESSINGS, fit
from bench.dataset.synthetic import make_synthetic
from bench.errors import DataError, UsageError

DATASETS = ("cifar10", "synthetic")
ENV_DATA_DIR = "BENCH_DATA_DIR"
ENV_OFFLINE = "BENCH_OFFLINE"


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """``--data-dir``, else ``$BENCH_DATA_DIR``, else ``<user cache dir>/bench/cifar-10``."""
    if data_dir:
        return Path(data_dir).expanduser()
    if env := os.environ.get(ENV_DATA_DIR):
        return Path(env).expanduser()
    from bench.paths import user_cache_dir

    return user_cache_dir() / "cifar-10"


def is_offline(offline: bool = False) -> bool:
    """True when asked to stay offline, by flag or ``BENCH_OFFLINE=1``."""
    return offline or os.environ.get(ENV_OFFLINE, "").strip().lower() in ("1", "true", "yes", "on")


def missing_message(root: Path) -> str:
    online = "run without --offline"
    if is_offline(False):  # the environment asks for offline: the flag alone is not the reason
        online += f" and with {ENV_OFFLINE} unset"
    return (
        f"CIFAR-10 not found in {root} (looked for {cs.PY_DIR}/ or {cs.BIN_DIR}/); "
        f"{online} to download it (from ${ENV_URL} if set, else the official site), "
        "pass --data-dir to a copy you have, or use --dataset synthetic"
    )


def load_dataset(
    name: str = "cifar10",
    *,
    data_dir: str | os.PathLike[str] | None = None,
    offline: bool = False,
    preprocessing: str = "reference",
    seed: int = 0,
    checksums: Mapping[str, str] | None = None,
    archive: cs.Archive = cs.PYTHON_ARCHIVE,
    timeout: float = DEFAULT_TIMEOUT,
    workers: int = 2,
) -> Dataset:
    """Load ``"cifar10"`` (verified; downloaded when missing unless offline) or ``"synthetic"``
    (seeded by ``seed``), preprocessed to float32 rows by ``preprocessing``.

    CIFAR-10 is looked for in :func:`resolve_data_dir`; when it is missing there, the
    official python-version archive is downloaded into that directory (the only time
    anything is written). ``checksums`` (default: the official md5s) and ``archive`` (URL
    and md5 of the download) exist so tests can substitute small files of their own.
    ``$BENCH_CIFAR10_URL`` points the download at a mirror of the official archive (its md5
    and size are still checked). Concurrent calls on one directory download it once: the
    others wait for that download and use it (see :mod:`bench.dataset.download`).
    """
    if name not in DATASETS:
        raise UsageError(f"unknown dataset {name!r}; available: {', '.join(DATASETS)}")
    if preprocessing not in PREPROCESSINGS:
        raise UsageError(f"unknown preprocessing {preprocessing!r}; available: {', '.join(PREPROCESSINGS)}")
    if name == "synthetic":
        return _load_synthetic(preprocessing, seed, workers)

    root = resolve_data_dir(data_dir)
    details: dict[str, object] = {"downloaded": False}
    layout = find_layout(root)
    if layout is None:
        if is_offline(offline):
            raise DataError(missing_message(root))
        mirror = os.environ.get(ENV_URL)
        if mirror and archive is cs.PYTHON_ARCHIVE:  # a mirror of the official archive: same md5 and size
            archive = replace(archive, url=check_url(mirror, f"${ENV_URL}"))
        start = time.perf_counter()
        ensure_cifar10(root, archive, timeout=timeout)
        details.update(downloaded=True, seconds_download=round(time.perf_counter() - start, 3))
        layout = find_layout(root)
        if layout is None:  # pragma: no cover - ensure_cifar10 just put it there
            raise DataError(missing_message(root))

    raw = load_cifar10(layout.path, cs.OFFICIAL_MD5 if checksums is None else checksums, workers=workers)
    start = time.perf_counter()
    transform = fit(raw.train_images, preprocessing, workers=workers)
    train = transform.apply(raw.train_images, workers=workers)
    raw.train_images = None  # type: ignore[assignment]  # free the uint8 rows before the test output is allocated
    test = transform.apply(raw.test_images, workers=workers)
    seconds_preprocess = time.perf_counter() - start
    details.update(
        format=raw.layout.format,
        directory=str(raw.layout.path),
        md5_ok=True,
        files_md5_verified=raw.md5,
        files_checked_structurally=raw.structural_only,
        seconds_read_verify=round(raw.seconds, 3),
        seconds_preprocess=round(seconds_preprocess, 3),
        **transform.stats(),
    )
    return Dataset(
        name="cifar10",
        train_images=train,
        train_labels=raw.train_labels,
        test_images=test,
        test_labels=raw.test_labels,
        class_names=raw.class_names,
        source=str(raw.layout.path),
        preprocessing=preprocessing,
        details=details,
    )


def _load_synthetic(preprocessing: str, seed: int, workers: int) -> Dataset:
    start = time.perf_counter()
    data = make_synthetic(seed)
    generated = time.perf_counter()
    transform = fit(data.train_images, preprocessing, workers=workers)
    train = transform.apply(data.train_images, workers=workers)
    test = transform.apply(data.test_images, workers=workers)
    return Dataset(
        name="synthetic",
        train_images=train,
        train_labels=data.train_labels,
        test_images=test,
        test_labels=data.test_labels,
        class_names=data.class_names,
        source=data.description,
        preprocessing=preprocessing,
        details={
            "format": "synthetic",
            "seed": seed,
            "seconds_generate": round(generated - start, 3),
            "seconds_preprocess": round(time.perf_counter() - generated, 3),
            **transform.stats(),
        },
    )


def describe_data(
    data_dir: str | os.PathLike[str] | None = None,
    offline: bool = False,
    *,
    checksums: Mapping[str, str] | None = None,
) -> tuple[str, list[tuple[str, str]], bool]:
    """Where CIFAR-10 is and whether each file verifies: ``(location, [(file, status)], all_ok)``.

    Never downloads or writes anything.
    """
    root = resolve_data_dir(data_dir)
    layout = find_layout(root)
    if layout is None:
        how = "pass --data-dir" if is_offline(offline) else "pass --data-dir, or let bench run download it here"
        return str(root), [(f"{cs.PY_DIR}/ or {cs.BIN_DIR}/", f"missing; {how}")], False
    manifest = cs.OFFICIAL_MD5 if checksums is None else checksums
    with ThreadPoolExecutor(max_workers=2) as pool:
        statuses = list(pool.map(lambda f: _file_status(layout, f, manifest), layout.files))
    rows = [(name, status) for name, (status, _) in zip(layout.files, statuses, strict=True)]
    return str(layout.path), rows, all(ok for _, ok in statuses)


def _file_status(layout: Layout, name: str, manifest: Mapping[str, str]) -> tuple[str, bool]:
    path = layout.path / name
    if not os.path.lexists(path):
        return "MISSING", False
    try:
        expected = manifest.get(name)
        if expected is not None:
            actual = file_md5(path)
            if actual == expected.lower():
                return f"ok (md5 {actual})", True
            return f"BAD: md5 {actual}, expected {expected}", False
        return f"ok ({_structure(layout, path)}; no md5 to check, verified structurally)", True
    except (OSError, DataError) as exc:
        return f"BAD: {exc}", False


def _structure(layout: Layout, path: Path) -> str:
    """Parse a file that has no md5 and say what it holds (raises DataError if malformed)."""
    data = read_file(path)
    if path.name == layout.meta_file:
        parse = parse_binary_meta if layout.format == "binary" else parse_python_meta
        return f"{len(parse(data, str(path)))} class names"
    parse_batch = parse_binary_batch if layout.format == "binary" else parse_python_batch
    _, labels = parse_batch(data, str(path))
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise DataError(f"{path}: labels outside 0..9")
    return f"{labels.size} images"

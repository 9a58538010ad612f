"""Download failures through the real command: a mirror that breaks, one that serves the
wrong bytes, one that trickles, one that never ends, no server at all, concurrent first
downloads, and a data directory that is read-only or full (``BENCH_CIFAR10_URL`` points
bench at a local server)."""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cli_sandbox import (
    fake_python_files,
    in_mount_namespace,
    left_in,
    official_archive_is,
    rlimits,
    run_bench,
    tarball,
)

OFFICIAL_MD5 = "c58f30108f718f92721af3b95e74349a"
OFFICIAL_SIZE = 170498071
WRONG = b"not the CIFAR-10 archive\n" * 200


@dataclass
class MirrorState:
    base: str = ""
    archive: bytes = b""
    gets: list[str] = field(default_factory=list)


class _Mirror(BaseHTTPRequestHandler):
    """``/truncated.tar.gz`` hangs up early; ``/slow/archive`` and ``/slow/wrong`` send their body
    in 20 pieces over about 2 s and 1 s; ``/trickle`` one byte every 0.25 s; ``/steady`` 4 KiB every
    50 ms of a 10 MB body; ``/endless`` zeros without a Content-Length (64 MiB at most);
    ``/huge`` announces a terabyte; anything else is a whole file that is not the archive."""

    server: ThreadingHTTPServer

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        state: MirrorState = self.server.state  # type: ignore[attr-defined]
        state.gets.append(self.path)
        try:
            self._serve(state)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up: fine
            pass

    def _serve(self, state: MirrorState) -> None:
        if self.path.endswith("/truncated.tar.gz"):
            self._head(100000)
            self.wfile.write(b"x" * 1000)  # then the connection drops
            self.close_connection = True
        elif self.path.startswith("/slow/"):
            body, pause = (state.archive, 0.1) if self.path == "/slow/archive" else (WRONG, 0.05)
            self._head(len(body))
            step = -(-len(body) // 20)
            for start in range(0, len(body), step):
                self.wfile.write(body[start : start + step])
                self.wfile.flush()
                time.sleep(pause)
        elif self.path == "/trickle":
            self._head(10**6)
            for _ in range(400):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.25)
        elif self.path == "/steady":
            self._head(10**7)
            for _ in range(1000):
                self.wfile.write(b"x" * 4096)
                self.wfile.flush()
                time.sleep(0.05)
        elif self.path == "/endless":
            self.send_response(200)
            self.end_headers()  # no Content-Length: the body ends when the connection does
            for _ in range(1024):
                self.wfile.write(bytes(1 << 16))
            self.close_connection = True
        elif self.path == "/huge":
            self._head(10**12)
            self.wfile.write(bytes(1 << 20))
            self.close_connection = True
        else:  # a whole file, but not the official archive
            self._head(len(WRONG))
            self.wfile.write(WRONG)

    def _head(self, length: int) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(length))
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[MirrorState]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Mirror)
    httpd.daemon_threads = True
    state = MirrorState(base=f"http://127.0.0.1:{httpd.server_address[1]}")
    httpd.state = state  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def mirror(server: MirrorState) -> str:
    return server.base


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _no_good_file_left(data: Path) -> None:
    """No archive and no extracted data where a good one is expected (a .part may stay, to resume)."""
    assert not (data / "cifar-10-python.tar.gz").exists()
    assert not (data / "cifar-10-batches-py").exists()
    leftovers = [p.name for p in data.iterdir()] if data.exists() else []
    assert all(name.endswith(".part") for name in leftovers), leftovers


def _download(bench, data: Path, url: str, *, timeout: float = 60, **env: str):
    return bench.run("--plugins", "numpy", "--data-dir", str(data), "--steps", "2",
                     timeout=timeout, BENCH_OFFLINE="0", BENCH_CIFAR10_URL=url, **env)


def test_interrupted_download_is_a_clear_error(bench, clean_error, mirror) -> None:
    data = bench.cwd / "data"
    proc = _download(bench, data, f"{mirror}/truncated.tar.gz")
    clean_error(proc, 1, "truncated.tar.gz", "run again to resume")
    _no_good_file_left(data)
    assert not bench.saved() or all(doc["results"] == [] for doc in bench.saved())


def test_wrong_bytes_from_a_mirror_are_refused_and_removed(bench, clean_error, mirror) -> None:
    data = bench.cwd / "data"
    proc = _download(bench, data, f"{mirror}/wrong.tar.gz")
    clean_error(proc, 1, "checksum mismatch", OFFICIAL_MD5)
    _no_good_file_left(data)
    assert not any(data.glob("*.part"))  # a bad file is not kept for a resume


def test_no_server_is_a_clear_error_that_names_the_ways_out(bench, clean_error) -> None:
    data = bench.cwd / "data"
    proc = _download(bench, data, f"http://127.0.0.1:{_closed_port()}/cifar-10-python.tar.gz")
    clean_error(proc, 1, "could not download", "--data-dir", "--dataset synthetic", "BENCH_CIFAR10_URL")
    _no_good_file_left(data)


def test_a_failed_download_leaves_no_directory_it_created(bench, clean_error, mirror) -> None:
    deep = bench.cwd / "made" / "by" / "bench"
    clean_error(_download(bench, deep, f"{mirror}/wrong.tar.gz"), 1, "checksum mismatch")
    assert not (bench.cwd / "made").exists()

    cache = bench.cwd / "xdg-cache"  # the default location: <user cache dir>/bench/cifar-10
    cache.mkdir()
    proc = bench("run", "--plugins", "numpy", "--steps", "2", "--quiet", "--results-dir", str(bench.results),
                 BENCH_OFFLINE="0", BENCH_CIFAR10_URL=f"{mirror}/wrong.tar.gz", XDG_CACHE_HOME=str(cache))
    clean_error(proc, 1, "checksum mismatch")
    assert list(cache.iterdir()) == []  # neither bench/ nor bench/cifar-10/ is left behind


# -- concurrent first downloads -----------------------------------------------------------


def _start_runs(bench, data: Path, url: str, count: int) -> list:
    return [
        bench.popen("run", "--plugins", "numpy", "--data-dir", str(data), "--steps", "2", "--batch-size", "4",
                    "--quiet", "--results-dir", str(bench.cwd / f"results-{i}"),
                    BENCH_OFFLINE="0", BENCH_CIFAR10_URL=url)
        for i in range(count)
    ]


def _finish(procs: list, timeout: float = 120) -> list[tuple[int, str, str]]:
    outcomes = []
    for proc in procs:
        try:
            out, err = proc.communicate(timeout=timeout)
        except BaseException:
            for other in procs:
                other.kill()
            raise
        outcomes.append((proc.returncode, out, err))
    return outcomes


def test_concurrent_first_downloads_wait_for_one_and_all_use_it(bench, server) -> None:
    """Four runs start on an empty data directory at once: one downloads (about 2 s, so the
    others arrive while it is under way), the others wait for it, and all four train on it."""
    files = fake_python_files()
    server.archive = tarball(files)
    official_archive_is(bench, md5=hashlib.md5(server.archive).hexdigest(), size=len(server.archive),
                        files={name: hashlib.md5(data).hexdigest() for name, data in files.items()})
    data = bench.cwd / "data"

    outcomes = _finish(_start_runs(bench, data, f"{server.base}/slow/archive", 4))

    for code, out, err in outcomes:
        assert code == 0 and "Traceback" not in err, (code, out, err)
        assert " ok " in out, out
    assert server.gets.count("/slow/archive") == 1, server.gets
    assert sorted(p.name for p in data.iterdir()) == ["cifar-10-batches-py"]  # no lock, .part or archive left
    assert sorted(p.name for p in (data / "cifar-10-batches-py").iterdir()) == sorted(files)


def test_concurrent_downloads_of_a_bad_mirror_each_fail_cleanly(bench, server) -> None:
    data = bench.cwd / "data"
    outcomes = _finish(_start_runs(bench, data, f"{server.base}/slow/wrong", 4))
    for code, _, err in outcomes:
        lines = [line for line in err.splitlines() if ": error: " in line]
        assert code == 1 and "Traceback" not in err and len(lines) == 1, err
        assert "checksum mismatch" in lines[0] and OFFICIAL_MD5 in lines[0], lines[0]
    # Each failure removed its download and lock file. The directory goes with the last one,
    # unless a waiter re-created the lock file in the instant between a failing holder's
    # unlink and rmdir: then it stays, empty.
    assert not data.exists() or list(data.iterdir()) == []


# -- slow, endless and oversized responses ------------------------------------------------


def test_a_trickling_server_is_given_up_on(bench, clean_error, mirror) -> None:
    data = bench.cwd / "data"
    start = time.monotonic()
    proc = _download(bench, data, f"{mirror}/trickle", timeout=30,
                     BENCH_DOWNLOAD_MIN_RATE="1000", BENCH_DOWNLOAD_RATE_WINDOW="1")
    clean_error(proc, 1, "/trickle", "bytes/s", "BENCH_DOWNLOAD_MIN_RATE", "run again to resume")
    assert time.monotonic() - start < 20
    _no_good_file_left(data)


def test_a_download_past_its_deadline_is_stopped(bench, clean_error, mirror) -> None:
    data = bench.cwd / "data"
    start = time.monotonic()
    proc = _download(bench, data, f"{mirror}/steady", timeout=30, BENCH_DOWNLOAD_DEADLINE="2")
    clean_error(proc, 1, "/steady", "deadline", "BENCH_DOWNLOAD_DEADLINE", "run again to resume")
    assert time.monotonic() - start < 20
    _no_good_file_left(data)


def test_a_response_larger_than_the_official_archive_is_refused_at_once(bench, clean_error, mirror) -> None:
    data = bench.cwd / "data"
    proc = _download(bench, data, f"{mirror}/huge")
    clean_error(proc, 1, "/huge", str(10**12), str(OFFICIAL_SIZE))
    assert not data.exists()


def test_an_endless_response_stops_at_the_official_size(bench, clean_error, mirror) -> None:
    official_archive_is(bench, size=100_000)  # the cap is the official size; a small one keeps this quick
    data = bench.cwd / "data"
    proc = _download(bench, data, f"{mirror}/endless")
    clean_error(proc, 1, "/endless", "more than the 100000 bytes")
    assert not data.exists()  # the oversized download was deleted, and the directory with it


# -- bad URLs, read-only and full data directories ------------------------------------------


@pytest.mark.parametrize("url", ["garbage", "http://[::1", "ftp://example.org/cifar.tar.gz",
                                 "http://127.0.0.1:99999/x", "http:///no-host"])
def test_a_malformed_mirror_url_is_a_usage_error(bench, clean_error, url) -> None:
    data = bench.cwd / "data"
    proc = _download(bench, data, url)
    clean_error(proc, 2, "BENCH_CIFAR10_URL", repr(url))
    assert not data.exists()


def _read_only_dir(bench, path: Path) -> list[str]:
    """A read-only ``path`` for the child: a read-only tmpfs (root ignores file modes), else chmod."""
    if os.geteuid() == 0:
        return in_mount_namespace(path, options="ro")
    path.mkdir()
    path.chmod(0o555)
    return []


def test_a_read_only_data_directory_is_a_clear_error(bench, clean_error, mirror) -> None:
    data = bench.cwd / "read-only"
    prefix = _read_only_dir(bench, data)
    proc = run_bench(bench, "run", "--plugins", "numpy", "--data-dir", str(data), "--steps", "2", "--quiet",
                     "--results-dir", str(bench.results), prefix=prefix,
                     BENCH_OFFLINE="0", BENCH_CIFAR10_URL=f"{mirror}/wrong.tar.gz")
    clean_error(proc, 1, f"cannot write in the data directory {data}", "--data-dir")


def test_a_file_size_limit_during_a_download_is_a_clear_error(bench, clean_error, mirror) -> None:
    data = bench.cwd / "data"
    proc = run_bench(bench, "run", "--plugins", "numpy", "--data-dir", str(data), "--steps", "2", "--quiet",
                     "--results-dir", str(bench.results), limits=rlimits(fsize=1000),
                     BENCH_OFFLINE="0", BENCH_CIFAR10_URL=f"{mirror}/wrong.tar.gz")
    clean_error(proc, 1, "cannot write", "cifar-10-python.tar.gz.part", "File too large")


def test_a_full_disk_during_a_download_says_so(bench, clean_error, mirror) -> None:
    data = bench.cwd / "full"
    prefix = in_mount_namespace(data, options="size=256k", fill=True)
    proc = run_bench(bench, "run", "--plugins", "numpy", "--data-dir", str(data), "--steps", "2", "--quiet",
                     "--results-dir", str(bench.results), prefix=prefix,
                     BENCH_OFFLINE="0", BENCH_CIFAR10_URL=f"{mirror}/wrong.tar.gz")
    line = clean_error(proc, 1, "no space left on device", str(data), "free")
    assert "interrupted" not in line
    assert left_in(data) == []  # no lock file, and no empty .part

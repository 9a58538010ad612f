"""Downloading from a local http.server: verify, resume, refuse unsafe archives."""

from __future__ import annotations

import errno
import io
import os
import re
import shutil
import socket
import tarfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from cifar_files import FakeCifar, md5

from bench.dataset import load_dataset
from bench.dataset.checksums import Archive
from bench.dataset.download import Limits, check_url, download, ensure_cifar10, extract_archive
from bench.dataset.lock import LOCK_NAME, directory_lock
from bench.errors import DataError, UsageError


@dataclass
class Server:
    """Serves ``files`` by path. ``mode``: "range" (honours Range), "norange", "truncate"
    (sends half the body, then hangs up), "hang" (never answers), "slow" (the body in 10
    pieces, 0.1 s apart), "trickle" (one byte every 0.1 s) or "nolength" (no Content-Length:
    the body, then the connection closes)."""

    base: str = ""
    files: dict[str, bytes] = field(default_factory=dict)
    mode: str = "range"
    ranges: list[str | None] = field(default_factory=list)

    def url(self, path: str) -> str:
        return self.base + path


class _Handler(BaseHTTPRequestHandler):
    server: ThreadingHTTPServer

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        state: Server = self.server.state  # type: ignore[attr-defined]
        state.ranges.append(self.headers.get("Range"))
        if state.mode == "hang":
            time.sleep(3)
            return
        body = state.files.get(self.path)
        if body is None:
            self.send_error(404, "Not Found")
            return
        start = 0
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        if match and state.mode != "norange":
            start = int(match.group(1))
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        payload = body[start:]
        if state.mode == "nolength":
            self.end_headers()
            self.wfile.write(payload)
            self.close_connection = True
            return
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        try:
            if state.mode in ("slow", "trickle"):
                step = 1 if state.mode == "trickle" else -(-len(payload) // 10)
                for i in range(0, len(payload), step):
                    self.wfile.write(payload[i : i + step])
                    self.wfile.flush()
                    time.sleep(0.1)
                return
        except (BrokenPipeError, ConnectionResetError):
            return
        if state.mode == "truncate":
            self.wfile.write(payload[: len(payload) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(payload)


@pytest.fixture
def server() -> Iterator[Server]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    state = Server(base=f"http://127.0.0.1:{httpd.server_address[1]}")
    httpd.state = state  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


def _tarball(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def _cifar_tarball(copy: FakeCifar) -> bytes:
    members = [(_dir("cifar-10-batches-py"), None)]
    for path in sorted(copy.directory.iterdir()):
        members.append((tarfile.TarInfo(f"cifar-10-batches-py/{path.name}"), path.read_bytes()))
    members.append((tarfile.TarInfo("cifar-10-batches-py/readme.html"), b"<html></html>"))
    return _tarball(members)


def _dir(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    return info


def _special(name: str, kind: bytes, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info


def _archive(server: Server, data: bytes, md5sum: str | None = None) -> Archive:
    server.files["/cifar-10-python.tar.gz"] = data
    return Archive(
        url=server.url("/cifar-10-python.tar.gz"),
        md5=md5sum or md5(data),
        filename="cifar-10-python.tar.gz",
        directory="cifar-10-batches-py",
    )


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def test_download_verify_extract_and_load(
    server: Server, python_copy: FakeCifar, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    archive = _archive(server, _cifar_tarball(python_copy))
    cache = tmp_path / "cache"

    dataset = load_dataset(data_dir=str(cache), archive=archive, checksums=python_copy.manifest)

    assert dataset.details["downloaded"] is True
    assert dataset.details["md5_ok"] is True
    assert dataset.source == str(cache / "cifar-10-batches-py")
    assert dataset.train_images.shape == (20, 3072) and dataset.train_images.dtype == np.float32
    np.testing.assert_array_equal(dataset.train_labels, python_copy.train_labels)
    assert _leftovers(cache) == ["cifar-10-batches-py"]  # no archive, .part or staging dir left
    assert (cache / "cifar-10-batches-py" / "readme.html").is_file()
    assert capfd.readouterr().err == ""  # no progress bar when stderr is not a terminal

    again = load_dataset(data_dir=str(cache), archive=archive, checksums=python_copy.manifest)
    assert again.details["downloaded"] is False
    assert len(server.ranges) == 1


def test_archive_checksum_mismatch_is_refused_before_extraction(
    server: Server, python_copy: FakeCifar, tmp_path: Path
) -> None:
    archive = _archive(server, _cifar_tarball(python_copy), md5sum="0" * 32)
    cache = tmp_path / "cache"
    with pytest.raises(
        DataError,
        match=r"checksum mismatch for http://127\.0\.0\.1:\d+/cifar-10-python\.tar\.gz: "
        r"expected md5 0{32}, got [0-9a-f]{32}",
    ):
        ensure_cifar10(cache, archive)
    assert _leftovers(cache) == []


@pytest.mark.parametrize(
    "member",
    [
        (tarfile.TarInfo("../evil"), b"owned"),
        (tarfile.TarInfo("cifar-10-batches-py/../../evil"), b"owned"),
        (tarfile.TarInfo("/tmp/bench-test-absolute-evil"), b"owned"),
        (_special("cifar-10-batches-py/data_batch_1", tarfile.SYMTYPE, "/etc/passwd"), None),
        (_special("cifar-10-batches-py/link", tarfile.SYMTYPE, "../../evil"), None),
        (_special("cifar-10-batches-py/hard", tarfile.LNKTYPE, "/etc/passwd"), None),
        (_special("cifar-10-batches-py/dev", tarfile.CHRTYPE), None),
        (_special("cifar-10-batches-py/fifo", tarfile.FIFOTYPE), None),
    ],
    ids=["dotdot", "nested-dotdot", "absolute", "symlink", "relative-symlink", "hardlink", "device", "fifo"],
)
def test_unsafe_archive_members_are_refused_and_nothing_is_written(
    server: Server, python_copy: FakeCifar, tmp_path: Path, member: tuple[tarfile.TarInfo, bytes | None]
) -> None:
    members = [(_dir("cifar-10-batches-py"), None)]
    members += [
        (tarfile.TarInfo(f"cifar-10-batches-py/{p.name}"), p.read_bytes())
        for p in sorted(python_copy.directory.iterdir())
    ]
    members.append(member)
    archive = _archive(server, _tarball(members))  # the md5 matches: only the contents are wrong
    cache = tmp_path / "deep" / "cache"

    with pytest.raises(DataError, match=r"unsafe archive member"):
        load_dataset(data_dir=str(cache), archive=archive, checksums=python_copy.manifest)

    assert not (tmp_path / "evil").exists() and not (tmp_path / "deep" / "evil").exists()
    assert not Path("/tmp/bench-test-absolute-evil").exists()
    assert _leftovers(cache) == []  # no half-extracted directory, staging dir or archive


def test_extract_refuses_to_replace_an_existing_directory(tmp_path: Path, python_copy: FakeCifar) -> None:
    tarball = tmp_path / "a.tar.gz"
    tarball.write_bytes(_cifar_tarball(python_copy))
    (tmp_path / "out" / "cifar-10-batches-py").mkdir(parents=True)
    with pytest.raises(DataError, match="exists but is not a complete CIFAR-10 copy"):
        extract_archive(tarball, tmp_path / "out", "cifar-10-batches-py")


def test_interrupted_download_then_resume(server: Server, tmp_path: Path) -> None:
    body = np.random.default_rng(0).integers(0, 256, 100_000, dtype=np.uint8).tobytes()
    server.files["/blob"] = body
    dest = tmp_path / "blob"
    part = tmp_path / "blob.part"

    server.mode = "truncate"
    with pytest.raises(DataError, match=r"download of .*/blob interrupted after 50000 bytes .*run again to resume"):
        download(server.url("/blob"), dest, md5=md5(body))
    assert not dest.exists()
    assert part.read_bytes() == body[:50_000]

    server.mode = "range"
    download(server.url("/blob"), dest, md5=md5(body))
    assert server.ranges[-1] == "bytes=50000-"
    assert dest.read_bytes() == body
    assert not part.exists()


def test_resume_ignored_by_the_server_starts_over(server: Server, tmp_path: Path) -> None:
    body = b"0123456789" * 1000
    server.files["/blob"] = body
    (tmp_path / "blob.part").write_bytes(b"garbage that is not a prefix")
    server.mode = "norange"
    download(server.url("/blob"), tmp_path / "blob", md5=md5(body))
    assert server.ranges == ["bytes=28-"]
    assert (tmp_path / "blob").read_bytes() == body


def test_partial_file_already_complete(server: Server, tmp_path: Path) -> None:
    body = b"abc" * 100
    server.files["/blob"] = body
    (tmp_path / "blob.part").write_bytes(body)
    download(server.url("/blob"), tmp_path / "blob", md5=md5(body))  # server answers 416
    assert (tmp_path / "blob").read_bytes() == body


def test_corrupt_resumed_download_is_deleted(server: Server, tmp_path: Path) -> None:
    body = b"abcdefgh" * 100
    server.files["/blob"] = body
    (tmp_path / "blob.part").write_bytes(b"X" * 10)  # wrong prefix, server honours the range
    with pytest.raises(DataError, match="checksum mismatch"):
        download(server.url("/blob"), tmp_path / "blob", md5=md5(body))
    assert _leftovers(tmp_path) == []
    download(server.url("/blob"), tmp_path / "blob", md5=md5(body))  # the retry starts clean
    assert (tmp_path / "blob").read_bytes() == body


def test_http_error(server: Server, tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"could not download .*/missing: HTTP 404"):
        download(server.url("/missing"), tmp_path / "x", md5="0" * 32)
    assert _leftovers(tmp_path) == []


def test_connection_refused(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(DataError, match=r"could not download http://127\.0\.0\.1:\d+/x: .*refused"):
        download(f"http://127.0.0.1:{port}/x", tmp_path / "x", md5="0" * 32)


def test_socket_timeout(server: Server, tmp_path: Path) -> None:
    server.mode = "hang"
    start = time.perf_counter()
    with pytest.raises(DataError, match="timed out"):
        download(server.url("/blob"), tmp_path / "x", md5="0" * 32, timeout=0.5)
    assert time.perf_counter() - start < 2.5
    assert not (tmp_path / "x").exists()


def test_progress_bar_only_on_a_terminal(server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    server.files["/blob"] = b"x" * 300_000
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    download(server.url("/blob"), tmp_path / "blob", md5=md5(b"x" * 300_000))
    assert "blob:" in terminal.getvalue() and "293k" in terminal.getvalue()  # name and size


# -- one download at a time -------------------------------------------------------------------


def test_concurrent_first_downloads_fetch_once_and_share_it(
    server: Server, python_copy: FakeCifar, tmp_path: Path
) -> None:
    archive = _archive(server, _cifar_tarball(python_copy))
    server.mode = "slow"  # about 1 s: the others arrive while it runs
    cache = tmp_path / "cache"
    with ThreadPoolExecutor(4) as pool:
        paths = list(pool.map(lambda _: ensure_cifar10(cache, archive), range(4)))
    assert paths == [cache / "cifar-10-batches-py"] * 4
    assert len(server.ranges) == 1
    assert _leftovers(cache) == ["cifar-10-batches-py"]


def test_ensure_uses_a_copy_that_appeared_while_it_waited(server: Server, python_copy: FakeCifar) -> None:
    archive = _archive(server, b"never fetched")
    assert ensure_cifar10(python_copy.directory.parent, archive) == python_copy.directory
    assert server.ranges == []


def test_the_lock_waits_for_its_holder_then_times_out(tmp_path: Path) -> None:
    told: list[str] = []
    with directory_lock(tmp_path, wait=1):
        assert (tmp_path / LOCK_NAME).is_file()
        start = time.monotonic()
        with pytest.raises(DataError, match=rf"another bench process has held {re.escape(str(tmp_path))}.* for more"):
            with directory_lock(tmp_path, wait=0.3, notice=told.append):
                pass
        assert 0.3 <= time.monotonic() - start < 2
    assert told == [f"bench: waiting for another bench process downloading into {tmp_path}"]
    assert not (tmp_path / LOCK_NAME).exists()  # removed by its holder


def test_a_waiter_never_shares_the_lock_with_a_newcomer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The race the inode check exists for, made to happen: a waiter has the lock file open; the
    holder removes it and lets go; a newcomer creates and locks a new file at the same path; only
    then does the waiter's lock on the old, removed file succeed. It must notice and wait."""
    import contextlib

    import bench.dataset.lock as lock

    holder = contextlib.ExitStack()
    holder.enter_context(directory_lock(tmp_path, wait=1))
    newcomer_in, newcomer_out = threading.Event(), []
    real_try_lock = lock._try_lock
    staged: list[bool] = []

    def newcomer() -> None:
        with directory_lock(tmp_path, wait=5, notice=lambda _: None):
            newcomer_in.set()
            time.sleep(0.4)
            newcomer_out.append(time.monotonic())

    def try_lock(fd: int) -> bool:
        if not staged:  # the waiter's first attempt, on the holder's file
            staged.append(True)
            holder.close()  # removes the file and lets go
            threading.Thread(target=newcomer, daemon=True).start()
            assert newcomer_in.wait(5)
        return real_try_lock(fd)

    monkeypatch.setattr(lock, "_try_lock", try_lock)
    with directory_lock(tmp_path, wait=5, notice=lambda _: None):
        entered = time.monotonic()
    assert staged and newcomer_out, "the race was not staged"
    assert entered >= newcomer_out[0], "the waiter held a removed lock file while the newcomer held the lock"
    assert not (tmp_path / LOCK_NAME).exists()


def test_a_stale_lock_file_is_taken_over_and_removed(tmp_path: Path) -> None:
    (tmp_path / LOCK_NAME).write_text("")  # left by a killed process: nobody holds it
    with directory_lock(tmp_path, wait=0.5, notice=pytest.fail):
        pass
    assert not (tmp_path / LOCK_NAME).exists()


def test_an_unwritable_data_directory_is_named(server: Server, python_copy: FakeCifar, tmp_path: Path) -> None:
    archive = _archive(server, _cifar_tarball(python_copy))
    cache = tmp_path / "cache"
    (cache / LOCK_NAME).mkdir(parents=True)  # the lock file cannot be created (as read-only would)
    with pytest.raises(DataError, match=rf"cannot write in the data directory {re.escape(str(cache))}: .*--data-dir"):
        ensure_cifar10(cache, archive)
    assert server.ranges == []


def test_a_part_file_that_cannot_be_opened_is_named(server: Server, tmp_path: Path) -> None:
    server.files["/blob"] = b"abc"
    (tmp_path / "blob.part").mkdir()
    with pytest.raises(DataError, match=r"cannot write .*blob\.part"):
        download(server.url("/blob"), tmp_path / "blob", md5=md5(b"abc"))


# -- directories bench made are removed again after a failure ---------------------------------


def test_a_failed_download_removes_the_directories_it_created(
    server: Server, python_copy: FakeCifar, tmp_path: Path
) -> None:
    archive = _archive(server, _cifar_tarball(python_copy), md5sum="0" * 32)
    (tmp_path / "mine").mkdir()
    with pytest.raises(DataError, match="checksum mismatch"):
        ensure_cifar10(tmp_path / "mine" / "a" / "b", archive)
    assert _leftovers(tmp_path / "mine") == []  # a/ and a/b/ are gone, mine/ (not bench's) stays


def test_a_partial_download_keeps_its_directories_for_the_resume(
    server: Server, python_copy: FakeCifar, tmp_path: Path
) -> None:
    archive = _archive(server, _cifar_tarball(python_copy))
    server.mode = "truncate"
    with pytest.raises(DataError, match="run again to resume"):
        ensure_cifar10(tmp_path / "a" / "b", archive)
    assert _leftovers(tmp_path / "a" / "b") == ["cifar-10-python.tar.gz.part"]


# -- deadline, minimum rate, size cap -------------------------------------------------------


def test_a_trickle_is_given_up_below_the_minimum_rate(server: Server, tmp_path: Path) -> None:
    server.files["/blob"] = b"x" * 1000
    server.mode = "trickle"
    start = time.monotonic()
    says = (r"too slow: \d+ bytes/s over the last [\d.]+ s, below the minimum of 100 bytes/s "
            r"\(set BENCH_DOWNLOAD_MIN_RATE to change it\); run again to resume")
    with pytest.raises(DataError, match=says):
        download(server.url("/blob"), tmp_path / "blob", md5=md5(b"x" * 1000),
                 limits=Limits(min_rate=100, rate_window=0.5))
    assert time.monotonic() - start < 3
    assert (tmp_path / "blob.part").stat().st_size > 0  # kept: the next run resumes it


def test_a_download_past_its_deadline_is_stopped(server: Server, tmp_path: Path) -> None:
    body = b"y" * 100_000
    server.files["/blob"] = body
    server.mode = "slow"  # 1 s in all, at a good rate
    with pytest.raises(DataError, match=r"passed its deadline of 0.3 s after \d+ bytes \(set BENCH_DOWNLOAD_DEADLINE"):
        download(server.url("/blob"), tmp_path / "blob", md5=md5(body), limits=Limits(deadline=0.3))


def test_the_limits_come_from_the_environment() -> None:
    assert Limits.from_env({}) == Limits(deadline=3600, min_rate=10240, rate_window=60)
    env = {"BENCH_DOWNLOAD_DEADLINE": "2.5", "BENCH_DOWNLOAD_MIN_RATE": "0", "BENCH_DOWNLOAD_RATE_WINDOW": " 3 "}
    assert Limits.from_env(env) == Limits(deadline=2.5, min_rate=0, rate_window=3)
    for name, value in [("BENCH_DOWNLOAD_DEADLINE", "0"), ("BENCH_DOWNLOAD_DEADLINE", "soon"),
                        ("BENCH_DOWNLOAD_MIN_RATE", "-1"), ("BENCH_DOWNLOAD_RATE_WINDOW", "inf"),
                        ("BENCH_DOWNLOAD_RATE_WINDOW", "nan")]:
        with pytest.raises(UsageError, match=rf"{name} must be .*got {re.escape(repr(value))}"):
            Limits.from_env({name: value})


def test_an_announced_size_above_the_cap_is_refused_before_reading(server: Server, tmp_path: Path) -> None:
    server.files["/blob"] = b"z" * 1000
    with pytest.raises(DataError, match=r"offers 1000 bytes, more than the official archive's 999; refusing"):
        download(server.url("/blob"), tmp_path / "blob", md5="0" * 32, size=999)
    assert _leftovers(tmp_path) == []


def test_an_unannounced_body_is_cut_off_at_the_cap(server: Server, tmp_path: Path) -> None:
    server.files["/blob"] = b"z" * 300_000
    server.mode = "nolength"
    with pytest.raises(DataError, match=r"sent more than the 1000 bytes of the official archive; stopped and deleted"):
        download(server.url("/blob"), tmp_path / "blob", md5="0" * 32, size=1000)
    assert _leftovers(tmp_path) == []


def test_exactly_the_capped_size_is_fine(server: Server, tmp_path: Path) -> None:
    server.files["/blob"] = b"z" * 1000
    server.mode = "nolength"
    download(server.url("/blob"), tmp_path / "blob", md5=md5(b"z" * 1000), size=1000)
    assert (tmp_path / "blob").read_bytes() == b"z" * 1000


def test_an_oversized_part_file_is_discarded(server: Server, tmp_path: Path) -> None:
    body = b"q" * 100
    server.files["/blob"] = body
    (tmp_path / "blob.part").write_bytes(b"q" * 101)
    download(server.url("/blob"), tmp_path / "blob", md5=md5(body), size=100)
    assert server.ranges == [None]  # no resume from a file that cannot be a prefix
    assert (tmp_path / "blob").read_bytes() == body


# -- local write failures are named as such -------------------------------------------------


@pytest.mark.parametrize(
    ("code", "says"),
    [
        (errno.ENOSPC, r"no space left on device for .*blob\.part \(0 of 1000 bytes written\); free some space in"),
        (errno.EDQUOT, r"disk quota exceeded writing .*blob\.part"),
        (errno.EFBIG, r"cannot write .*blob\.part past 0 bytes: File too large"),
        (errno.EIO, r"cannot write .*blob\.part \(0 of 1000 bytes written\): Input/output error"),
    ],
)
def test_a_write_failure_is_not_called_an_interrupted_download(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, says: str
) -> None:
    def fail(out: object, data: bytes) -> None:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr("bench.dataset.download._write_all", fail)
    server.files["/blob"] = b"w" * 1000
    with pytest.raises(DataError, match=says) as err:
        download(server.url("/blob"), tmp_path / "blob", md5=md5(b"w" * 1000))
    assert "interrupted" not in str(err.value)
    assert _leftovers(tmp_path) == []  # an empty .part is not kept


def test_no_space_while_extracting_keeps_the_verified_archive(
    server: Server, python_copy: FakeCifar, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = _archive(server, _cifar_tarball(python_copy))
    cache = tmp_path / "cache"
    real_copy = shutil.copyfileobj

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(shutil, "copyfileobj", full)
    with pytest.raises(DataError, match=r"no space left on device while extracting .*the verified archive was kept"):
        ensure_cifar10(cache, archive)
    assert _leftovers(cache) == ["cifar-10-python.tar.gz"]

    monkeypatch.setattr(shutil, "copyfileobj", real_copy)
    assert ensure_cifar10(cache, archive) == cache / "cifar-10-batches-py"
    assert len(server.ranges) == 1  # the kept archive was used, not fetched again
    assert _leftovers(cache) == ["cifar-10-batches-py"]


# -- URLs -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["garbage", "http://[::1", "ftp://example.org/x", "file:///etc/passwd", "http:///x",
            "http://127.0.0.1:99999/x", "http://127.0.0.1:port/x", "https://", ""],
)
def test_unusable_urls_are_usage_errors(url: str, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=rf"\$BENCH_CIFAR10_URL {re.escape(repr(url))} is not a usable URL"):
        check_url(url, "$BENCH_CIFAR10_URL")
    with pytest.raises(UsageError, match="is not a usable URL"):
        download(url, tmp_path / "x", md5="0" * 32)
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8000/a.tar.gz", "https://www.cs.toronto.edu/~kriz/x", "http://[::1]:80/"]
)
def test_usable_urls_pass(url: str) -> None:
    assert check_url(url) == url


def test_a_malformed_mirror_url_is_refused_before_anything_is_written(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("BENCH_CIFAR10_URL", "http://[::1")
    with pytest.raises(UsageError, match=r"\$BENCH_CIFAR10_URL 'http://\[::1' is not a usable URL"):
        load_dataset(data_dir=str(tmp_path / "cache"))
    assert not (tmp_path / "cache").exists()

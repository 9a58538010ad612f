"""Downloading from a local http.server: verify, resume, refuse unsafe archives."""

from __future__ import annotations

import io
import re
import socket
import tarfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from cifar_files import FakeCifar, md5

from bench.dataset import load_dataset
from bench.dataset.checksums import Archive
from bench.dataset.download import download, ensure_cifar10, extract_archive
from bench.errors import DataError


@dataclass
class Server:
    """Serves ``files`` by path. ``mode``: "range" (honours Range), "norange", "truncate"
    (sends half the body, then hangs up) or "hang" (never answers)."""

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
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
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

"""Download failures through the real command: a mirror that breaks, one that serves the
wrong bytes, and no server at all (``BENCH_CIFAR10_URL`` points at a local server)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest


class _Mirror(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.path.endswith("/truncated.tar.gz"):
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(b"x" * 1000)  # then the connection drops
            self.close_connection = True
        else:  # a whole file, but not the official archive
            body = b"not the CIFAR-10 archive\n" * 200
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def mirror() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Mirror)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


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


def test_interrupted_download_is_a_clear_error(bench, clean_error, mirror) -> None:
    data = bench.cwd / "data"
    proc = bench.run("--plugins", "numpy", "--data-dir", str(data), "--steps", "2",
                     BENCH_OFFLINE="0", BENCH_CIFAR10_URL=f"{mirror}/truncated.tar.gz")
    clean_error(proc, 1, "truncated.tar.gz")
    _no_good_file_left(data)
    assert not bench.saved() or all(doc["results"] == [] for doc in bench.saved())


def test_wrong_bytes_from_a_mirror_are_refused_and_removed(bench, clean_error, mirror) -> None:
    data = bench.cwd / "data"
    proc = bench.run("--plugins", "numpy", "--data-dir", str(data), "--steps", "2",
                     BENCH_OFFLINE="0", BENCH_CIFAR10_URL=f"{mirror}/wrong.tar.gz")
    clean_error(proc, 1, "checksum mismatch", "c58f30108f718f92721af3b95e74349a")
    _no_good_file_left(data)
    assert not any(data.glob("*.part"))  # a bad file is not kept for a resume


def test_no_server_is_a_clear_error(bench, clean_error) -> None:
    data = bench.cwd / "data"
    proc = bench.run("--plugins", "numpy", "--data-dir", str(data), "--steps", "2",
                     BENCH_OFFLINE="0", BENCH_CIFAR10_URL=f"http://127.0.0.1:{_closed_port()}/cifar-10-python.tar.gz")
    clean_error(proc, 1)
    _no_good_file_left(data)

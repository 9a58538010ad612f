"""``bench new-plugin`` where the files cannot be written: a full disk, a file size limit."""

from __future__ import annotations

from cli_sandbox import in_mount_namespace, left_in, rlimits, run_bench


def test_new_plugin_on_a_full_disk_says_so_and_leaves_nothing(bench, clean_error) -> None:
    target = bench.cwd / "full"
    prefix = in_mount_namespace(target, options="size=64k", fill=True)
    proc = run_bench(bench, "new-plugin", "disk-demo", "--dir", str(target), prefix=prefix)
    clean_error(proc, 1, "cannot write", str(target / "bench-disk-demo"), "No space left on device")
    assert left_in(target) == []  # what was written before the disk filled is removed


def test_new_plugin_past_a_file_size_limit_is_a_clear_error(bench, clean_error) -> None:
    proc = run_bench(bench, "new-plugin", "disk-demo", "--dir", str(bench.cwd), limits=rlimits(fsize=100))
    clean_error(proc, 1, "cannot write", str(bench.cwd / "bench-disk-demo"), "File too large")
    assert not (bench.cwd / "bench-disk-demo").exists()  # what was written is removed

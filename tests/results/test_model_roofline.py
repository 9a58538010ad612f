"""bench/results/model.py: ``RunDocument.ceilings`` and ``ceilings_for``, the one reader of
the roofline section's layout (``ceilings`` by device for the run's threads, ``by_threads``
for the other thread counts of a sweep)."""

from __future__ import annotations

from bench.results.model import RunDocument

CPU1 = {"peak_flops_per_second": 1e11, "memory_bytes_per_second": 1e10}
CPU4 = {"peak_flops_per_second": 4e11, "memory_bytes_per_second": 2e10}
GPU = {"peak_flops_per_second": 6e13, "memory_bytes_per_second": 4e12}


def _document(roofline: object) -> RunDocument:
    return RunDocument("r", "", None, {}, {}, roofline=roofline)  # type: ignore[arg-type]


def test_the_run_s_threads_read_ceilings_and_other_threads_read_by_threads():
    document = _document({"ceilings": {"cpu": CPU1, "gpu:0": GPU, "gpu:1": "bad"}, "threads": 1,
                          "by_threads": {"4": {"cpu": CPU4}}})
    assert document.ceilings() == {"cpu": CPU1, "gpu:0": GPU}  # an entry that is not an object is left out
    assert document.ceilings_for("cpu") == CPU1
    assert document.ceilings_for("cpu", 1) == CPU1
    assert document.ceilings_for("cpu", 4) == CPU4
    assert document.ceilings_for("gpu:0", 4) is None  # only the CPU was measured with 4 threads
    assert document.ceilings_for("cpu", 8) is None
    assert document.ceilings_for("gpu:7") is None


def test_a_section_without_threads_has_one_set_of_ceilings():
    document = _document({"ceilings": {"cpu": CPU1}})
    assert document.ceilings_for("cpu", 4) == CPU1 and document.ceilings_for("cpu", None) == CPU1


def test_no_section_or_a_malformed_one_has_no_ceilings():
    for section in (None, {}, {"ceilings": "x"}, {"ceilings": {"cpu": CPU1}, "threads": 1, "by_threads": []}):
        document = _document(section)
        assert document.ceilings(2) == {} and document.ceilings_for("cpu", 2) is None
    assert _document({"steps_per_second": 500.0}).ceilings() == {}  # schema 1: no ceilings

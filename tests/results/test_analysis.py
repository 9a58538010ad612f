"""bench/results/analysis.py: each row's parity reference is the first ok row of its batch
schedule whose parameters have the same names and shapes, and the report marks that row."""

from __future__ import annotations

import numpy as np

from bench.report.table import parity_note, results_table
from bench.results.analysis import ParityReferences, analyse
from bench.results.identity import references
from bench.results.model import ParameterSnapshots, Row, RunDocument, Status


def _snapshots(shapes: dict[str, tuple[int, ...]], value: float) -> ParameterSnapshots:
    params = {name: np.full(shape, value, dtype=np.float32) for name, shape in shapes.items()}
    return ParameterSnapshots(at_parity=params, final=params)


SOFTMAX = {"W": (3072, 10), "b": (10,)}
CNN = {"conv": (3, 3, 3, 8), "dense": (8, 10)}


def _run(entries: list[tuple[str, dict[str, tuple[int, ...]] | None, float]]) -> RunDocument:
    document = RunDocument("r", "", None, {}, {"parity_step": 10})
    refs = ParityReferences()
    for plugin, shapes, value in entries:
        row = Row.of(plugin=plugin, device="cpu", schedule_sha256="s", steps_per_second=1.0,
                     status=Status.OK if shapes else Status.FAILED)
        snapshots = _snapshots(shapes, value) if shapes else ParameterSnapshots()
        document.results.append(analyse(row, snapshots, refs, document))
    return document


def test_a_softmax_row_is_compared_with_the_first_softmax_row_not_a_cnn_before_it():
    document = _run([("cnn", CNN, 0.0), ("broken", None, 0.0), ("numpy", SOFTMAX, 1.0), ("tf-graph", SOFTMAX, 1.5),
                     ("cnn-2", CNN, 0.25)])
    rows = document.results
    assert [row.parity_reference for row in rows] == [0, None, 2, 2, 0]
    assert rows[3].parity_max_abs_diff == 0.5 and rows[3].final_max_abs_diff == 0.5
    assert rows[4].parity_max_abs_diff == 0.25
    assert references(document) == [rows[0], rows[2]]
    table = results_table(document, width=0, columns=["plugin", "parity"])
    cells = {line.split()[0]: line.split()[1] for line in table.splitlines()[2:]}
    assert cells == {"cnn": "ref", "broken": "-", "numpy": "ref", "tf-graph": "0.5", "cnn-2": "0.25"}
    assert "same names and shapes" in parity_note(document)


def test_a_saved_row_keeps_its_reference_and_older_files_fall_back_to_the_first_ok_row():
    document = _run([("cnn", CNN, 0.0), ("numpy", SOFTMAX, 1.0)])
    again = RunDocument.from_dict(document.to_dict())
    assert [row.parity_reference for row in again.results] == [0, 1]
    assert references(again) == again.results
    old = document.to_dict()
    for row in old["results"]:
        del row["parity_reference"]
    older = RunDocument.from_dict(old)
    assert references(older) == [older.results[0]]  # today's rule: the schedule's first ok row

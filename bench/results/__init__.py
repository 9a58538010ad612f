"""The measured result: the typed model, its storage, the rows' identity, the comparison.

- :mod:`~bench.results.model`: :class:`RunDocument`, :class:`Row`, :class:`Status`, :class:`StepStats`.
- :mod:`~bench.results.storage`: atomic writes after every row, :func:`load_run`.
- :mod:`~bench.results.identity`: a row's label, the varying settings, the row order, the
  key that matches rows across runs, the parity references.
- :mod:`~bench.results.compare`: two runs side by side, and the ``--fail-below`` gate.

What a run is turned into (tables, pictures, the pytest-benchmark export) is :mod:`bench.report`.
"""

from bench.results.model import SCHEMA_VERSION, ResultFormatError, Row, RunDocument, Status, StepStats
from bench.results.storage import DocumentWriter, load_run, write_json_atomic

__all__ = [
    "SCHEMA_VERSION",
    "DocumentWriter",
    "ResultFormatError",
    "Row",
    "RunDocument",
    "Status",
    "StepStats",
    "load_run",
    "write_json_atomic",
]

"""The measured result: the typed model, its storage, the pytest-benchmark export, the comparison.

- :mod:`~bench.results.model`: :class:`RunDocument`, :class:`Row`, :class:`Status`, :class:`StepStats`.
- :mod:`~bench.results.storage`: atomic writes after every row, :func:`load_run`.
- :mod:`~bench.results.export`: a run in pytest-benchmark's JSON layout.
- :mod:`~bench.results.compare`: two runs side by side, and the ``--fail-below`` gate.
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

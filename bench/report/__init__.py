"""Everything a run is turned into, each a function of the typed document
(:class:`bench.results.model.RunDocument`, or typed rows), as pytest-benchmark's
``table.py``, ``histogram.py`` and ``csv.py``:

- :mod:`~bench.report.text`: safe text, number formatting, the terminal's width.
- :mod:`~bench.report.table`: the results table, its columns, ``--format`` and ``--columns``.
- :mod:`~bench.report.run`: a run for a terminal (identity, problems, roofline, device
  speed-ups, timeline), all of it from :func:`~bench.report.run.render_run`.
- :mod:`~bench.report.compare`: two runs side by side (the pairing and the gate are
  :mod:`bench.results.compare`).
- :mod:`~bench.report.plan`: a sweep's plan, before anything runs.
- :mod:`~bench.report.export`: a run in pytest-benchmark's JSON layout.
- :mod:`~bench.report.plot`: pictures: a run, a sweep's scaling and seeds, the roofline.

Row labels, row order, varying settings and parity references come from
:mod:`bench.results.identity`; the roofline section from
:meth:`RunDocument.ceilings <bench.results.model.RunDocument.ceilings>`.
"""

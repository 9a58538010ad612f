"""Rate saved runs against this machine's roofline, and draw it.

    python tests/benchmarks/roofline_figures.py RUN.json [RUN.json ...] [--output ROOFLINE.json]
        [--plot ROOFLINE.png] [--remeasure]

For every row of the runs: the step's work from its classifier's spec (``work``, at the
run's batch size and the row's params), the CPU ceilings from ``bench.roofline`` (cached;
with the run's ``--threads``), and so the attainable steps/s and the row's fraction of it;
for tf-xla also the work counted from its compiled step. The runs' old ``roofline``
section (the unfused numpy bound) is shown beside. Prints a Markdown table; writes one
document with every row (``roofline.ceilings`` per device, ``flops_per_step`` and
``bytes_per_step`` per row) and its picture (``bench.plot_roofline``).

Until the runner fills these fields itself, this is how a run is put on the roofline.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bench.classifier import SetupConfig
from bench.plugins import installed_registry
from bench.roofline import cpu_ceilings, rate


def row_setup(document: dict[str, Any], row: dict[str, Any]) -> SetupConfig:
    """The SetupConfig the row's classifier got (one batch size per run: see bench.cli)."""
    config, dataset = document["config"], document["dataset"]
    return SetupConfig(
        learning_rate=config["learning_rate"], batch_size=config["batch_size"], input_dim=dataset["input_dim"],
        num_classes=dataset["num_classes"], device=row["device"], seed=config["seed"], threads=config["threads"],
        params=dict(row.get("params") or {}),
    )


def compiled_work(spec: Any, setup: SetupConfig) -> Any:
    """The classifier's own count of a fed step (``compiled_step_work``), if it has one."""
    classifier = spec.factory()
    if not hasattr(classifier, "compiled_step_work"):
        return None
    classifier.setup(setup)
    try:
        return classifier.compiled_step_work()
    finally:
        classifier.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--output", type=Path, help="write the combined, rated document here")
    parser.add_argument("--plot", type=Path, help="draw its roofline here (PNG/SVG/PDF)")
    parser.add_argument("--remeasure", action="store_true", help="measure the ceilings again")
    args = parser.parse_args()
    registry = installed_registry()

    documents = [json.loads(path.read_text()) for path in args.runs]
    threads = {doc["config"]["threads"] for doc in documents}
    if len(threads) != 1:
        parser.error(f"the runs used different --threads ({sorted(map(str, threads))}); rate them one setting at a time")
    ceilings = cpu_ceilings(threads.pop(), remeasure=args.remeasure)
    print(ceilings.describe(), "\n")

    rows, table = [], []
    for document in documents:
        unfused = (document.get("roofline") or {}).get("steps_per_second")
        for row in document["results"]:
            spec = registry.get(row["plugin"])
            setup = row_setup(document, row)
            work = spec.work(setup) if spec.work is not None else None
            rating = rate(row.get("steps_per_second"), work, ceilings if row["device"] == "cpu" else None)
            rated = {**row, "flops_per_step": work.flops if work else None, "bytes_per_step": work.bytes if work else None,
                     "attainable_steps_per_second": rating.attainable_steps_per_second,
                     "machine_roofline_fraction": rating.fraction, "limited_by": rating.limited_by,
                     "roofline_reason": rating.reason, "source_run": document["run_id"]}
            compiled = compiled_work(spec, setup) if row["status"] == "ok" else None
            if compiled is not None:
                rated["compiled_flops_per_step"], rated["compiled_bytes_per_step"] = compiled.flops, compiled.bytes
            rows.append(rated)
            unfused_share = row.get("roofline_fraction")
            table.append([
                row["plugin"], setup.batch_size, f"{row['steps_per_second']:.0f}" if row.get("steps_per_second") else "-",
                f"{work.flops / 1e6:.2f}" if work else "-", f"{work.bytes / 1e6:.3f}" if work else "-",
                f"{rating.attainable_steps_per_second:.0f}" if rating.attainable_steps_per_second else "-",
                f"{100 * rating.fraction:.1f}" if rating.fraction is not None else (rating.reason or "-"),
                rating.limited_by or "-",
                f"{100 * unfused_share:.0f} (of {unfused:.0f})" if unfused_share and unfused else "-",
                f"{compiled.flops / 1e6:.2f} / {compiled.bytes / 1e6:.3f}" if compiled else "-",
            ])
    headers = ["classifier", "batch", "steps/s", "MFLOP/step", "MB/step", "attainable steps/s", "% of roofline",
               "bound", "% of unfused numpy bound (steps/s)", "compiled MFLOP / MB"]
    print("| " + " | ".join(headers) + " |\n|" + " --- |" * len(headers))
    for line in table:
        print("| " + " | ".join(str(cell) for cell in line) + " |")

    combined = {
        "run_id": " + ".join(doc["run_id"] for doc in documents),
        "machine": documents[0].get("machine"),
        "config": documents[0].get("config"),
        "roofline": {"ceilings": {"cpu": ceilings.as_dict()},
                     "unfused_numpy_bound": {doc["run_id"]: doc.get("roofline") for doc in documents}},
        "results": rows,
    }
    if args.output:
        args.output.write_text(json.dumps(combined, indent=1, default=str) + "\n")
        print(f"\nsaved {args.output}")
    if args.plot:
        from bench.plot_roofline import plot_roofline

        print(f"saved {plot_roofline(combined, args.plot)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

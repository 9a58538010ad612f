"""One roofline picture (and table) from several rated runs of this machine.

    python benchmarks/roofline_picture.py RUN.json [RUN.json ...] -o ROOFLINE.png [--json COMBINED.json]

``bench plot --roofline RUN.json`` draws one run; a run has one batch size, so the linear
models (batch 100) and the MLP (batch 400) come from two runs. This puts the rows of
several runs made with the same ``--threads`` on one picture, with the ceilings of the
first run, and prints a Markdown table of each row's work and fraction of the roofline.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def number(row: dict, key: str, scale: float = 1.0, digits: int = 0) -> str:
    value = row.get(key)
    return f"{value / scale:.{digits}f}" if isinstance(value, (int, float)) else "-"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("-o", "--output", type=Path, required=True, help="the picture (PNG/SVG/PDF)")
    parser.add_argument("--json", type=Path, help="also write the combined document here")
    args = parser.parse_args()
    documents = [json.loads(path.read_text()) for path in args.runs]
    threads = {str((doc.get("roofline") or {}).get("threads")) for doc in documents}
    if len(threads) != 1:
        parser.error(f"the runs were rated with different threads ({', '.join(sorted(threads))})")
    rows = [row for doc in documents for row in doc["results"]]
    combined = {"run_id": " + ".join(doc["run_id"] for doc in documents), "roofline": documents[0]["roofline"],
                "machine": documents[0].get("machine"), "results": rows}

    headers = ["classifier", "steps/s", "MFLOP/step", "MB/step", "attainable steps/s", "% of roofline", "bound",
               "compiled MFLOP / MB"]
    print("| " + " | ".join(headers) + " |\n|" + " --- |" * len(headers))
    for row in rows:
        compiled = (f"{number(row, 'compiled_flops_per_step', 1e6, 2)} / {number(row, 'compiled_bytes_per_step', 1e6, 3)}"
                    if row.get("compiled_flops_per_step") else "-")
        print(f"| {row['plugin']} | {number(row, 'steps_per_second')} | {number(row, 'flops_per_step', 1e6, 2)} | "
              f"{number(row, 'bytes_per_step', 1e6, 3)} | {number(row, 'attainable_steps_per_second')} | "
              f"{number(row, 'roofline_fraction', 0.01, 1)} | "
              f"{row.get('roofline_bound') or row.get('roofline_reason') or '-'} | {compiled} |")
    if args.json:
        args.json.write_text(json.dumps(combined, indent=1) + "\n")
    from bench.report.plot.roofline import plot_roofline
    from bench.results.model import Row, RunDocument

    document = RunDocument(combined["run_id"], "", None, combined["machine"] or {}, {},
                           roofline=combined["roofline"], results=[Row.from_dict(row) for row in rows])
    print(f"\nsaved {plot_roofline(document, args.output)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

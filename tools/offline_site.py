"""Make this checkout importable as bench's distribution (``bench-harness``) without pip or a network.

    python tools/offline_site.py DIR

writes ``DIR/bench_harness-<version>.dist-info`` (``METADATA`` and ``entry_points.txt``, from
``pyproject.toml``), so that with ``PYTHONPATH=DIR:<repo>:<repo>/plugins`` Python finds
bench, its built-in plugins and their ``bench`` entry points exactly as after ``pip
install -e .``. For machines without network, whose Python already has bench's runtime
dependencies (tools/gpu_run.sh); nothing is installed and no dependency is checked.
Prints the PYTHONPATH to use.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _section(text: str, name: str) -> dict[str, str]:
    """``key = "value"`` lines of one TOML table (enough for bench's own pyproject.toml)."""
    match = re.search(rf"^\[{re.escape(name)}\]\s*$(.*?)(?=^\[|\Z)", text, re.MULTILINE | re.DOTALL)
    if match is None:
        return {}
    pairs = re.findall(r'^([A-Za-z0-9_.-]+)\s*=\s*"([^"]*)"\s*$', match.group(1), re.MULTILINE)
    return dict(pairs)


def write_dist_info(target: Path, pyproject: Path = REPO / "pyproject.toml") -> Path:
    text = pyproject.read_text()
    project = _section(text, "project")
    name, version = project["name"], project["version"]
    entry_points = {group: _section(text, f"project.{key}") for group, key in
                    (("bench", "entry-points.bench"), ("console_scripts", "scripts"))}
    info = target / f"{name.replace('-', '_')}-{version}.dist-info"  # a dash would split the name
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    lines = []
    for group, points in entry_points.items():
        if points:
            lines += [f"[{group}]", *(f"{key} = {value}" for key, value in points.items()), ""]
    (info / "entry_points.txt").write_text("\n".join(lines))
    return info


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    target = Path(argv[0]).resolve()
    write_dist_info(target)
    print(f"{target}:{REPO}:{REPO / 'plugins'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""``bench new-plugin``: write a new, installable plugin package from the templates.

The templates live in ``bench/templates/plugin/`` as ordinary files with placeholders
(:class:`string.Template`) for every field of :class:`PluginNames`: ``$name`` (the plugin:
entry point), ``$dist``, ``$module``, ``$class_name`` and ``$classifier`` (what
``--plugins`` takes; ``--classifier CLF``, else NAME). The result is a complete package::

    bench-NAME/
        pyproject.toml          entry point  [project.entry-points.bench] NAME = "bench_NAME"
        README.md
        bench_NAME/__init__.py  the hook: registers the classifier CLF
        bench_NAME/model.py     a working numpy softmax classifier (the reference's arithmetic)
        tests/test_bench_NAME.py  runs it through the harness on the synthetic dataset

(dashes in NAME become underscores in the module name).
"""

from __future__ import annotations

import importlib.metadata
import importlib.resources
import importlib.util
import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from string import Template

from bench.errors import BenchError, UsageError

NAME_PATTERN = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
TEMPLATE_DIR = ("templates", "plugin")
FILES = {
    # template under bench/templates/plugin/ -> path in the new package
    "pyproject.toml.tmpl": "pyproject.toml",
    "README.md.tmpl": "README.md",
    "package/__init__.py.tmpl": "{module}/__init__.py",
    "package/model.py.tmpl": "{module}/model.py",
    "tests/test_plugin.py.tmpl": "tests/test_{module}.py",
}


@dataclass(frozen=True)
class PluginNames:
    """Every name derived from the plugin name ``name``, and the classifier's name."""

    name: str
    classifier: str
    """What ``--plugins`` takes; the plugin name unless ``--classifier`` gives another."""
    dist: str
    """Distribution and directory name: ``bench-NAME``."""
    module: str
    """Importable package: ``bench_NAME`` with dashes as underscores."""
    class_name: str
    """The classifier class: the classifier name in CamelCase, plus ``Classifier``."""


def plugin_names(name: str, classifier: str | None = None) -> PluginNames:
    """Check ``name`` (and ``classifier``) and derive the others; a bad name is a UsageError."""
    for kind, value in (("plugin", name), ("classifier", classifier or name)):
        if not NAME_PATTERN.fullmatch(value):
            raise UsageError(
                f"bad {kind} name {value!r}: use lowercase letters, digits and single dashes, "
                "starting with a letter (e.g. my-softmax)"
            )
    return PluginNames(
        name=name,
        classifier=classifier or name,
        dist=f"bench-{name}",
        module=f"bench_{name.replace('-', '_')}",
        class_name="".join(part.capitalize() for part in (classifier or name).split("-")) + "Classifier",
    )


def check_not_taken(names: PluginNames) -> None:
    """Refuse a name an installed plugin, classifier or module already uses."""
    from bench.plugins import ENTRY_POINT_GROUP, installed_registry

    if names.name in {ep.name for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}:
        raise UsageError(f"a plugin called {names.name!r} is already installed; choose another name")
    if names.classifier in installed_registry().classifiers:
        raise UsageError(f"a classifier called {names.classifier!r} is already installed; choose another name")
    if importlib.util.find_spec(names.module) is not None:
        raise UsageError(f"a module called {names.module!r} is already importable; choose another name")


def render(names: PluginNames) -> dict[str, str]:
    """Relative path -> text of every file of the new package."""
    root = importlib.resources.files("bench").joinpath(*TEMPLATE_DIR)
    values = asdict(names)
    files = {}
    for template, target in FILES.items():
        text = root.joinpath(*template.split("/")).read_text(encoding="utf-8")
        files[target.format(**values)] = Template(text).substitute(values)
    return files


def scaffold_plugin(
    name: str, directory: Path, *, classifier: str | None = None, check_installed: bool = True
) -> Path:
    """Write the plugin package ``directory/bench-NAME/`` and return its path.

    Refuses a bad or already used name (``check_installed``: against the installed
    plugins) and an existing target directory; on a failure while writing, removes what
    it wrote (a write that fails, e.g. on a full disk, is a BenchError naming the file).
    """
    names = plugin_names(name, classifier)
    if check_installed:
        check_not_taken(names)
    files = render(names)
    target = Path(directory) / names.dist
    try:
        target.mkdir(parents=True, exist_ok=False)
    except FileExistsError:
        raise UsageError(f"{target} already exists; not overwriting it") from None
    except OSError as exc:
        raise UsageError(f"cannot create {target}: {exc.strerror or exc}") from None
    path = target
    try:
        for relative, text in files.items():
            path = target / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    except OSError as exc:
        shutil.rmtree(target, ignore_errors=True)
        raise BenchError(f"cannot write {path}: {exc.strerror or exc}; removed {target} again") from None
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    return target


def next_steps(path: Path, name: str, classifier: str | None = None) -> list[str]:
    """What to tell the user after :func:`scaffold_plugin`."""
    names = plugin_names(name, classifier)
    return [
        f"created {path}",
        "next:",
        f"  pip install -e '{path}[test]'",
        f"  bench run --plugins numpy,{names.classifier} --dataset synthetic --steps 200",
        f"  python -m pytest {path / 'tests'}",
        f"then replace the model in {path / names.module / 'model.py'}",
    ]

"""``bench plugins`` (what is installed) and ``bench new-plugin`` (start a new one)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bench.cli import options


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    plugins = commands.add_parser("plugins", parents=[common], help="list the installed classifiers",
                                  description="Every installed classifier, the plugin and distribution it comes "
                                              "from, and every plugin that failed to load, with the reason.")
    options.add_format(plugins)
    plugins.add_argument("--params", action="store_true", help="also list the --param settings each classifier takes")
    plugins.set_defaults(handler=cmd_plugins)

    new_plugin = commands.add_parser("new-plugin", parents=[common], help="write a new plugin package to start from",
                                     description="Write an installable plugin package with a working numpy softmax "
                                                 "classifier, a test and a README, to edit.")
    new_plugin.add_argument("name", help="plugin name: lowercase letters, digits, dashes (bench-NAME/ is created)")
    new_plugin.add_argument("--classifier", metavar="NAME",
                            help="the classifier's name, what --plugins takes (default: the plugin name)")
    new_plugin.add_argument("--dir", default=".", help="where to create bench-NAME/ (default: here)")
    new_plugin.set_defaults(handler=cmd_new_plugin)


def cmd_plugins(args: argparse.Namespace) -> int:
    from bench.plugins import installed_registry
    from bench.report.text import fitted_table, safe_text

    registry = installed_registry()
    body = []
    for spec in sorted(registry.classifiers.values(), key=lambda s: s.name):
        origin = registry.origin(spec.name)
        line = [spec.name, origin.plugin, f"{origin.distribution} {origin.version}".strip(), spec.description]
        if args.params:
            line.append("; ".join(f"{p.name}: {p.describe()}, default {p.default}" for p in spec.params) or "-")
        body.append([safe_text(cell) for cell in line])
    body += [["-", safe_text(broken.name), "BROKEN", safe_text(broken.reason)] for broken in registry.broken]
    headers = ["classifier", "plugin", "from", "description", *(["params"] if args.params else [])]
    # the description and params wrap inside their cells to fit the terminal
    print(fitted_table(body, headers, args.format, flexible=[2, 3, 4][: len(headers) - 2], narrowest=14))
    return 0


def cmd_new_plugin(args: argparse.Namespace) -> int:
    from bench.scaffold import next_steps, scaffold_plugin

    path = scaffold_plugin(args.name, Path(args.dir), classifier=args.classifier)
    print("\n".join(next_steps(path, args.name, classifier=args.classifier)))
    return 0

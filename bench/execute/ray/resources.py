"""What a row asks a Ray cluster for, and whether the cluster can give it (no Ray needed).

Every row asks for one unit of :data:`SLOT`, the CPUs of the smallest node that can run it
(:func:`task_resources`), a GPU for a GPU row, and the custom resources of
``--ray-resources`` that apply to it (:func:`parse_resource_rules`). Each node that may measure rows is
started with one slot (``ray start ... --resources '{"bench_slot": 1}'``), so a node
times at most one row at a time.
"""

from __future__ import annotations

import fnmatch
import json
import math
import re
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.errors import BenchError, UsageError
from bench.job import RowJob

SLOT = "bench_slot"
"""The custom resource every row asks one unit of; give each node one (a node with more
would time several rows at once)."""
RESERVED = ("CPU", "GPU", "memory", "object_store_memory", SLOT)
CONNECT_SECONDS = 10.0


def parse_resources(text: str | None) -> dict[str, float]:
    """``--ray-resources``: a JSON object (``'{"A100": 1}'``) or ``key=value[,key=value]``."""
    if text is None or not text.strip():
        return {}
    text = text.strip()
    if text.startswith(("{", "[", "\"")):
        try:
            raw = json.loads(text)
        except ValueError as exc:
            raise UsageError(f"--ray-resources is not valid JSON: {exc}") from None
        if not isinstance(raw, dict):
            raise UsageError("--ray-resources must be a JSON object of resource names and amounts")
        items = list(raw.items())
    else:
        items = []
        for part in text.split(","):
            key, sep, value = part.partition("=")
            if not sep or not key.strip():
                raise UsageError(f"--ray-resources: {part.strip()!r} is not key=value")
            items.append((key.strip(), value.strip()))
    resources: dict[str, float] = {}
    for key, value in items:
        if key in RESERVED or key.startswith("node:"):
            raise UsageError(
                f"--ray-resources: {key!r} is set by bench itself (CPUs from --threads, a GPU for gpu:N rows, "
                f"one {SLOT} per row)"
            )
        try:
            amount = float(value)
        except (TypeError, ValueError):
            raise UsageError(f"--ray-resources: {key}={value!r} is not a number") from None
        if isinstance(value, bool) or not math.isfinite(amount) or amount <= 0:
            raise UsageError(f"--ray-resources: {key} must be a positive number, not {value!r}")
        resources[str(key)] = amount
    return resources


_RULE = re.compile(r"^\s*([^{:=]+?)\s*:\s*(\{.*\})\s*$", re.DOTALL)


@dataclass(frozen=True)
class ResourceRules:
    """``--ray-resources``: custom resources for every row, and per plugin or device.

    Each rule is ``(pattern, resources)``; ``pattern`` ``None`` means every row, else a
    shell pattern matched against the plugin (``tf-*``), the device (``gpu*``) or
    ``plugin@device``. A row asks for the resources of every rule that matches it, later
    rules overriding earlier ones."""

    rules: tuple[tuple[str | None, tuple[tuple[str, float], ...]], ...] = field(default=())

    @classmethod
    def every_row(cls, resources: Mapping[str, float] | None) -> ResourceRules:
        return cls(((None, tuple(dict(resources or {}).items())),) if resources else ())

    def for_job(self, job: RowJob) -> dict[str, float]:
        """The custom resources of ``job``'s row."""
        return self.for_names(job.classifier, job.device, f"{job.classifier}@{job.device}")

    def for_names(self, *names: str) -> dict[str, float]:
        """The custom resources of the rules that match any of ``names`` (or every row)."""
        chosen: dict[str, float] = {}
        for pattern, resources in self.rules:
            if pattern is None or any(fnmatch.fnmatchcase(name, pattern) for name in names):
                chosen.update(resources)
        return chosen


def parse_resource_rules(text: str | None) -> ResourceRules:
    """``--ray-resources``: what :func:`parse_resources` reads, for every row, or rules per
    plugin or device separated by ``;``, each ``PATTERN:{JSON}``
    (``'tf-*:{"A100": 1}; numpy:{"cpu_pool": 1}'``), or a JSON object of patterns
    (``'{"tf-*": {"A100": 1}}'``)."""
    if text is None or not text.strip():
        return ResourceRules()
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            raw = json.loads(stripped)
        except ValueError:
            raw = None
        if isinstance(raw, dict) and raw and all(isinstance(v, dict) for v in raw.values()):
            return ResourceRules(tuple((_pattern(k), tuple(parse_resources(json.dumps(v)).items()))
                                       for k, v in raw.items()))
    rules: list[tuple[str | None, tuple[tuple[str, float], ...]]] = []
    for part in [p for p in stripped.split(";") if p.strip()]:
        match = _RULE.match(part)
        if match:
            rules.append((_pattern(match.group(1)), tuple(parse_resources(match.group(2)).items())))
        else:
            rules.append((None, tuple(parse_resources(part).items())))
    return ResourceRules(tuple(rules))


def _pattern(text: str) -> str | None:
    text = text.strip()
    if not text:
        raise UsageError("--ray-resources: a rule needs a plugin or device pattern before ':'")
    return None if text == "*" else text


def task_resources(job: RowJob, custom: Mapping[str, float] | None = None, slot: str = SLOT,
                   nodes: Sequence[Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """The Ray task options of a row: its CPUs, a GPU for a GPU row, one slot, the custom ones.

    With the cluster's ``nodes`` a row owns the node it is timed on: it asks for all the
    CPUs of the smallest node that can run it (so no other Ray task shares that node's
    CPUs while the row is timed; on a larger node the CPUs beyond that stay free)."""
    options: dict[str, Any] = {
        "num_cpus": job.setup.threads or 1,
        "num_gpus": 1 if job.device.startswith("gpu") else 0,
        "resources": {slot: 1.0, **dict(custom or {})},
    }
    sizes = [float(node.get("Resources", {}).get("CPU", 0)) for node in nodes or ()
             if fits(node.get("Resources", {}), options)]
    if sizes:
        whole = min(sizes)
        options["num_cpus"] = int(whole) if whole.is_integer() else whole
    return options


def fits(node_resources: Mapping[str, float], options: Mapping[str, Any]) -> bool:
    """Whether a node's total resources can ever hold a task with ``options``."""
    wanted = {"CPU": options.get("num_cpus", 0), "GPU": options.get("num_gpus", 0), **options.get("resources", {})}
    return all(node_resources.get(name, 0.0) >= amount for name, amount in wanted.items() if amount)


def describe_request(options: Mapping[str, Any]) -> str:
    parts = [f"CPU {options['num_cpus']:g}"]
    if options.get("num_gpus"):
        parts.append(f"GPU {options['num_gpus']:g}")
    parts += [f"{name} {amount:g}" for name, amount in options.get("resources", {}).items()]
    return ", ".join(parts)


def describe_nodes(nodes: list[dict[str, Any]]) -> str:
    """``host (CPU 2, GPU 1, bench_slot 1); ...`` for error messages."""
    shown = []
    for node in nodes:
        resources = node.get("Resources", {})
        names = ("CPU", "GPU", SLOT, *sorted(k for k in resources if k not in RESERVED and ":" not in k
                                             and k not in ("memory", "object_store_memory")))
        text = ", ".join(f"{name} {resources[name]:g}" for name in names if name in resources)
        shown.append(f"{node.get('NodeManagerHostname') or node.get('NodeManagerAddress')} ({text})")
    return "; ".join(shown) or "no nodes"


def check_slots(nodes: list[dict[str, Any]], slot: str = SLOT, where: str = "the Ray cluster") -> None:
    """Raise a clear error when no live node offers ``slot``."""
    if not any(node.get("Resources", {}).get(slot, 0) >= 1 for node in nodes):
        raise BenchError(
            f"no node of {where} has the {slot} resource, so no row could run; start every node that may "
            f"measure rows with: ray start ... --resources '{{\"{slot}\": 1}}' (nodes: {describe_nodes(nodes)})"
        )


def is_loopback(address: str) -> bool:
    host = address.split("://")[-1].rsplit(":", 1)[0].strip("[]")
    return host == "localhost" or host == "::1" or host.startswith("127.")


CONNECT_SECONDS = 10.0


_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
"""An HTTP/2 client preface and an empty SETTINGS frame: a gRPC server (a Ray GCS) answers
with a SETTINGS frame of its own at once."""


def reachable(address: str, seconds: float = CONNECT_SECONDS) -> None:
    """Raise a clear error, within ``seconds``, unless a gRPC server (a Ray cluster's GCS)
    answers at ``host:port``: Ray itself retries an unreachable address for minutes, and
    waits as long on a port where something else listens."""
    host, _, port = address.split("://")[-1].rpartition(":")
    if not host or not port.isdigit():
        raise UsageError(f"--ray-address must be HOST:PORT (the cluster's GCS address), not {address!r}")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=seconds) as connection:
            connection.settimeout(seconds)
            connection.sendall(_PREFACE)
            answer = connection.recv(9)
    except TimeoutError:
        answer = None
    except OSError as exc:
        raise BenchError(f"could not connect to the Ray cluster at {address}: {exc.strerror or exc}") from None
    if not answer or len(answer) < 4 or answer[3] != 0x04:  # the frame type of SETTINGS
        raise BenchError(f"{address} is not a Ray cluster: something listens there but did not answer as a Ray "
                         f"head's GCS does (within {seconds:g} s); give the address `ray start --head` printed")

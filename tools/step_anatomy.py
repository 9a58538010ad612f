"""Where a step's time goes, per framework: the pieces of a step and the A/B variants, timed
interleaved in one process on the harness's own kind of batches.

    python tools/step_anatomy.py [--data-dir DIR] [--rounds 9] [--reps 40] [--threads N]
                                 [--frameworks jax,torch] [--output FILE.json]

Every entry is a callable timed ``reps`` times per round; the rounds rotate the order of
the entries, each round's figure is its lower quartile, and the entry's figure is the
median over rounds (a noisy neighbour slows a round, which the median ignores). Feed steps
include the harness's gather of the batch into one reused buffer (``np.empty``, as
``bench.measure`` allocates it), exactly as ``bench run`` times them. Ratios are to the
numpy step, in the same round.

JAX and PyTorch entries appear when the framework is installed. Prints a Markdown table;
``--output`` saves it as JSON with the machine and framework versions.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench import SetupConfig
from bench.dataset import load_dataset
from bench.machine import machine_info
from bench.plugins import installed_registry
from bench.schedule import build_schedule

Entry = tuple[str, str, Callable[[], Any]]
"""(group, label, callable)."""


class Feed:
    """The harness's feed loop: each call gathers the next scheduled batch into one buffer."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, steps: int = 1000, batch: int = 100) -> None:
        self.images, self.labels = images, labels
        self.indices = build_schedule(len(labels), steps, batch, seed=0).indices
        self.batch = np.empty((batch, images.shape[1]), dtype=images.dtype)
        self.batch_labels = np.empty(batch, dtype=labels.dtype)
        self.i = 0

    def next_indices(self) -> np.ndarray:
        self.i = (self.i + 1) % len(self.indices)
        return self.indices[self.i]

    def next(self) -> tuple[np.ndarray, np.ndarray]:
        rows = self.next_indices()
        np.take(self.images, rows, axis=0, out=self.batch)
        np.take(self.labels, rows, out=self.batch_labels)
        return self.batch, self.batch_labels


def classifier(name: str, config: SetupConfig, **params: str) -> Any:
    clf = installed_registry().get(name).factory()
    clf.setup(SetupConfig(**{**config.__dict__, "params": params}))
    return clf


def first_call_seconds(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def numpy_entries(feed: Feed, config: SetupConfig, notes: dict[str, Any]) -> list[Entry]:
    # The classifier limits BLAS to --threads (one by default) for the whole process, so the
    # bare products below run as its step runs them.
    clf = classifier("numpy", config)
    x, g = feed.next()[0].copy(), np.random.default_rng(0).standard_normal((100, 10), dtype=np.float32)
    w = np.zeros((x.shape[1], 10), np.float32)
    return [
        ("numpy", "numpy step, feed (gather + step)", lambda: clf.train_step(*feed.next())),
        ("numpy", "harness gather of one batch (np.take into the reused buffer)", feed.next),
        ("numpy", "BLAS forward x @ W (100x3072 . 3072x10)", lambda: x @ w),
        ("numpy", "BLAS weight gradient x.T @ g (3072x100 . 100x10)", lambda: x.T @ g),
    ]


def jax_entries(feed: Feed, config: SetupConfig, notes: dict[str, Any]) -> list[Entry]:
    import jax
    import jax.numpy as jnp

    entries: list[Entry] = []
    clfs = {layout: classifier("jax-jit", config, layout=layout) for layout in ("cd", "dc")}
    resident = classifier("jax-jit", config)
    resident.place_dataset(feed.images, feed.labels)
    eager = classifier("jax-eager", config)
    notes["jax-jit first step s (compile)"] = first_call_seconds(lambda: clfs["cd"].train_step(*feed.next()))
    notes["jax-eager first step s"] = first_call_seconds(lambda: eager.train_step(*feed.next()))
    for clf in (clfs["dc"], resident):
        clf.train_step(*feed.next()) if clf is not resident else clf.train_step_indices(feed.next_indices())

    device = jax.devices("cpu")[0]
    x_np = feed.next()[0].copy()
    raw = np.empty(x_np.nbytes + 64, np.uint8)
    start = -raw.ctypes.data % 64
    aligned = raw[start : start + x_np.nbytes].view(np.float32).reshape(x_np.shape)
    aligned[:] = x_np
    x, g = jnp.asarray(x_np), jnp.asarray(np.random.default_rng(0).standard_normal((100, 10), dtype=np.float32))
    w_dc, w_cd = jnp.zeros((x.shape[1], 10)), jnp.zeros((10, x.shape[1]))
    products = {
        "forward x @ W, W (3072,10) [layout dc]": (lambda x, w: x @ w, (x, w_dc)),
        "forward x @ W.T, W (10,3072) [layout cd]": (lambda x, w: x @ w.T, (x, w_cd)),
        "weight gradient x.T @ g -> (3072,10) [layout dc, what autodiff emits]": (lambda x, g: x.T @ g, (x, g)),
        "weight gradient g.T @ x -> (10,3072) [layout cd]": (lambda x, g: g.T @ x, (x, g)),
        "(g.T @ x).T written out -> XLA folds it back into x.T @ g": (lambda x, g: (g.T @ x).T, (x, g)),
        "optimization_barrier(g.T @ x).T: fast dot + a transpose": (
            lambda x, g: jax.lax.optimization_barrier(g.T @ x).T, (x, g)),
    }
    for label, (fn, args) in products.items():
        jitted = jax.jit(fn)
        jitted(*args).block_until_ready()
        entries.append(("jax", f"XLA {label}", lambda jitted=jitted, args=args: jitted(*args).block_until_ready()))
    noop = jax.jit(lambda a: a + 1)
    noop(g).block_until_ready()
    entries += [
        ("jax", "jit dispatch floor: a jitted (100,10) + 1", lambda: noop(g).block_until_ready()),
        ("jax", "device_put of the harness's batch buffer (16-byte aligned: copied)",
         lambda: jax.device_put(feed.batch, device).block_until_ready()),
        ("jax", "device_put of a 64-byte aligned batch (aliased, no copy)",
         lambda: jax.device_put(aligned, device).block_until_ready()),
        ("jax", "jax-jit step, feed, layout cd (default)", lambda: clfs["cd"].train_step(*feed.next())),
        ("jax", "jax-jit step, feed, layout dc (reference layout)", lambda: clfs["dc"].train_step(*feed.next())),
        ("jax", "jax-jit step, resident, layout cd", lambda: resident.train_step_indices(feed.next_indices())),
        ("jax", "jax-eager step, feed, layout cd", lambda: eager.train_step(*feed.next())),
    ]
    return entries


def torch_entries(feed: Feed, config: SetupConfig, notes: dict[str, Any]) -> list[Entry]:
    import torch
    import torch.nn.functional as F

    eager = {layout: classifier("torch-eager", config, layout=layout) for layout in ("cd", "dc")}
    resident = classifier("torch-eager", config)
    resident.place_dataset(feed.images, feed.labels)
    compiled = classifier("torch-compile", config)
    notes["torch-compile first step s (compile, one graph)"] = first_call_seconds(
        lambda: compiled.train_step(*feed.next()))

    # The eager step as written (backward() inside) under torch.compile: the A/B for the
    # plugin's choice of one functional graph.
    weights = torch.zeros(10, feed.images.shape[1], requires_grad=True)
    biases = torch.zeros(10, requires_grad=True)
    lr = config.learning_rate

    def backward_step(images: Any, labels: Any) -> Any:
        loss = F.cross_entropy(images @ weights.T + biases, labels)
        loss.backward()
        with torch.no_grad():
            for p in (weights, biases):
                p.grad.mul_(lr)
                p.sub_(p.grad)
                p.grad = None
        return loss.detach()

    split = torch.compile(backward_step)

    def split_step() -> float:
        images, labels = feed.next()
        return float(split(torch.from_numpy(images), torch.from_numpy(labels)))

    torch._dynamo.utils.counters.clear()
    notes["torch.compile(eager backward() step) first step s (compile, graph break)"] = first_call_seconds(split_step)
    notes["torch.compile(eager backward() step) graph breaks"] = sum(torch._dynamo.utils.counters["graph_break"].values())

    x = torch.from_numpy(feed.next()[0].copy())
    g = torch.from_numpy(np.random.default_rng(0).standard_normal((100, 10), dtype=np.float32))
    w_dc, w_cd = torch.zeros(x.shape[1], 10), torch.zeros(10, x.shape[1])
    return [
        ("torch", "MKL forward x @ W, W (3072,10) [layout dc]", lambda: x @ w_dc),
        ("torch", "MKL forward x @ W.T, W (10,3072) [layout cd]", lambda: x @ w_cd.T),
        ("torch", "MKL weight gradient x.T @ g -> (3072,10) [layout dc]", lambda: x.T @ g),
        ("torch", "MKL weight gradient g.T @ x -> (10,3072) [layout cd]", lambda: g.T @ x),
        ("torch", "torch-eager step, feed, layout cd (default)", lambda: eager["cd"].train_step(*feed.next())),
        ("torch", "torch-eager step, feed, layout dc (reference layout)", lambda: eager["dc"].train_step(*feed.next())),
        ("torch", "torch-eager step, resident, layout cd", lambda: resident.train_step_indices(feed.next_indices())),
        ("torch", "torch-compile step, feed, layout cd (one functional graph)", lambda: compiled.train_step(*feed.next())),
        ("torch", "torch.compile of the eager backward() step (graph break), layout cd", split_step),
    ]


def interleaved(entries: list[Entry], rounds: int, reps: int) -> dict[str, dict[str, float]]:
    """Per entry: median over rounds of each round's lower quartile (us), and its ratio to
    the first entry's in the same round."""
    for _, _, fn in entries:  # warm up
        for _ in range(5):
            fn()
    per_round: dict[str, list[float]] = {label: [] for _, label, _ in entries}
    clock = time.perf_counter
    for r in range(rounds):
        shift = r % len(entries)
        for _, label, fn in entries[shift:] + entries[:shift]:
            times = np.empty(reps)
            for i in range(reps):
                start = clock()
                fn()
                times[i] = clock() - start
            per_round[label].append(float(np.percentile(times, 25)))
    reference = np.array(per_round[entries[0][1]])
    return {
        label: {
            "microseconds": 1e6 * float(np.median(values)),
            "ratio_to_numpy_step": float(np.median(np.array(values) / reference)),
        }
        for label, values in per_round.items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="CIFAR-10 directory (default: the synthetic dataset)")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--reps", type=int, default=40)
    parser.add_argument("--threads", type=int, default=None, help="framework threads (default: theirs)")
    parser.add_argument("--frameworks", default="jax,torch", help="besides numpy (default: jax,torch)")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args(argv)

    dataset = load_dataset("cifar10" if args.data_dir else "synthetic", data_dir=args.data_dir, offline=True)
    feed = Feed(dataset.train_images, dataset.train_labels)
    config = SetupConfig(learning_rate=0.005, batch_size=100, input_dim=dataset.input_dim,
                         num_classes=dataset.num_classes, threads=args.threads)
    notes: dict[str, Any] = {}
    entries = numpy_entries(feed, config, notes)
    wanted = {name.strip() for name in args.frameworks.split(",") if name.strip()}
    for name, build in (("jax", jax_entries), ("torch", torch_entries)):
        if name not in wanted:
            continue
        try:
            __import__(name)
        except ImportError:
            print(f"({name} not installed: skipped)", file=sys.stderr)
            continue
        entries += build(feed, config, notes)
    figures = interleaved(entries, args.rounds, args.reps)

    print("| group | what | us | x numpy step |\n| --- | --- | --- | --- |")
    for group, label, _ in entries:
        print(f"| {group} | {label} | {figures[label]['microseconds']:.0f} | {figures[label]['ratio_to_numpy_step']:.2f} |")
    for key, value in notes.items():
        print(f"- {key}: {value:.2f}" if isinstance(value, float) else f"- {key}: {value}")
    if args.output:
        registry = installed_registry()
        document = {
            "command": ["python", "tools/step_anatomy.py", *(argv if argv is not None else sys.argv[1:])],
            "machine": machine_info(),
            "frameworks": registry.environment_info(["numpy", "jax-jit", "torch-eager"]),
            "dataset": dataset.name,
            "rounds": args.rounds, "reps": args.reps, "threads": args.threads,
            "figures": [{"group": group, "what": label, **figures[label]} for group, label, _ in entries],
            "notes": notes,
        }
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(document, indent=1) + "\n")
        print(f"saved {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

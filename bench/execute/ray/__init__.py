"""``--executor ray``: rows on the nodes of a Ray cluster.

- :mod:`~bench.execute.ray.executor`: :class:`RayExecutor`, the parent's side.
- :mod:`~bench.execute.ray.task`: the Ray tasks, run on the nodes.
- :mod:`~bench.execute.ray.node`: one row on a node (its own data, checked), no Ray needed.
- :mod:`~bench.execute.ray.resources`: what a row asks of the cluster, no Ray needed.

Importing this package does not import Ray; connecting does.
"""

from bench.execute.ray.executor import SLOT, RayExecutor, RowHandle
from bench.execute.ray.resources import parse_resources

__all__ = ["SLOT", "RayExecutor", "RowHandle", "parse_resources"]

"""A Ray cluster of several nodes on this machine, for benchmarks of ``--backend ray``.

    with local_cluster(nodes=2, cpus_per_node=1) as address:
        relayrl.train(replace(cfg, sampling__backend="ray", ray__address=address))

A head node without CPUs (where the trainer runs, as on a real cluster's head) and ``nodes`` worker
nodes, each a raylet with its own object store, all on 127.0.0.1 and without the dashboard
(``ray.cluster_utils.Cluster``). Objects between nodes go through their object stores as between
machines, only over loopback. This process connects as the driver, so runs in it reuse the
connection; everything is shut down on exit. ``train_cli`` runs ``relayrl train`` on it from the
command line, as a user would (a second driver process).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

LOCAL = "127.0.0.1"


@contextlib.contextmanager
def local_cluster(nodes: int = 2, cpus_per_node: float = 1.0) -> Iterator[str]:
    """Start the cluster, connect this process to it, yield its address; shut it all down after."""
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # loopback only (read at import)
    import ray
    from ray.cluster_utils import Cluster

    cluster = Cluster(
        initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False, "node_ip_address": LOCAL}
    )
    try:
        for _ in range(nodes):
            cluster.add_node(num_cpus=cpus_per_node, node_ip_address=LOCAL)
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, logging_level="WARNING")
        yield str(cluster.address)
    finally:
        ray.shutdown()
        cluster.shutdown()


def train_cli(address: str, flags: list[str], timeout: float = 3600.0) -> dict[str, str]:
    """``relayrl train --backend ray --ray-address ADDRESS FLAGS`` in a new process (run from the
    repository root, which Ray puts on the actors' path, so ``benchmarks.*`` envs import); its summary
    block as ``{"fps": "1234", "env steps": ..., "experiment dir": ...}``. Raises with its stderr on failure."""
    import subprocess
    import sys
    from pathlib import Path

    cmd = [sys.executable, "-m", "relayrl.cli.main", "train", "--backend", "ray", "--ray-address", address, *flags]
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=root, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"relayrl train exited {proc.returncode}:\n{proc.stderr[-4000:]}")
    summary = {}
    for line in proc.stdout.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            summary[key.strip()] = value.strip()
    return summary

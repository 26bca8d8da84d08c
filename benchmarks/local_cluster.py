"""A Ray cluster of several nodes on this machine, for benchmarks of ``--backend ray``.

    with local_cluster(nodes=2, cpus_per_node=1) as address:
        relayrl.train(replace(cfg, sampling__backend="ray", ray__address=address))

A head node without CPUs (where the trainer runs, as on a real cluster's head) and ``nodes`` worker
nodes, each a raylet with its own object store, all on 127.0.0.1 and without the dashboard
(``ray.cluster_utils.Cluster``). Objects between nodes go through their object stores as between
machines, only over loopback. This process connects as the driver, so runs in it reuse the
connection; everything is shut down on exit.
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

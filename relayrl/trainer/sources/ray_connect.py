"""Joining a Ray cluster for ``--backend ray``: the optional import, the address, room for the workers,
and where actors are placed.

Everything here runs in the trainer's process before any actor exists, and turns a setting that
cannot work into a ``ConfigError`` (exit 2) naming the flag, instead of a wait: ``ray.init`` itself
keeps retrying an address where no cluster answers for minutes.
"""

from __future__ import annotations

import logging
import math
import os
import socket
from types import ModuleType
from typing import Any

from relayrl.config import Config
from relayrl.errors import ConfigError

log = logging.getLogger("relayrl.workers")

INSTALL_HINT = (
    "--backend ray needs Ray, which is not installed: pip install 'relayrl[ray]' "
    "(on the trainer's machine and on every node of the cluster)."
)
REACH_TIMEOUT_SECONDS = 5.0
"""How long the trainer tries to open a connection to the cluster's address before giving up."""


def import_ray() -> ModuleType:
    """The ``ray`` module; ConfigError with the install hint when it is missing."""
    try:
        import ray
    except ImportError as exc:
        raise ConfigError(INSTALL_HINT) from exc
    return ray


ray = import_ray()


def _resolve(address: str) -> str:
    """``host:port`` of ``--ray-address`` (``auto``: the cluster this machine joined, or RAY_ADDRESS)."""
    if address.startswith("ray://"):
        raise ConfigError(
            f"--ray-address {address!r}: Ray Client addresses are not supported (every trajectory would pass "
            "through the client proxy); run relayrl on a node of the cluster with --ray-address auto."
        )
    if address == "auto":
        from ray._private.services import canonicalize_bootstrap_address

        found = canonicalize_bootstrap_address("auto")
        if not found:
            raise ConfigError(
                "--ray-address auto: no Ray cluster found on this machine (none joined with `ray start`, "
                "and RAY_ADDRESS is not set); start one with `ray start --head`, or give host:port."
            )
        return str(found)
    return address


def _check_reachable(target: str, flag_value: str) -> None:
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"--ray-address {flag_value!r} must be auto, host:port or empty.")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=REACH_TIMEOUT_SECONDS):
            pass
    except OSError as exc:
        raise ConfigError(
            f"--ray-address {flag_value!r}: cannot reach a Ray cluster at {target} ({exc}); start its head "
            "node there with `ray start --head`, or fix the address."
        ) from exc


def connect(cfg: Config) -> bool:
    """Connect this process to the cluster ``--ray-address`` names (empty: start a Ray instance on this
    machine). True when this call connected, so the caller disconnects at the end; False when the
    process was connected already (its connection is kept, whatever ``--ray-address`` says)."""
    if ray.is_initialized():
        log.info("using this process's Ray connection (--ray-address is not used)")
        return False
    address = cfg.ray.address.strip()
    if not address:
        needed = math.ceil(cfg.sampling.num_workers * cfg.ray.cpus_per_worker)
        # A Ray instance of this run only: loopback, no dashboard, and at least the CPUs the workers
        # reserve (like local worker processes, they may share the cores).
        ray.init(
            address="local",
            num_cpus=max(os.cpu_count() or 1, needed),
            include_dashboard=False,
            _node_ip_address="127.0.0.1",
            logging_level=logging.WARNING,
        )
        log.info("started a Ray instance on this machine for this run")
        return True
    target = _resolve(address)
    _check_reachable(target, address)
    try:
        ray.init(address=target, logging_level=logging.WARNING)
    except Exception as exc:  # noqa: BLE001 - any failure to join is bad input here
        raise ConfigError(f"--ray-address {address!r}: joining the Ray cluster at {target} failed: {exc}") from exc
    log.info("joined the Ray cluster at %s", target)
    return True


def check_room(cfg: Config) -> None:
    """ConfigError when the cluster has fewer CPUs than the workers reserve (they would never start)."""
    need = cfg.sampling.num_workers * cfg.ray.cpus_per_worker
    have = cluster_cpus()
    if have < need:
        raise ConfigError(
            f"--num-workers {cfg.sampling.num_workers} x --ray-cpus-per-worker {cfg.ray.cpus_per_worker:g} "
            f"reserve {need:g} CPUs, but the Ray cluster has {have:g}; lower one of them or add nodes."
        )


def cluster_cpus() -> float:
    """CPUs of the cluster's live nodes."""
    return float(ray.cluster_resources().get("CPU", 0.0))


def node_alive(node_id: str) -> bool:
    """Whether the node is still in the cluster."""
    return any(n["NodeID"] == node_id and n["Alive"] for n in ray.nodes())


def placement_group(cfg: Config) -> Any | None:
    """One bundle of ``--ray-cpus-per-worker`` CPUs per worker, placed by ``--ray-placement-strategy``
    (None without one). Ray places lost bundles again when their node leaves, where there is room."""
    strategy = cfg.ray.placement_strategy
    if strategy is None:
        return None
    from ray.util.placement_group import placement_group as make_group

    bundles = [{"CPU": cfg.ray.cpus_per_worker} for _ in range(cfg.sampling.num_workers)]
    return make_group(bundles, strategy=strategy)


def worker_options(cfg: Config, worker: int, group: Any | None, name: str) -> dict[str, Any]:
    """Ray actor options of rollout worker ``worker``. Ray never restarts it by itself: the source
    does, with a new generation and the latest curriculum states (``max_restarts=0``)."""
    options: dict[str, Any] = {"num_cpus": cfg.ray.cpus_per_worker, "max_restarts": 0, "name": name}
    if group is not None:
        from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

        options["scheduling_strategy"] = PlacementGroupSchedulingStrategy(
            placement_group=group, placement_group_bundle_index=worker
        )
    return options


def hub_options(name: str) -> dict[str, Any]:
    """Ray actor options of the hub: on the trainer's node, no CPU reserved."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    here = ray.get_runtime_context().get_node_id()
    return {
        "num_cpus": 0,
        "max_restarts": 0,
        "name": name,
        "scheduling_strategy": NodeAffinitySchedulingStrategy(node_id=here, soft=False),
    }

"""``--backend ray`` end to end, on a Ray cluster of this machine: a head (the trainer's node, no CPUs)
and two worker nodes of 1 CPU each, all on 127.0.0.1 (``ray.cluster_utils.Cluster``), shared by the
tests of this module. Run them alone with ``pytest -m ray``.

Every Ray process the tests start is a descendant of this process or of a ``relayrl`` subprocess;
the tests that start them check they are gone at the end (the cluster's: when the module ends).
"""

import os

# Loopback addresses for every node; read when ray is imported, so set before.
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")

import json  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

ray = pytest.importorskip("ray")

from envs_for_tests import CURRICULUM_DISTANCES, load_records  # noqa: E402
from ray.cluster_utils import Cluster  # noqa: E402

import relayrl  # noqa: E402
from relayrl.config import Config, replace  # noqa: E402
from relayrl.experiment import Experiment  # noqa: E402
from relayrl.trainer import checkpointer as checkpoints  # noqa: E402
from relayrl.trainer.loop import TrainingLoop  # noqa: E402

pytestmark = [pytest.mark.ray, pytest.mark.multiprocess]

TESTS = Path(__file__).parent
LOCAL = "127.0.0.1"
RAY_PACKAGE = os.path.dirname(ray.__file__)


# ----- processes -----


def _children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    return children


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").replace("\0", " ")
    except OSError:
        return ""


def _is_ray(pid: int) -> bool:
    """A Ray worker or agent (``ray::...``), or a program of Ray's package (gcs_server, raylet, ...)."""
    argv = _cmdline(pid).split(" ")
    return argv[0].startswith("ray::") or any(a.startswith(RAY_PACKAGE) for a in argv[:3])


def ray_descendants(pid: int) -> set[int]:
    """Ray's processes (gcs_server, raylet, agents, workers) among the descendants of ``pid``."""
    children, found, todo = _children(), set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return {p for p in found if _is_ray(p)}


def alive(pids: set[int]) -> set[int]:
    """The pids that still run (zombies, which only wait to be reaped, do not count)."""
    out = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z":
            out.add(pid)
    return out


def assert_gone(pids: set[int], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while alive(pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = {pid: _cmdline(pid)[:120] for pid in alive(pids)}
    assert not left, f"Ray processes outlived the test: {left}"


# ----- the cluster -----


@pytest.fixture(scope="module")
def cluster():
    """Head with no CPUs (the trainer's node) + two 1-CPU worker nodes; this process is its driver."""
    cluster = Cluster(
        initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False, "node_ip_address": LOCAL}
    )
    try:
        for _ in range(2):
            cluster.add_node(num_cpus=1, node_ip_address=LOCAL)
        # the actors import the test envs (envs_for_tests) like local worker processes do
        ray.init(address=cluster.address, runtime_env={"env_vars": {"PYTHONPATH": str(TESTS)}}, logging_level="WARNING")
        yield cluster
    finally:
        started = ray_descendants(os.getpid())
        ray.shutdown()
        cluster.shutdown()
        assert_gone(started)


def add_node(cluster: Cluster) -> None:
    cluster.add_node(num_cpus=1, node_ip_address=LOCAL)
    cluster.wait_for_nodes()


def our_actors() -> list[str]:
    """Live actors of relayrl runs, in any namespace (their names start with ``relayrl-``)."""
    return [a["name"] for a in ray.util.list_named_actors(all_namespaces=True) if a["name"].startswith("relayrl-")]


def assert_no_actors_left(timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while our_actors() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert our_actors() == []


def record_reports(monkeypatch, after=None) -> list:
    """Every rollout report the loop receives (``after(report, n)`` runs once the n-th is counted)."""
    reports: list = []
    on_rollout = TrainingLoop.on_rollout

    def recording(loop: TrainingLoop, report) -> None:
        on_rollout(loop, report)
        reports.append(report)
        if after is not None:
            after(report, len(reports))

    monkeypatch.setattr(TrainingLoop, "on_rollout", recording)
    return reports


def cfg_for(cluster: Cluster, tmp_path: Path, env: str, **changes) -> Config:
    cfg = Config(env=env, train_dir=str(tmp_path / "runs"), experiment="e", seed=4, train_for_env_steps=8192)
    base = dict(
        sampling__backend="ray",
        sampling__num_workers=2,
        sampling__num_envs_per_worker=4,
        sampling__rollout_length=16,
        ray__address=cluster.address,
        algorithm__num_epochs=1,  # the tests are about sampling: a quick learner
        algorithm__num_minibatches=1,
        logging__report_interval=0.5,
        logging__tensorboard=False,
        logging__progress_bar=False,
    )
    base.update(changes)
    return replace(cfg, **base)


# ----- start-up errors and a Ray instance of the run's own (no cluster needed) -----


def _relayrl(tmp_path: Path, *flags: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "relayrl.cli.main", "train", "--backend", "ray", "--train-dir", str(tmp_path / "runs")]
    cmd += ["--experiment", "e", "--report-interval", "0.5", "--seed", "1", *flags]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=TESTS.parent)


@pytest.mark.timeout(120)
def test_unreachable_cluster_exits_2_naming_the_address(tmp_path):
    with socket.socket() as s:  # a free port: nothing listens there once it is closed
        s.bind((LOCAL, 0))
        port = s.getsockname()[1]
    address = f"{LOCAL}:{port}"
    t0 = time.monotonic()
    proc = _relayrl(tmp_path, "--ray-address", address)
    out, err = proc.communicate(timeout=90)
    assert proc.returncode == 2, err
    assert f"--ray-address '{address}': cannot reach a Ray cluster at {address}" in err
    assert time.monotonic() - t0 < 60  # not Ray's own minutes of retrying


@pytest.mark.timeout(180)
def test_without_an_address_the_run_starts_and_ends_its_own_ray_instance(tmp_path):
    proc = _relayrl(tmp_path, "--num-workers", "2", "--num-envs-per-worker", "4", "--train-for-env-steps", "2048")
    started: set[int] = set()
    while proc.poll() is None:  # the run's Ray processes are its descendants while it runs
        started |= ray_descendants(proc.pid)
        time.sleep(0.5)
    out, err = proc.communicate()
    assert proc.returncode == 0, err
    assert "started a Ray instance on this machine" in err
    assert json.loads((tmp_path / "runs" / "e" / "progress.jsonl").read_text().splitlines()[-1])["env_steps"] >= 2048
    assert len(started) >= 4  # gcs_server, raylet, two actors at least
    assert_gone(started)


# ----- contracts across nodes -----


@pytest.mark.timeout(180)
def test_rollouts_come_from_both_nodes_and_training_info_reaches_every_env(cluster, tmp_path, monkeypatch):
    reports = record_reports(monkeypatch)
    cfg = cfg_for(
        cluster,
        tmp_path,
        "envs_for_tests:make_recorded_env",
        environment__env_kwargs={"log_dir": str(tmp_path / "records"), "horizon": 8},
        training_info__fn="envs_for_tests:extra_training_info",
        training_info__reward_shaping={"bonus": 0.5},
        train_for_env_steps=4096,
    )
    summary = relayrl.train(cfg)
    assert {r.node for r in reports} == {node.node_id for node in cluster.worker_nodes}
    records = [r for r in load_records(tmp_path / "records") if r["episodes"]]  # not the trainer's probe env
    assert len(records) == 8  # 2 workers x 4 envs, on two nodes
    for rec in records:
        steps = [d["approx_total_training_steps"] for d in rec["deliveries"]]
        assert steps == sorted(steps), "approx_total_training_steps went backwards"
        assert len(set(steps)) >= 5, "the step count did not move along during the run"
        assert rec["episodes"][0]["info_at_reset"], "the first episode had no training info"
        for d in rec["deliveries"]:
            assert d["my_key"] == 42 and d["has_stats"] and d["reward_shaping"] == {"bonus": 0.5}
            assert d["policy_id"] == 0 and d["policy_version"] <= summary.policy_version
        assert max(d["policy_version"] for d in rec["deliveries"]) >= 1  # later versions arrive too
    assert max(d["approx_total_training_steps"] for r in records for d in r["deliveries"]) >= summary.env_steps // 2
    assert_no_actors_left()


def _curriculum_cfg(cluster: Cluster, tmp_path: Path, steps: int, strategy: str) -> Config:
    return cfg_for(
        cluster,
        tmp_path,
        "envs_for_tests:make_goal_curriculum_env",
        train_for_env_steps=steps,
        sampling__rollout_length=32,
        algorithm__num_epochs=4,  # the envs must learn to reach their goals: PPO's defaults
        algorithm__num_minibatches=4,
        environment__env_kwargs={"log_dir": str(tmp_path / "records")},
        ray__cpus_per_worker=0.5,
        ray__placement_strategy=strategy,
    )


def _first_levels(log_dir: Path) -> list[int]:
    records = [json.loads(p.read_text()) for p in log_dir.glob("*.json")]
    return sorted(CURRICULUM_DISTANCES.index(r["first_distance"]) for r in records)


@pytest.mark.timeout(240)
def test_curriculum_levels_survive_a_resume_on_other_nodes(cluster, tmp_path, monkeypatch):
    reports = record_reports(monkeypatch)
    # both workers packed onto one node ...
    first = relayrl.train(_curriculum_cfg(cluster, tmp_path, 12_288, "PACK"))
    assert len({r.node for r in reports}) == 1
    assert first.stats["episode_extra_stats/curriculum/level/max"] >= 1
    saved = checkpoints.load_latest(Experiment(tmp_path / "runs", "e"))
    levels = {int(i): s["level"] for i, s in saved["curriculum_states"].items()}
    assert sorted(levels) == list(range(8)) and max(levels.values()) >= 1
    for p in (tmp_path / "records").glob("*.json"):
        p.unlink()
    reports.clear()
    # ... then resumed spread over both: one worker's envs now run on the other node
    second = relayrl.train(_curriculum_cfg(cluster, tmp_path, 14_336, "SPREAD"))
    assert len({r.node for r in reports}) == 2
    assert second.env_steps > first.env_steps
    # every env's first episode after the resume is at its saved level (none restored: all at 0)
    assert _first_levels(tmp_path / "records") == sorted(levels.values())
    assert_no_actors_left()


# ----- faults -----


@pytest.mark.timeout(180)
def test_an_actor_whose_process_is_killed_is_replaced(cluster, tmp_path):
    marker = tmp_path / "killed"
    cfg = cfg_for(
        cluster,
        tmp_path,
        "envs_for_tests:make_counting_env",
        environment__env_kwargs={"kill_after": 200, "kill_once_file": str(marker)},
    )
    summary = relayrl.train(cfg)
    assert marker.exists()  # an env SIGKILLed its actor's process
    assert summary.worker_restarts == 1
    assert summary.env_steps >= 8192
    assert_no_actors_left()


def _remove_node_of(cluster: Cluster, report, removed: dict) -> None:
    node = next(n for n in cluster.worker_nodes if n.node_id == report.node)
    removed["node"] = node.node_id
    cluster.remove_node(node)  # its raylet and workers are stopped (SIGTERM), as when a node is drained


@pytest.mark.timeout(240)
def test_workers_of_a_removed_node_restart_on_the_remaining_one(cluster, tmp_path, monkeypatch):
    removed: dict = {}

    def remove_then_watch(report, n):
        if n == 20:
            _remove_node_of(cluster, report, removed)
            removed["worker"] = report.worker
        elif removed and report.worker == removed["worker"] and report.node != removed["node"]:
            removed.setdefault("replacement", []).append(report.node)
            if len(removed["replacement"]) == 5:  # the replacement works: end the run (as Ctrl-C would)
                os.kill(os.getpid(), signal.SIGTERM)

    reports = record_reports(monkeypatch, remove_then_watch)
    cfg = cfg_for(
        cluster,
        tmp_path,
        "envs_for_tests:make_counting_env",
        train_for_env_steps=10**8,
        ray__cpus_per_worker=0.5,  # room for both workers on one node
        ray__placement_strategy="SPREAD",
    )
    try:
        summary = relayrl.train(cfg)
    finally:
        add_node(cluster)
    assert len({r.node for r in reports[:20]}) == 2  # both nodes worked before
    assert summary.worker_restarts == 1 and summary.interrupted == "SIGTERM"
    survivor = {r.node for r in reports[:20]} - {removed["node"]}
    assert set(removed["replacement"]) == survivor  # the removed node's worker, restarted on the other one
    assert_no_actors_left()


@pytest.mark.timeout(240)
def test_a_removed_node_without_room_elsewhere_stops_the_run_with_a_checkpoint(cluster, tmp_path, monkeypatch):
    removed: dict = {}
    record_reports(monkeypatch, lambda report, n: n == 20 and _remove_node_of(cluster, report, removed))
    cfg = cfg_for(cluster, tmp_path, "envs_for_tests:make_counting_env", train_for_env_steps=10**8)
    t0 = time.monotonic()
    try:
        with pytest.raises(relayrl.WorkerError) as failure:
            relayrl.train(cfg)  # 1 CPU per worker: the remaining node has room for one
    finally:
        add_node(cluster)
    assert f"node {removed['node']}" in str(failure.value) and "left the Ray cluster" in str(failure.value)
    assert time.monotonic() - t0 < 120
    assert checkpoints.load_latest(Experiment(tmp_path / "runs", "e"))["env_steps"] > 0
    assert_no_actors_left()


@pytest.mark.timeout(180)
def test_sigterm_checkpoints_and_leaves_no_actors(cluster, tmp_path):
    proc = _relayrl(
        tmp_path, "--ray-address", cluster.address, "--num-workers", "2", "--train-for-env-steps", str(10**8)
    )
    progress = tmp_path / "runs" / "e" / "progress.jsonl"
    deadline = time.monotonic() + 120
    while not (progress.exists() and progress.read_text().strip()):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "training never reported progress"
        time.sleep(0.2)
    assert our_actors()  # the run's actors (and its hub) while it runs
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "SIGTERM" in err
    assert time.monotonic() - t0 < 20
    assert checkpoints.load_latest(Experiment(tmp_path / "runs", "e"))["env_steps"] > 0
    assert_no_actors_left()


# ----- several policies, self-play and PBT across nodes, from the CLI -----


def _train_cli(cluster: Cluster, tmp_path: Path, *flags: str, steps: int = 2048) -> str:
    """``relayrl train --backend ray`` on the test cluster; its stderr. It runs in tests/, so that the
    actors import the test envs (Ray puts the driver's working directory on its workers' path)."""
    cmd = [sys.executable, "-m", "relayrl.cli.main", "train", "--backend", "ray", "--ray-address", cluster.address]
    cmd += ["--train-dir", str(tmp_path / "runs"), "--experiment", "e", "--seed", "2", "--report-interval", "0.5"]
    cmd += ["--num-workers", "2", "--num-envs-per-worker", "4", "--rollout-length", "16", "--num-epochs", "1"]
    cmd += ["--num-minibatches", "1", "--train-for-env-steps", str(steps), *flags]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=TESTS, timeout=150)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stderr


def _progress(tmp_path: Path) -> list[dict]:
    return [json.loads(line) for line in (tmp_path / "runs" / "e" / "progress.jsonl").read_text().splitlines()]


def _reads_per_channel(stderr: str) -> dict[str, int]:
    """``{"policy 0": n, "snapshot 1": m, ...}``: publications the actors read, from the run's traffic log."""
    line = stderr.split("publications read by the actors per channel: ")[1].splitlines()[0]
    return {name: int(n) for name, n in (part.split(": ") for part in line.split(", "))}


def _duel_records(tmp_path: Path) -> list[dict]:
    """The records of the envs that trained (not the trainer's probe env)."""
    records = [
        r for r in load_records(tmp_path / "records") if r["deliveries"] and sum(e["steps"] for e in r["episodes"])
    ]
    assert len(records) == 8  # 2 workers x 4 envs, on two nodes
    for rec in records:
        assert rec["episodes"][0]["info_at_reset"], "the first episode had no training info"
        assert not any(d["in_step"] for d in rec["deliveries"]), "training info delivered in the middle of a step"
        steps = [d["steps"] for d in rec["deliveries"]]
        assert steps == sorted(steps), "approx_total_training_steps went backwards"
    return records


@pytest.mark.timeout(180)
def test_two_policies_with_pbt_tell_every_agent_its_own_policy_and_env_params_on_other_nodes(cluster, tmp_path):
    log_dir = tmp_path / "records"
    err = _train_cli(
        cluster,
        tmp_path,
        *("--env", "ray_envs:make_recorded_duel", "--env-kwargs", json.dumps({"log_dir": str(log_dir)})),
        *("--num-policies", "2", "--policy-mapping", "random", "--training-info-interval", "0"),
        *("--pbt", "--pbt-env-params", json.dumps({"difficulty": [0.0, 1.0]})),
        # no ranking: the start mutation alone makes policy 1's difficulty differ from policy 0's
        *("--pbt-start-env-steps", str(10**9)),
    )
    data = checkpoints.load_latest(Experiment(tmp_path / "runs", "e"))
    own = {k: data["policies"][k]["env_params"]["difficulty"] for k in (0, 1)}
    assert own[0] == 0.5 and own[1] != 0.5
    told = set()
    for rec in _duel_records(tmp_path):
        versions: dict[int, list[int]] = {0: [], 1: []}
        for d in rec["deliveries"]:
            for entry in d["agents"].values():  # each agent: its episode's policy, and only that policy's values
                k = entry["policy_id"]
                assert entry["env_params"] == {"difficulty": own[k]}
                versions[k].append(entry["policy_version"])
                told.add(k)
        for k, seen in versions.items():
            assert seen == sorted(seen), f"policy {k}'s version went backwards"
        assert max(versions[0] + versions[1]) >= 1  # later versions arrive too
    assert told == {0, 1}
    reads = _reads_per_channel(err)
    assert set(reads) == {"policy 0", "policy 1"} and reads["policy 1"] >= 2  # each policy's own weights
    assert_no_actors_left()


@pytest.mark.timeout(180)
def test_evaluation_runs_in_an_actor_on_the_trainers_node_and_leaves_nothing_behind(cluster, tmp_path):
    err = _train_cli(
        cluster,
        tmp_path,
        *("--env", "eval_envs:EvalAwareEnv", "--eval-every-env-steps", "4096", "--eval-episodes", "2"),
        *("--eval-niceness", "0"),  # a busy test machine: its results must come back during the run
        steps=65_536,  # ~15 s: the actor's process starts (imports) while training runs
    )
    rows = [row for row in _progress(tmp_path) if "eval/reward" in row]
    assert len(rows) >= 2, err[-3000:]
    steps = [row["eval/env_steps"] for row in rows]
    assert steps == sorted(set(steps)) and steps[0] >= 4096  # the env steps of the weights each evaluated
    for row in rows:
        assert row["eval/episode_extra_stats/evaluation/mean"] == 1.0  # the eval env got evaluation: True
        assert row["eval/reward"] == pytest.approx(8 * (1 - row["eval/env_steps"] / 8192))  # the weights' steps
    placed = err.split("evaluator actor ")[1].splitlines()[0]  # "<name> placed on node <id> (pid <pid>)"
    assert f"placed on node {cluster.head_node.node_id} " in placed  # the trainer's node
    assert_gone({int(placed.rsplit("(pid ", 1)[1].rstrip(")"))})
    assert_no_actors_left()


@pytest.mark.timeout(180)
def test_self_play_snapshots_reach_the_actors_through_the_object_store(cluster, tmp_path):
    log_dir = tmp_path / "records"
    err = _train_cli(
        cluster,
        tmp_path,
        *("--env", "ray_envs:make_recorded_duel", "--env-kwargs", json.dumps({"log_dir": str(log_dir)})),
        *("--self-play", "--self-play-every", "2", "--self-play-pool-size", "3"),
    )
    seen: set[tuple[int, int]] = set()  # (slot, version) of the snapshots the envs were told they play
    for rec in _duel_records(tmp_path):
        for d in rec["deliveries"]:
            for entry in d["agents"].values():
                if entry["policy_id"] is None:
                    seen.add((entry["snapshot_slot"], entry["snapshot_version"]))
    assert {slot for slot, _ in seen} == {0, 1, 2}  # the pool table reached the actors as it filled
    assert max(version for _, version in seen) >= 4  # later snapshots too
    # every snapshot slot's weights were read from the object store by the actors
    assert {f"snapshot {slot}" for slot in range(3)} <= set(_reads_per_channel(err))
    assert _progress(tmp_path)[-1]["self_play/pool_size"] == 3.0
    assert_no_actors_left()


@pytest.mark.timeout(180)
def test_a_league_of_two_learners_plays_each_other_and_all_snapshots_on_other_nodes(cluster, tmp_path):
    log_dir = tmp_path / "records"
    err = _train_cli(
        cluster,
        tmp_path,
        *("--env", "ray_envs:make_recorded_duel", "--env-kwargs", json.dumps({"log_dir": str(log_dir)})),
        *("--self-play", "--num-policies", "2", "--self-play-every", "2", "--self-play-pool-size", "2"),
        *("--self-play-opponents", "rating"),
    )
    learners: set[tuple[int, ...]] = set()  # the learning policies of each episode, as the envs were told
    slots: set[int] = set()
    for rec in _duel_records(tmp_path):
        for d in rec["deliveries"]:
            ids = [entry["policy_id"] for entry in d["agents"].values()]
            learners.add(tuple(sorted(k for k in ids if k is not None)))
            slots.update(e["snapshot_slot"] for e in d["agents"].values() if e["policy_id"] is None)
    assert {(0,), (1,), (0, 1)} <= learners  # each learner vs a snapshot, and the two learners together
    assert {0, 2} <= slots  # snapshots of both learners (learner k's slots: 2k, 2k + 1)
    assert {"snapshot 0", "snapshot 2"} <= set(_reads_per_channel(err))
    last = _progress(tmp_path)[-1]
    assert "league/policy_0/ordinal" in last and "league/policy_1/ordinal" in last
    assert_no_actors_left()


@pytest.mark.timeout(180)
def test_plr_scores_and_distribution_cross_the_ray_backend(cluster, tmp_path, monkeypatch):
    """Scores computed in the actors fill the trainer's table; its distribution reaches the actors' envs.

    The score is the task's index (``ray_envs:task_index_score``, called in the workers), so once the
    20 levels are seen the last one ranks first and PLR gives it ~0.9 of the episodes (uniform: 0.05)."""
    reports = record_reports(monkeypatch)
    cfg = cfg_for(
        cluster,
        tmp_path,
        "examples.procgen_maze:make_env",
        environment__env_kwargs={"curriculum": "plr", "train_levels": 20},
        task_curriculum__kind="plr",
        task_curriculum__plr_score="ray_envs:task_index_score",
    )
    relayrl.train(cfg)
    episodes = [(r.node, ep) for r in reports for ep in r.episodes if ep.task is not None]
    nodes = {node.node_id for node in cluster.worker_nodes}
    # the envs in the actors report their task; the actors score the episodes (the trainer does not)
    assert {node for node, ep in episodes if ep.score == float(ep.task)} == nodes
    assert all(ep.num_tasks == 20 and ep.score == float(ep.task) for _, ep in episodes)
    table = checkpoints.load_latest(Experiment(tmp_path / "runs", "e"))["task_curriculum"]["table"]
    assert sum(table["seen"]) == 20 and table["scores"] == [float(i) for i in range(20)]
    rows = [row for row in _progress(tmp_path) if "task_curriculum/seen_levels" in row]
    assert rows[-1]["task_curriculum/seen_levels"] == 20.0 and rows[-1]["task_curriculum/max_prob"] > 0.85
    assert any("task_curriculum/delay_p90" in row for row in rows)  # new distributions arrived at the envs
    # the envs sampled from it: the top-ranked level dominates the last quarter of the episodes
    last = [ep.task for _, ep in episodes[-len(episodes) // 4 :]]
    assert last.count(19) / len(last) > 0.5, last
    assert_no_actors_left()


def test_opponent_level_ratings_cross_the_ray_backend(cluster, tmp_path, monkeypatch):
    """Episodes in the actors report their opponent level; the trainer rates them and the ratings reach the
    actors' envs, whose rating gate settles them at the highest level the (ladder's fixed) policy beats."""
    reports = record_reports(monkeypatch)
    cfg = cfg_for(
        cluster,
        tmp_path,
        "level_envs:make_ladder",
        train_for_env_steps=16_384,
        environment__env_kwargs={"beats": 2},
        opponent_ratings__enabled=True,
    )
    relayrl.train(cfg)
    episodes = [(r.node, ep) for r in reports for ep in r.episodes]
    nodes = {node.node_id for node in cluster.worker_nodes}
    assert {node for node, ep in episodes if "opponent/level" in ep.extra} == nodes
    saved = checkpoints.load_latest(Experiment(tmp_path / "runs", "e"))["opponent_ratings"]
    players = saved["league"]["players"]
    assert players["bot:level_2"]["mu"] > players["policy_0"]["mu"] > players["bot:level_1"]["mu"]
    last = [ep.extra["opponent/level"] for _, ep in episodes[-len(episodes) // 4 :]]
    assert last.count(1.0) / len(last) > 0.6, last  # level 1, and a tenth probing level 2
    assert_no_actors_left()

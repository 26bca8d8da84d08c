"""The Ray backend's parts that need no cluster: the hub, an actor's link to it (with a hub whose replies
the test delivers by hand), and trajectory slots sent as arrays."""

import dataclasses
from concurrent.futures import Future
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch

from relayrl.shared.trajectories import TrajectoryBuffers

pytest.importorskip("ray")

from relayrl.shared.ray_hub import INFO, POOL_TABLE, ProgressHub, PublishedWeights  # noqa: E402
from relayrl.worker import ray_links  # noqa: E402
from relayrl.worker.ray_links import HubLink, LinkedCounters, LinkedInfo, LinkedWeights  # noqa: E402


class HandDeliveredHub:
    """A ``ProgressHub`` behind ``hub.exchange.remote(...)`` whose replies arrive when the test says."""

    def __init__(self, hub: ProgressHub) -> None:
        self.hub = hub
        self.waiting: list[tuple[Future, tuple]] = []
        self.exchange = self

    def remote(self, *args: Any) -> "HandDeliveredHub._Ref":
        future: Future = Future()
        self.waiting.append((future, args))
        return HandDeliveredHub._Ref(future)

    def deliver_all(self) -> None:
        for future, args in self.waiting:
            future.set_result(self.hub.exchange(*args))
        self.waiting.clear()

    class _Ref:
        def __init__(self, future: Future) -> None:
            self._future = future

        def future(self) -> Future:
            return self._future


def test_hub_replies_with_the_totals_and_only_what_changed():
    hub = ProgressHub(base_steps=1000, policy_base=[600, 400])
    policy_1 = PublishedWeights(channel=1, serial=3, version=1, ref=None, nbytes=8)
    snapshot = PublishedWeights(channel=2, serial=1, version=0, ref=None, nbytes=8)
    hub.publish_blob(INFO, 2, {"policy_version": 1})
    hub.publish_blob(INFO, 1, {"policy_version": 0})  # older: ignored
    hub.publish_blob(POOL_TABLE, 1, {0: {"version": 0, "weight": 1.0}})
    hub.publish_weights(policy_1)
    hub.publish_weights(dataclasses.replace(policy_1, serial=2))  # older: ignored
    hub.publish_weights(snapshot)
    reply = hub.exchange(10, [4, 6], {}, {})
    assert reply.total == 1010 and reply.policy_totals == (604, 406)
    assert reply.blobs == {INFO: (2, {"policy_version": 1}), POOL_TABLE: (1, {0: {"version": 0, "weight": 1.0}})}
    assert set(reply.weights) == {policy_1, snapshot}
    # the caller holds the info and policy 1's weights: only the pool table and the snapshot come back
    reply = hub.exchange(5, None, {INFO: 2}, {1: 3})  # None: all of them policy 0's
    assert reply.total == 1015 and reply.policy_totals == (609, 406)
    assert set(reply.blobs) == {POOL_TABLE} and reply.weights == (snapshot,)
    reply = hub.exchange(0, [0, 0, 2], {INFO: 2, POOL_TABLE: 1}, {1: 3, 2: 1})
    assert reply.blobs == {} and reply.weights == () and reply.policy_totals == (609, 406, 2)


def test_link_totals_are_live_for_own_steps_and_never_decrease(monkeypatch):
    hub = ProgressHub(base_steps=500, policy_base=[300, 200])
    hub.publish_blob(INFO, 1, {"policy_version": 0})
    remote = HandDeliveredHub(hub)
    link = HubLink(remote, period=0.0)
    monkeypatch.setattr(ray_links.ray, "get", lambda ref, timeout=None: ref.future().result())
    remote_sync = remote.remote  # sync waits on its reply: deliver it as soon as it is asked for

    def answered(*args: Any) -> Any:
        ref = remote_sync(*args)
        remote.deliver_all()
        return ref

    monkeypatch.setattr(remote, "remote", answered)
    link.sync(timeout=1.0)
    monkeypatch.setattr(remote, "remote", remote_sync)
    counters, info = LinkedCounters(link), LinkedInfo(link, INFO)
    assert counters.total() == 500 and info.read() == (1, {"policy_version": 0})  # before the first step
    assert counters.policy_totals() == [300, 200]
    assert LinkedInfo(link, POOL_TABLE).read() == (0, None)  # nothing published
    seen, seen_policy = [], []
    for round_ in range(20):
        counters.add(0, 4, np.array([1, 7]))  # this worker's batch step: counted at once, sent without waiting
        hub.exchange(3, [0, 5], {INFO: 1}, {})  # another worker's steps reach the hub
        if round_ % 3 == 2:
            remote.deliver_all()  # replies arrive late, and in bursts
        seen.append(counters.total())
        seen_policy.append(counters.policy_totals())
    assert seen == sorted(seen), "the total went backwards"
    for k in (0, 1):
        assert [p[k] for p in seen_policy] == sorted(p[k] for p in seen_policy), f"policy {k} went backwards"
    assert seen[0] >= 504 and seen_policy[0][0] >= 301 and seen_policy[0][1] >= 207  # own steps count at once
    remote.deliver_all()
    counters.total()  # takes the last reply (and sends the rest)
    remote.deliver_all()
    counters.total()
    assert counters.total() == hub.total() == 500 + 20 * 4 + 20 * 3
    assert counters.policy_totals() == hub.policy_totals() == [300 + 20, 200 + 20 * 7 + 20 * 5]


def test_linked_weights_load_the_newest_publication_of_their_channel_once(monkeypatch):
    model = torch.nn.Linear(2, 1)
    arrays = {k: np.full(v.shape, 7.0, np.float32) for k, v in model.state_dict().items()}
    for a in arrays.values():
        a.flags.writeable = False  # as read from the object store
    link = HubLink(hub=None, period=1.0)
    policy_1, snapshot_0 = LinkedWeights(link, 1), LinkedWeights(link, 2)
    reads = []
    monkeypatch.setattr(ray_links.ray, "get", lambda ref: reads.append(ref) or arrays)  # the object store
    assert policy_1.load_into(model, (-1, -1)) == (-1, -1)  # nothing published yet
    link.offer(PublishedWeights(channel=1, serial=5, version=2, ref="r5", nbytes=12))
    link.offer(PublishedWeights(channel=1, serial=4, version=1, ref="r4", nbytes=12))  # older: ignored
    link.offer(PublishedWeights(channel=2, serial=1, version=0, ref="s1", nbytes=12))
    assert policy_1.load_into(model, (-1, -1)) == (5, 2)
    assert torch.all(model.weight == 7.0)
    assert policy_1.load_into(model, (5, 2)) == (5, 2)
    assert snapshot_0.load_into(model, (-1, -1)) == (1, 0)
    assert reads == ["r5", "s1"] and link.fetched_bytes == 24 and link.fetched == {1: 1, 2: 1}  # each read once


def test_exchange_period_keeps_the_hub_below_its_call_rate():
    periods = {n: ray_links.exchange_period(n) for n in [*range(1, 200), 250, 500, 1000, 4000, 10_000]}
    for n, period in periods.items():
        assert n / period <= ray_links.HUB_CALLS_PER_SECOND * (1 + 1e-9), n  # all actors' calls per second
        assert period >= ray_links.MIN_EXCHANGE_SECONDS, n
        # no longer than it must be: at the shortest period, or the hub at its call rate
        assert period == ray_links.MIN_EXCHANGE_SECONDS or n / period == pytest.approx(ray_links.HUB_CALLS_PER_SECOND)
    ordered = [periods[n] for n in sorted(periods)]
    assert ordered == sorted(ordered)  # more actors never exchange more often each
    assert periods[1] == ray_links.MIN_EXCHANGE_SECONDS < periods[10_000]


# ----- slots as arrays -----


def test_slot_arrays_round_trip_into_another_slot_with_dict_observations():
    space = gym.spaces.Dict({"image": gym.spaces.Box(0, 255, (3, 3), np.uint8), "pos": gym.spaces.Box(-1, 1, (2,))})
    trainer = TrajectoryBuffers.allocate(4, 5, 2, space, gym.spaces.Discrete(3), 0, shared=False)
    own = trainer.like(1)
    assert own.obs["image"].shape == (1, 6, 2, 3, 3) and own.valid.all() and not own.rewards.any()
    own.obs["image"][0].fill_(9)
    own.rewards[0].copy_(torch.arange(10.0).reshape(5, 2))
    own.valid[0, 1, 1] = False
    own.policy_versions[0] = 7
    arrays = own.slot_arrays(0)
    for a in (arrays["rewards"], arrays["obs"]["image"]):
        a.flags.writeable = False  # received arrays are read-only views
    trainer.write_slot(2, arrays)
    assert torch.all(trainer.obs["image"][2] == 9) and not trainer.obs["image"][1].any()
    assert torch.equal(trainer.rewards[2], torch.arange(10.0).reshape(5, 2))
    assert trainer.valid[2].sum() == 9 and bool((trainer.policy_versions[2] == 7).all())

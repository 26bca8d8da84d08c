"""``PolicySet``: every trained policy of a run, keyed by policy id (a single-policy run is a set of one).

Each ``Policy`` holds what the trainer keeps of one policy: its ``Learner`` (model, optimizer,
normalizers, version), its published weights (``SharedWeights``, what the workers load), its run state
(``PolicyState``: best return, reward shaping, env parameters, agent steps; the same object as
``TrainState.policies[k]``, so checkpoints see it) and the window of its recent episodes. Nothing in the
trainer holds a policy apart from this set: the loop trains and publishes every policy through it, the
reporter and the checkpointer read every policy from it, and the training-info publisher takes each
policy's progress from ``table()``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from relayrl import info_schema
from relayrl.learning.learner import Learner
from relayrl.shared.weights import SharedWeights
from relayrl.trainer.episode_stats import EpisodeStatsWindow
from relayrl.trainer.state import PolicyState
from relayrl.worker.report import EpisodeRecord


@dataclasses.dataclass
class Policy:
    """One trained policy (see the module docstring)."""

    id: int
    learner: Learner
    weights: SharedWeights
    state: PolicyState
    window: EpisodeStatsWindow
    """Its recent episodes (``--stats-window``): its ``policy_<k>/...`` report keys, its ``best`` file,
    ``training_info["policies"][k]["stats"]`` and PBT's objective."""
    learner_stats: dict[str, float] = dataclasses.field(default_factory=dict)
    """The last update's losses and statistics."""

    @property
    def version(self) -> int:
        return self.learner.policy_version

    def publish(self) -> None:
        """Publish the learner's current weights to the workers (labelled with its version)."""
        self.weights.publish_module(self.learner.model, self.learner.policy_version)


class PolicySet(Mapping[int, Policy]):
    """The run's policies by id, iterated in id order."""

    def __init__(self, policies: Iterable[Policy]) -> None:
        self._by_id = {p.id: p for p in sorted(policies, key=lambda p: p.id)}
        if not self._by_id:
            raise ValueError("a PolicySet needs at least one policy")

    def __getitem__(self, policy_id: int) -> Policy:
        return self._by_id[policy_id]

    def __iter__(self) -> Iterator[int]:
        return iter(self._by_id)

    def __len__(self) -> int:
        return len(self._by_id)

    def all(self) -> list[Policy]:
        """The policies in id order."""
        return list(self._by_id.values())

    @property
    def rnn_state_size(self) -> int:
        """The recurrent state size of the policies' model (one architecture for all)."""
        return int(self.all()[0].learner.model.rnn_state_size)

    @property
    def learners(self) -> dict[int, Learner]:
        return {k: p.learner for k, p in self._by_id.items()}

    def publish_all(self) -> None:
        for policy in self._by_id.values():
            policy.publish()

    @property
    def latest_version(self) -> int:
        """The highest policy version (a run's progress in learner updates; checkpoint file names)."""
        return max(p.version for p in self._by_id.values())

    def lag(self, versions: Sequence[int]) -> int:
        """Policy lag of a rollout collected with ``versions`` (``RolloutReport.policy_versions``, index =
        policy id): the most updates any policy's learner has made since (0 when every policy's weights
        were the latest)."""
        return max((p.version - versions[k] for k, p in self._by_id.items() if k < len(versions)), default=0)

    def add_episodes(self, episodes: Iterable[EpisodeRecord]) -> None:
        """Each finished episode into its policy's window (episodes of self-play snapshots, whose
        controller is not a policy of the set, are left out)."""
        for ep in episodes:
            policy = self._by_id.get(ep.policy_id)
            if policy is not None:
                policy.window.add((ep,))

    def add_steps(self, policy_steps: Mapping[int, int]) -> None:
        """Agent steps each policy took (from a rollout report)."""
        for k, steps in policy_steps.items():
            if k in self._by_id:
                self._by_id[k].state.env_steps += steps

    def table(self) -> dict[int, dict[str, Any]]:
        """Every policy's own progress, as ``training_info["policies"]`` publishes it
        (``info_schema.POLICIES``)."""
        out = {}
        for k, p in self._by_id.items():
            entry: dict[str, Any] = {
                info_schema.POLICY_VERSION: p.version,
                info_schema.POLICY_ENV_STEPS: p.state.env_steps,
                info_schema.STATS: p.window.summary(),
            }
            if p.state.reward_shaping is not None:
                entry[info_schema.REWARD_SHAPING] = p.state.reward_shaping
            if p.state.env_params is not None:
                entry[info_schema.ENV_PARAMS] = p.state.env_params
            out[k] = entry
        return out


def build_policy_set(
    learners: Mapping[int, Learner], states: Mapping[int, PolicyState], ctx: Any, stats_window: int
) -> PolicySet:
    """One ``Policy`` per learner, its weights published once in new shared memory (``ctx``: the
    multiprocessing context the workers start from)."""
    return PolicySet(
        Policy(
            id=k,
            learner=learner,
            weights=SharedWeights(learner.model.state_dict(), ctx),
            state=states[k],
            window=EpisodeStatsWindow(stats_window),
        )
        for k, learner in learners.items()
    )

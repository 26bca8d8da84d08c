"""``SnapshotAgeCurriculum``: the opponent-difficulty curriculum of self-play, over snapshot ages.

The per-env-instance curriculum of ``OpponentCurriculum``, with the levels taken from the self-play pool
instead of scripted bots: level 0 is the learner's oldest snapshot in the pool, level ``L - 1`` its newest (the
strongest, usually). It wraps a multi-agent env (it follows the same contract, so it goes where the env
is made, in the factory); each episode the worker's mapping plays the snapshot of this instance's level
(``worker/mapping.py`` reads ``opponent_level``) instead of drawing one. The learning agent of an
episode is the one agent that ``training_info["agents"]`` names with a policy id (delivered before
every episode with self-play; an episode of two learners against each other is not counted). On that agent's last step its win (``metric``) enters this instance's window; the level
moves up at a win rate >= ``promote_threshold`` and down below ``demote_threshold``, and the window is
emptied. The episode's level is added to the learning agent's ``episode_extra_stats`` as
``opponent/level``; ``get_state`` / ``set_state`` carry level and window through checkpoints like
every curriculum's.

``gate="rating"`` promotes by the league's ratings instead of the win-rate window (docs/league.md): at
the end of each of the learner's episodes, the instance moves one level up when the learner's rating
(mu) has passed that of the snapshot of the next level, read from ``training_info["league"]`` (the
trainer publishes the ratings of the learners and of the pool's snapshots, with each learner's
snapshots oldest first). It does not demote (a learner's rating does not fall below its own past
snapshots' without losing to them, which the ratings then show); without ratings in training info
(openskill not installed) the level stays.
"""

from __future__ import annotations

import collections
from collections.abc import Mapping
from typing import Any

from relayrl.curriculum.opponents import GATES
from relayrl.envs.episode_stats import EXTRA_STATS_KEY


class SnapshotAgeCurriculum:
    """Wraps a multi-agent env; see the module docstring."""

    def __init__(
        self,
        env: Any,
        levels: int,
        metric: str = "win",
        window: int = 20,
        promote_threshold: float = 0.7,
        demote_threshold: float | None = 0.2,
        start_level: int = 0,
        gate: str = "win_rate",
    ) -> None:
        """``levels``: how many snapshot ages (at most ``--self-play-pool-size``; levels beyond the
        snapshots in the pool play the newest); ``gate``: ``win_rate`` (the window) or ``rating``."""
        if levels < 1 or window < 1:
            raise ValueError(f"levels and window must be >= 1, got {levels} and {window}")
        if gate not in GATES:
            raise ValueError(f"gate must be one of {', '.join(GATES)}, got {gate!r}")
        self.gate = gate
        if demote_threshold is not None and demote_threshold >= promote_threshold:
            raise ValueError(
                f"demote_threshold ({demote_threshold}) must be below promote_threshold ({promote_threshold})"
            )
        self.env = env
        self.levels, self.metric, self.window_size = levels, metric, window
        self.promote, self.demote = promote_threshold, demote_threshold
        self.opponent_level = min(max(start_level, 0), levels - 1)
        """The level of the next episode (read by the worker's mapping right before the reset)."""
        self.episode_level = self.opponent_level
        self.window: collections.deque[float] = collections.deque(maxlen=window)
        self.learner: Any = None
        self.learner_policy: Any = None
        self.training_info: dict[str, Any] = {}
        self.possible_agents = env.possible_agents
        self.observation_space = env.observation_space
        self.action_space = env.action_space

    @property
    def agents(self) -> list[Any]:
        return self.env.agents

    def set_training_info(self, training_info: dict[str, Any]) -> None:
        self.training_info = training_info
        agents = training_info.get("agents") or {}
        learners = [agent for agent, entry in agents.items() if entry.get("policy_id") is not None]
        self.learner = learners[0] if len(learners) == 1 else None
        self.learner_policy = agents[self.learner]["policy_id"] if self.learner is not None else None
        inner = getattr(self.env, "set_training_info", None)
        if callable(inner):
            inner(training_info)

    def reset(self, seed: int | None = None, options: Any = None) -> tuple[dict, dict]:
        self.episode_level = self.opponent_level
        return self.env.reset(seed=seed, options=options)

    def step(self, actions: Mapping[Any, Any]) -> tuple[dict, dict, dict, dict, dict]:
        obs, rewards, terms, truncs, infos = self.env.step(actions)
        agent = self.learner
        if agent is not None and (terms.get(agent) or truncs.get(agent)):
            info = dict(infos.get(agent) or {})
            extra = dict(info.get(EXTRA_STATS_KEY) or {})
            if self.gate == "rating":
                self.check_ratings()
            elif self.metric in extra:
                self.episode_finished(float(extra[self.metric]))
            extra["opponent/level"] = float(self.episode_level)
            info[EXTRA_STATS_KEY] = extra
            infos = {**infos, agent: info}
        return obs, rewards, terms, truncs, infos

    def check_ratings(self) -> None:
        """``gate="rating"``: one level up when the learner's mu has passed the next level's snapshot's."""
        league = self.training_info.get("league") or {}
        ratings, snapshots = league.get("ratings") or {}, (league.get("snapshots") or {}).get(self.learner_policy)
        if self.episode_level != self.opponent_level or not snapshots or self.opponent_level >= self.levels - 1:
            return
        nxt = snapshots[min(self.opponent_level + 1, len(snapshots) - 1)]
        me = ratings.get(f"policy_{self.learner_policy}")
        if me is not None and nxt in ratings and me["mu"] > ratings[nxt]["mu"]:
            self.opponent_level += 1
            self.window.clear()

    def episode_finished(self, win: float) -> None:
        """Count a result at the current level; promote / demote once the window is full."""
        if self.episode_level != self.opponent_level:
            return  # the level changed since this episode began
        self.window.append(win)
        if len(self.window) < self.window_size:
            return
        rate = sum(self.window) / len(self.window)
        if rate >= self.promote and self.opponent_level < self.levels - 1:
            self.opponent_level += 1
            self.window.clear()
        elif self.demote is not None and rate < self.demote and self.opponent_level > 0:
            self.opponent_level -= 1
            self.window.clear()

    def get_state(self) -> dict[str, Any]:
        return {"level": self.opponent_level, "window": list(self.window)}

    def set_state(self, state: Mapping[str, Any]) -> None:
        self.opponent_level = min(max(int(state.get("level", 0)), 0), self.levels - 1)
        self.window = collections.deque((float(x) for x in state.get("window", [])), maxlen=self.window_size)

    def close(self) -> None:
        self.env.close()


def find_opponent_level(env: Any) -> int | None:
    """The ``opponent_level`` of the first ``SnapshotAgeCurriculum``-like object in ``env``'s chain."""
    from relayrl.envs.unwrap import first_in_chain

    found = first_in_chain(env, lambda obj: isinstance(getattr(obj, "opponent_level", None), int))
    return None if found is None else int(found.opponent_level)

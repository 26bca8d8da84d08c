"""The evaluation itself: ``Evaluator`` plays every policy's requested weights for ``--eval-episodes``
episodes in an env built with ``--eval-env-kwargs`` and told it is an evaluation env
(``info_schema.evaluation_info``), and returns each policy's metrics.

Single-agent envs: the policy plays the env. Multi-agent envs: the policy plays the first agent and each
``--eval-opponents`` entry the others (without opponents: the policy itself), each for
``--eval-episodes`` episodes. Episode i of every evaluation resets with the same seed, so evaluations
of successive versions compare like with like.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from relayrl import info_schema
from relayrl.config import Config, ConfigError, replace
from relayrl.config.evaluation import opponent_name
from relayrl.envs import make_env
from relayrl.envs.parallel_contract import agent_spaces, is_multiagent_env
from relayrl.evaluation import EvalResult, evaluate
from relayrl.evaluation.matches import ModelPlayer, ScriptedPlayer, evaluate_multiagent, resolve_opponent
from relayrl.models import build_actor_critic
from relayrl.shared.weights import SharedWeights

SEED_OFFSET = 1_000_003
"""Evaluation episode i resets with ``seed + SEED_OFFSET + i`` (apart from the training envs' seeds)."""


@dataclasses.dataclass(frozen=True)
class EvalSetup:
    """Everything the evaluator is given once (picklable: it crosses into the evaluator process)."""

    cfg: Config
    """The evaluation config (``eval_config``: no user hooks, ``--eval-env-kwargs`` merged)."""
    weights: tuple[SharedWeights, ...]
    """By policy id: the weights to evaluate, published by the trainer with each request."""
    seed: int


@dataclasses.dataclass(frozen=True)
class EvalRequest:
    """Evaluate the weights published in ``EvalSetup.weights`` (taken at ``env_steps``)."""

    env_steps: int


@dataclasses.dataclass(frozen=True)
class EvalReport:
    """One evaluation's results."""

    env_steps: int
    metrics: dict[int, dict[str, float]]
    """Policy id -> ``reward`` (mean return), ``reward_min``, ``reward_max``, ``length`` (mean),
    ``episode_extra_stats/<key>/mean``, ``vs/<opponent>/reward`` and ``vs/<opponent>/win_rate``, and
    ``policy_version`` (of the evaluated weights)."""
    seconds: float


@dataclasses.dataclass(frozen=True)
class EvalFailed:
    """The evaluator raised (the run stops with this traceback)."""

    traceback: str


def eval_config(cfg: Config) -> Config:
    """The config the evaluation env is built from: ``--eval-env-kwargs`` merged over ``--env-kwargs``,
    no user hooks (they run in the trainer only)."""
    merged = {**cfg.environment.env_kwargs, **cfg.evaluation.eval_env_kwargs}
    return replace(cfg.without_hooks(), environment__env_kwargs=merged)


def win_rate(result: EvalResult, win_key: str) -> float:
    """The mean of the episodes' ``win_key`` stat (1 = win), else the fraction with a return > 0."""
    if win_key in result.extra_stats:
        return float(result.extra_stats[win_key])
    return float(np.mean([r > 0 for r in result.returns]))


def summarize(results: Sequence[EvalResult]) -> dict[str, float]:
    """Return, length and extra-stat means over the episodes of ``results`` together."""
    returns = np.asarray([r for res in results for r in res.returns], dtype=np.float64)
    lengths = [n for res in results for n in res.lengths]
    out = {
        "reward": float(returns.mean()),
        "reward_min": float(returns.min()),
        "reward_max": float(returns.max()),
        "length": float(np.mean(lengths)),
    }
    keys = sorted({key for res in results for key in res.extra_stats})
    for key in keys:
        out[f"episode_extra_stats/{key}/mean"] = float(
            np.mean([res.extra_stats[key] for res in results if key in res.extra_stats])
        )
    return out


class Evaluator:
    """Builds the evaluation env, the policies' models and the opponents once; ``run`` evaluates."""

    def __init__(self, setup: EvalSetup) -> None:
        """ConfigError (the env's own message) when the env cannot be built with ``--eval-env-kwargs``,
        when its spaces do not fit the policies' model, or for an opponent that cannot be used."""
        self.setup = setup
        cfg = setup.cfg
        self.env = make_env(cfg, env_index=0)
        try:
            self.agents: tuple[Any, ...] | None = None
            if is_multiagent_env(self.env):
                self.agents, obs_space, action_space = agent_spaces(self.env, cfg.env)
            else:
                obs_space, action_space = self.env.observation_space, self.env.action_space
            self.action_space = action_space
            self.models = [build_actor_critic(obs_space, action_space, cfg.model) for _ in setup.weights]
            for k, (model, weights) in enumerate(zip(self.models, setup.weights, strict=True)):
                try:
                    model.load_state_dict(weights.tensors)
                except RuntimeError as exc:
                    raise ConfigError(
                        f"--eval-env-kwargs {cfg.evaluation.eval_env_kwargs}: the evaluation env's spaces "
                        f"({obs_space}, {action_space}) do not fit policy {k}'s model; evaluate settings "
                        f"with the training env's observation and action spaces ({' '.join(str(exc).split())[:200]})"
                    ) from exc
                model.eval()
            self.held = [(-1, -1)] * len(setup.weights)
            self.opponents = self._opponents()
        except BaseException:
            self.env.close()
            raise

    def _opponents(self) -> list[tuple[str, int | Callable[[Any], Any]]]:
        specs = self.setup.cfg.evaluation.opponent_specs
        if specs and self.agents is None:
            raise ConfigError(
                f"--eval-opponents needs a multi-agent env; {self.setup.cfg.env!r} is a single-agent env "
                "(an env that plays its own opponent chooses it through --eval-env-kwargs)."
            )
        ids = list(range(len(self.setup.weights)))
        return [(opponent_name(s), resolve_opponent(s, ids, self.setup.cfg.env)) for s in specs]

    def run(self, request: EvalRequest) -> EvalReport:
        """Evaluate every policy's published weights (see the module docstring)."""
        t0 = time.monotonic()
        versions = []
        for k, weights in enumerate(self.setup.weights):
            self.held[k] = weights.load_into(self.models[k], self.held[k])
            versions.append(self.held[k][1])
        metrics = {k: self._policy(k, versions[k], request.env_steps) for k in range(len(self.models))}
        return EvalReport(request.env_steps, metrics, time.monotonic() - t0)

    def _policy(self, k: int, version: int, env_steps: int) -> dict[str, float]:
        cfg = self.setup.cfg
        ev = cfg.evaluation
        seed = self.setup.seed + SEED_OFFSET
        info = info_schema.evaluation_info(env_steps, k, version)
        if self.agents is None:
            out = summarize(
                [evaluate(self.env, self.models[k], ev.episodes, seed, ev.deterministic, training_info=info)]
            )
        else:
            results = {}
            for name, opponent in self.opponents or [("self", k)]:
                players = {
                    agent: self._player(k if a == 0 else opponent, ev.deterministic)
                    for a, agent in enumerate(self.agents)
                }
                results[name] = evaluate_multiagent(
                    self.env, players, self.agents[0], ev.episodes, seed, training_info=info
                )
            out = summarize(list(results.values()))
            for name, res in results.items():
                if self.opponents:
                    out[f"vs/{name}/reward"] = res.mean_return
                    out[f"vs/{name}/win_rate"] = win_rate(res, cfg.self_play.win_key)
        out["policy_version"] = float(version)
        return out

    def _player(self, who: int | Callable[[Any], Any], deterministic: bool) -> Any:
        if isinstance(who, int):
            return ModelPlayer(self.models[who], self.action_space, deterministic)
        return ScriptedPlayer(who)

    def close(self) -> None:
        self.env.close()

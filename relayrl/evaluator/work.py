"""The evaluation itself: ``Evaluator`` plays every policy's requested weights for ``--eval-episodes``
episodes in an env built with ``--eval-env-kwargs`` and told it is an evaluation env
(``info_schema.evaluation_info``), and returns each policy's metrics.

Single-agent envs: the policy plays ``--eval-episodes`` copies of the env at once, one episode each, with
one batched forward pass per step (a batch-of-1 forward per step cost CartPole's evaluations about 5x
more CPU, which training felt). Multi-agent envs: the policy plays the first agent and each
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
import torch

from relayrl import info_schema
from relayrl.config import Config, ConfigError, replace
from relayrl.config.evaluation import opponent_name
from relayrl.envs import make_env
from relayrl.envs.episode_stats import EXTRA_STATS_KEY, flatten_extra_stats
from relayrl.envs.parallel_contract import agent_spaces, is_multiagent_env
from relayrl.evaluation import EvalResult, env_action
from relayrl.evaluation.episodes import deliver_training_info
from relayrl.evaluation.matches import ModelPlayer, ScriptedPlayer, evaluate_multiagent, resolve_opponent
from relayrl.league.ratings import bot_id, policy_id
from relayrl.league.table import game_score
from relayrl.models import ActorCritic, build_actor_critic
from relayrl.shared.weights import SharedWeights
from relayrl.utils.obs_tree import zip_obs
from relayrl.worker.report import EpisodeRecord

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
    games: dict[int, dict[str, list[float]]] = dataclasses.field(default_factory=dict)
    """With ``--eval-opponents``: policy id -> opponent's league player id (``bot:<spec>``,
    ``policy_<j>``) -> the policy's result in each game (1 won, 0.5 draw, 0 lost: ``game_score``)."""


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


def play_together(
    envs: Sequence[Any], model: ActorCritic, seed: int, deterministic: bool, training_info: dict[str, Any]
) -> EvalResult:
    """One episode in each of ``envs`` (env i reset with ``seed + i``, after ``training_info`` was
    delivered to it), all stepped together: one ``model.act`` per step for the envs still playing."""
    n = len(envs)
    obs: list[Any] = []
    for i, env in enumerate(envs):
        deliver_training_info(env, training_info)
        obs.append(env.reset(seed=seed + i)[0])
    size = model.rnn_state_size
    rnn = torch.zeros(n, size) if size > 0 else None
    returns, lengths = [0.0] * n, [0] * n
    extras: dict[str, list[float]] = {}
    live = list(range(n))
    starts = torch.ones(n, dtype=torch.bool)
    while live:
        batch = zip_obs(lambda *xs: torch.as_tensor(np.stack(xs)), *(obs[i] for i in live))
        with torch.inference_mode():
            res = model.act(batch, None if rnn is None else rnn[live], starts[: len(live)], deterministic)
        if rnn is not None and res.rnn_state is not None:
            rnn[live] = res.rnn_state
        still = []
        for row, i in enumerate(live):
            action = env_action(res.actions[row], envs[i].action_space)
            obs[i], reward, terminated, truncated, info = envs[i].step(action)
            returns[i] += float(reward)
            lengths[i] += 1
            if not (terminated or truncated):
                still.append(i)
                continue
            extra = info.get(EXTRA_STATS_KEY) if isinstance(info, dict) else None
            for key, value in (flatten_extra_stats(extra, lambda k, v: None) if extra else {}).items():
                extras.setdefault(key, []).append(value)
        live = still
        starts = torch.zeros(n, dtype=torch.bool)
    arr = np.asarray(returns, dtype=np.float64)
    means = {key: float(np.mean(values)) for key, values in sorted(extras.items())}
    return EvalResult(returns, lengths, float(arr.mean()), float(arr.std()), None, means)


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
            # single-agent: one env per episode of an evaluation, played together (``play_together``)
            more = cfg.evaluation.episodes - 1 if self.agents is None else 0
            self.envs = [self.env] + [make_env(cfg, env_index=i + 1) for i in range(more)]
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
        resolved = [resolve_opponent(s, ids, self.setup.cfg.env) for s in specs]
        self.players = {
            opponent_name(s): policy_id(r) if isinstance(r, int) else bot_id(s)
            for s, r in zip(specs, resolved, strict=True)
        }
        """Opponent name -> its league player id."""
        return [(opponent_name(s), r) for s, r in zip(specs, resolved, strict=True)]

    def run(self, request: EvalRequest) -> EvalReport:
        """Evaluate every policy's published weights (see the module docstring)."""
        t0 = time.monotonic()
        versions = []
        for k, weights in enumerate(self.setup.weights):
            self.held[k] = weights.load_into(self.models[k], self.held[k])
            versions.append(self.held[k][1])
        metrics, games = {}, {}
        for k in range(len(self.models)):
            metrics[k], games[k] = self._policy(k, versions[k], request.env_steps)
        return EvalReport(request.env_steps, metrics, time.monotonic() - t0, games)

    def _policy(self, k: int, version: int, env_steps: int) -> tuple[dict[str, float], dict[str, list[float]]]:
        """Policy ``k``'s metrics and, against ``--eval-opponents``, its game results by opponent player."""
        cfg = self.setup.cfg
        ev = cfg.evaluation
        seed = self.setup.seed + SEED_OFFSET
        info = info_schema.evaluation_info(env_steps, k, version)
        if self.agents is None:
            out = summarize([play_together(self.envs, self.models[k], seed, ev.deterministic, info)])
            games: dict[str, list[float]] = {}
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
            games = {}
            for name, res in results.items():
                if self.opponents:
                    out[f"vs/{name}/reward"] = res.mean_return
                    out[f"vs/{name}/win_rate"] = win_rate(res, cfg.self_play.win_key)
                    games[self.players[name]] = [
                        game_score(EpisodeRecord(ret, n, extra), cfg.self_play.win_key)
                        for ret, n, extra in zip(res.returns, res.lengths, res.episode_extras, strict=True)
                    ]
        out["policy_version"] = float(version)
        return out, games

    def _player(self, who: int | Callable[[Any], Any], deterministic: bool) -> Any:
        if isinstance(who, int):
            return ModelPlayer(self.models[who], self.action_space, deterministic)
        return ScriptedPlayer(who)

    def close(self) -> None:
        for env in getattr(self, "envs", [self.env]):
            env.close()

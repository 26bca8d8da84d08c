"""The players of a tournament and playing its games (``relayrl league --tournament``, docs/league.md).

A player spec is one of:

- ``checkpoint:<which>``: the policy of one of the experiment's checkpoints; ``<which>`` is ``latest``,
  ``best``, a periodic checkpoint's env-step count (``checkpoint:125952`` for
  ``checkpoint_000000123_125952.pt``) or a file (a name in the checkpoint folder, or a path). A
  checkpoint with several policies needs the next form.
- ``policy:<k>`` or ``policy:<k>@<which>``: policy ``k`` of that checkpoint (the latest by default;
  ``best`` is the policy's own best file).
- ``package.module:function``: a scripted opponent, ``function(obs) -> action`` (``relayrl.envs.coin_duel:bot_2``).

Without specs (``default_players``): a spread of up to ``SPREAD`` periodic checkpoints (the oldest
and the latest included, evenly spaced between), plus ``best`` when the experiment has one; each
policy of them in a run of several policies.

Each pair's games are reproducible on their own: before a pair plays, torch's, numpy's and Python's
random generators are seeded from ``seed`` and the two players' names (and so is a scripted opponent
that has a ``seed(int)`` attribute, as CoinDuel's bots do), and game ``i`` resets the env with
``seed + i``. A game's result is the first player's, from its episode: its ``--self-play-win-key``
stat, else the sign of its return (``relayrl.league.table.game_score``).
"""

from __future__ import annotations

import dataclasses
import logging
import random
import zlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from relayrl.config import Config
from relayrl.envs import make_env
from relayrl.envs.parallel_contract import agent_spaces, is_multiagent_env
from relayrl.errors import ConfigError
from relayrl.evaluation.episodes import policy_from_spaces
from relayrl.evaluation.matches import ModelPlayer, ScriptedPlayer, play_game
from relayrl.experiment import Experiment
from relayrl.hooks import import_callable
from relayrl.league.table import game_score
from relayrl.league.tournament import (
    DEFAULT_PASSES,
    Game,
    TournamentResult,
    check_tournament,
    fit_ratings,
    round_robin,
)
from relayrl.trainer import checkpointer
from relayrl.worker.report import EpisodeRecord

log = logging.getLogger("relayrl.league")

SPREAD = 6
"""Periodic checkpoints in the default player list."""
FORMS = "checkpoint:<latest|best|env steps|file>, policy:<k>[@<which>] or package.module:function"


def _steps(path: Any) -> int:
    return int(path.stem.rsplit("_", 1)[1])


def default_players(experiment: Experiment, num_policies: int) -> list[str]:
    """Up to ``SPREAD`` periodic checkpoints, evenly spread from the oldest to the latest, and ``best``
    (see the module docstring); ConfigError when the experiment has no checkpoint."""
    files = experiment.checkpoints()
    if not files:
        raise ConfigError(
            f"no checkpoint in {experiment.checkpoint_dir}; train the experiment first, or name the players "
            f"with --players ({FORMS})."
        )
    picks = sorted({round(i * (len(files) - 1) / max(SPREAD - 1, 1)) for i in range(min(SPREAD, len(files)))})
    whiches = [str(_steps(files[i])) for i in picks]
    if experiment.best_checkpoint.is_file():
        whiches.append("best")
    if num_policies == 1:
        return [f"checkpoint:{w}" for w in whiches]
    return [f"policy:{k}@{w}" for w in whiches for k in range(num_policies)]


@dataclasses.dataclass
class Contestant:
    """A resolved player: a policy network of a checkpoint (``data``, ``policy``) or a scripted
    ``function``."""

    name: str
    data: dict[str, Any] | None = None
    policy: int = 0
    function: Callable[[Any], Any] | None = None


class Roster:
    """Resolves player specs of one experiment (see the module docstring), reading each checkpoint once."""

    def __init__(self, experiment: Experiment) -> None:
        self.experiment = experiment
        self.cache: dict[str, dict[str, Any]] = {}

    def _read(self, spec: str, which: str, policy: int | None) -> dict[str, Any]:
        if which == "best" and policy:
            own = self.experiment.best_checkpoint_of(policy)
            which = str(own) if own.is_file() else "latest"
        elif which.isdigit():
            found = [p for p in self.experiment.checkpoints() if _steps(p) == int(which)]
            if not found:
                have = ", ".join(str(_steps(p)) for p in self.experiment.checkpoints()) or "none"
                raise ConfigError(f"player {spec}: no periodic checkpoint at {which} env steps (kept: {have}).")
            which = str(found[-1])
        if which not in self.cache:
            try:
                data = checkpointer.load_checkpoint(self.experiment, which)
            except ConfigError as exc:
                raise ConfigError(f"player {spec}: {exc}") from exc
            if data is None:
                raise ConfigError(f"player {spec}: no checkpoint in {self.experiment.checkpoint_dir}; train first.")
            self.cache[which] = data
        return self.cache[which]

    def resolve(self, spec: str) -> Contestant:
        """The player ``spec`` names; ConfigError naming the spec and the accepted forms."""
        kind, _, rest = spec.partition(":")
        if kind == "checkpoint" and rest:
            data = self._read(spec, rest, None)
            ids = sorted(data["policies"])
            if len(ids) > 1:
                raise ConfigError(
                    f"player {spec}: the checkpoint holds policies {', '.join(map(str, ids))}; "
                    f"name one as policy:<k>@{rest} (e.g. policy:{ids[0]}@{rest})."
                )
            return Contestant(spec, data, ids[0])
        if kind == "policy":
            k, _, which = rest.partition("@")
            if not k.isdigit():
                raise ConfigError(f"player {spec!r}: give policy:<k> or policy:<k>@<which> with k a policy id.")
            data = self._read(spec, which or "latest", int(k))
            if int(k) not in data["policies"]:
                have = ", ".join(map(str, sorted(data["policies"])))
                raise ConfigError(f"player {spec}: the checkpoint {data.get('path')} holds policies {have}.")
            return Contestant(spec, data, int(k))
        if ":" not in spec or not rest:
            raise ConfigError(f"unknown player {spec!r}: give {FORMS}.")
        return Contestant(spec, function=import_callable(spec, f"player {spec!r}"))


def _seed_pair(seed: int, a: Contestant, b: Contestant) -> None:
    """Seeds every generator a player may draw from (see the module docstring)."""
    value = (seed + zlib.crc32(f"{a.name}\n{b.name}".encode())) % 2**31
    torch.manual_seed(value)
    random.seed(value)
    np.random.seed(value)
    for player in (a, b):
        reseed = getattr(player.function, "seed", None)
        if callable(reseed):
            reseed(value)


def play_tournament(
    experiment: Experiment,
    train_cfg: Config,
    specs: Sequence[str] | None,
    games: int,
    deterministic: bool = False,
    seed: int = 0,
    passes: int = DEFAULT_PASSES,
) -> TournamentResult:
    """A round robin among ``specs`` (``default_players`` when None or empty) in the experiment's env,
    ``games`` games per pair, then the ratings fit (``fit_ratings``). ConfigError for bad input (see
    ``check_tournament``, ``Roster.resolve``) and for an env that is not a two-player multi-agent env."""
    names = list(specs) if specs else default_players(experiment, train_cfg.multi_agent.num_policies)
    check_tournament(names, games)
    roster = Roster(experiment)
    players = [roster.resolve(spec) for spec in names]
    env = make_env(train_cfg, env_index=0)
    try:
        if not is_multiagent_env(env) or len(env.possible_agents) != 2:
            raise ConfigError(
                f"a tournament needs a two-player multi-agent env; {train_cfg.env!r} is not one "
                "(its players would have no seats to take)."
            )
        agents, obs_space, action_space = agent_spaces(env, train_cfg.env)
        acting = [
            ScriptedPlayer(c.function)
            if c.function is not None
            else ModelPlayer(policy_from_spaces(train_cfg, obs_space, action_space, c.data or {}, c.policy),
                             action_space, deterministic)
            for c in players
        ]  # fmt: skip
        played: list[Game] = []
        schedule = round_robin(len(players), games)
        for a, b, i, a_first in schedule:
            if i == 0:
                _seed_pair(seed, players[a], players[b])
            seats = (a, b) if a_first else (b, a)
            result = play_game(env, {agents[0]: acting[seats[0]], agents[1]: acting[seats[1]]}, seed + i)
            mine = agents[0] if a_first else agents[1]
            episode = EpisodeRecord(result.returns[mine], result.lengths[mine], result.extra[mine])
            played.append(Game(a, b, i, a_first, game_score(episode, train_cfg.self_play.win_key)))
            if i == games - 1:
                score = sum(g.score_a for g in played[-games:]) / games
                log.info("%s vs %s: %.3f (%d games)", names[a], names[b], score, games)
    finally:
        env.close()
    ratings = fit_ratings(names, played, passes, seed)
    return TournamentResult(names, played, games, deterministic, seed, passes, ratings)

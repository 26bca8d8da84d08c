"""The pure math of population-based training: ranking, who copies whom, and mutation.

No torch, no processes: every function takes plain values (and a ``random.Random`` where it draws)
and returns new values, so each rule is tested on its own (tests/test_pbt_math.py).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import random
from collections.abc import Mapping, Sequence
from typing import Any

from relayrl.config.pbt import EnvParamRange as EnvParamRange
from relayrl.config.pbt import parse_env_params as parse_env_params


@dataclasses.dataclass(frozen=True)
class Mutation:
    """One mutated value: ``old`` -> ``new``; ``clamped`` when the proposal (``proposed``) fell outside
    its bounds and ``new`` is the clamped value instead (the proposal is never applied)."""

    name: str
    old: float
    new: float
    proposed: float
    clamped: bool


def objective_of(stats: Mapping[str, Any], objective: str) -> float | None:
    """The windowed mean of ``objective`` in a policy's training stats (``Reporter.training_stats``
    layout): ``reward`` is the episode return, anything else an ``episode_extra_stats`` key; None
    while that policy has no episode with it."""
    if objective == "reward":
        entry = stats.get("reward")
    else:
        entry = (stats.get("episode_extra_stats") or {}).get(objective)
    if not entry or entry.get("mean") is None:
        return None
    value = float(entry["mean"])
    return value if math.isfinite(value) else None


def rank(objectives: Mapping[int, float | None]) -> list[int]:
    """Policy ids from best to worst; a policy without a value ranks last (ties: lower id first)."""
    return sorted(objectives, key=lambda k: (objectives[k] is None, -(objectives[k] or 0.0), k))


def split(ranking: Sequence[int], fraction: float) -> tuple[list[int], list[int]]:
    """``(top, bottom)``: the best and the worst ``round(fraction * N)`` policies (at least one each
    when there are two or more policies, never overlapping)."""
    n = len(ranking)
    if n < 2:
        return [], []
    size = min(n // 2, max(1, round(fraction * n)))
    return list(ranking[:size]), list(ranking[n - size :])


def gap_exceeds(worse: float | None, better: float | None, rel: float, abs_: float) -> bool:
    """Whether ``better`` beats ``worse`` by more than ``rel`` of its magnitude AND more than ``abs_``.
    A copier without a value (no episode yet) copies any policy that has one."""
    if better is None:
        return False
    if worse is None:
        return True
    gap = better - worse
    return gap > abs_ and gap > rel * abs(better)


def choose_copy(
    policy_id: int,
    objectives: Mapping[int, float | None],
    fraction: float,
    rel: float,
    abs_: float,
    rng: random.Random,
) -> int | None:
    """The policy that ``policy_id`` copies now: a random policy of the top fraction when ``policy_id``
    is in the bottom fraction and the gap exceeds both thresholds; else None."""
    top, bottom = split(rank(objectives), fraction)
    if policy_id not in bottom:
        return None
    source = rng.choice(top)
    return source if gap_exceeds(objectives[policy_id], objectives[source], rel, abs_) else None


def clamp(name: str, old: float, proposed: float, low: float, high: float) -> Mutation:
    """``proposed`` clamped to ``[low, high]`` (a non-finite proposal keeps ``old``, itself clamped)."""
    if not math.isfinite(proposed):
        return Mutation(name, old, min(max(old, low), high), proposed, True)
    new = min(max(proposed, low), high)
    return Mutation(name, old, new, proposed, new != proposed)


def perturb(value: float, factor: float, rng: random.Random) -> float:
    """``value`` multiplied or divided by ``factor`` (even odds)."""
    return value * factor if rng.random() < 0.5 else value / factor


def mutate_hyperparameters(
    values: Mapping[str, float],
    bounds: Mapping[str, tuple[float, float]],
    rate: float,
    factor: float,
    rng: random.Random,
) -> tuple[dict[str, float], list[Mutation]]:
    """Each value mutates with probability ``rate`` (multiplied or divided by ``factor``; gamma: its
    ``1 - gamma``) and is clamped to ``bounds``. Returns the new values and what changed."""
    new = dict(values)
    events = []
    for name in sorted(values):
        if rng.random() >= rate:
            continue
        old = float(values[name])
        proposed = 1.0 - perturb(1.0 - old, factor, rng) if name == "gamma" else perturb(old, factor, rng)
        low, high = bounds.get(name, (-math.inf, math.inf))
        event = clamp(name, old, proposed, low, high)
        new[name] = event.new
        if event.new != old or event.clamped:  # a zero coefficient stays zero: no event
            events.append(event)
    return new, events


def mutate_env_params(
    values: Mapping[str, float],
    ranges: Mapping[str, EnvParamRange],
    rate: float,
    factor: float,
    rng: random.Random,
) -> tuple[dict[str, float], list[Mutation]]:
    """Each declared env parameter mutates with probability ``rate``: it moves up or down by
    ``(factor - 1)`` times its range and is clamped to the range."""
    new = dict(values)
    events = []
    for name in sorted(values):
        if rng.random() >= rate:
            continue
        r = ranges[name]
        old = float(values[name])
        step = (factor - 1.0) * (r.high - r.low)
        proposed = old + step if rng.random() < 0.5 else old - step
        event = clamp(name, old, proposed, r.low, r.high)
        new[name] = event.new
        events.append(event)
    return new, events


def mutate_shaping(
    shaping: Mapping[str, Any] | None, rate: float, factor: float, rng: random.Random, prefix: str = ""
) -> tuple[dict[str, Any] | None, list[Mutation]]:
    """Each numeric leaf (not bool) of a nested reward-shaping dict mutates with probability ``rate``,
    multiplied or divided by ``factor`` (its sign never changes). Other leaves are kept."""
    if shaping is None:
        return None, []
    new: dict[str, Any] = {}
    events: list[Mutation] = []
    for key, value in shaping.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            new[key], sub = mutate_shaping(value, rate, factor, rng, prefix=f"{path}/")
            events.extend(sub)
        elif isinstance(value, int | float) and not isinstance(value, bool) and rng.random() < rate:
            proposed = perturb(float(value), factor, rng)
            new[key] = proposed
            if proposed != value:
                events.append(Mutation(path, float(value), proposed, proposed, False))
        else:
            new[key] = copy.deepcopy(value)
    return new, events

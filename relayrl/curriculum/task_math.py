"""The sampling math of the task curricula (pure numpy, no state): Prioritized Level Replay's rank and
staleness distributions (Jiang et al. 2021) and learning progress (Portelas et al. 2020,
Kanitscheider et al. 2021).

Both sides use it: the trainer's level table (``relayrl.level_replay``) and the per-instance
``LearningProgressCurriculum`` inside an env.
"""

from __future__ import annotations

import numpy as np


def rank_weights(scores: np.ndarray, temperature: float) -> np.ndarray:
    """Rank prioritization: ``h_i = (1 / rank_i) ** (1 / temperature)``, normalized (rank 1 = highest
    score; ties broken by index, as a stable sort does). Empty input gives an empty array."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.size == 0:
        return scores
    order = np.argsort(-scores, kind="stable")
    ranks = np.empty(len(scores), dtype=np.float64)
    ranks[order] = np.arange(1, len(scores) + 1)
    # in log space: (1/rank) ** (1/0.1) underflows to 0 for ranks beyond ~1e30 otherwise
    logits = -np.log(ranks) / temperature
    weights = np.exp(logits - logits.max())
    return weights / weights.sum()


def staleness_weights(last_sampled: np.ndarray, now: int) -> np.ndarray:
    """Staleness: ``P_C(i) = (now - C_i) / sum_j (now - C_j)`` (``C_i``: the episode count when level i
    was last played); uniform when every level was just played."""
    age = np.maximum(float(now) - np.asarray(last_sampled, dtype=np.float64), 0.0)
    total = age.sum()
    if total <= 0:
        return np.full(len(age), 1.0 / max(len(age), 1))
    return age / total


def replay_distribution(
    scores: np.ndarray, last_sampled: np.ndarray, now: int, temperature: float, staleness_coef: float
) -> np.ndarray:
    """PLR's replay distribution over seen levels: ``(1 - rho) * P_S + rho * P_C``."""
    return (1.0 - staleness_coef) * rank_weights(scores, temperature) + staleness_coef * staleness_weights(
        last_sampled, now
    )


def plr_distribution(
    scores: np.ndarray,
    seen: np.ndarray,
    last_sampled: np.ndarray,
    now: int,
    temperature: float = 0.1,
    staleness_coef: float = 0.1,
    replay_prob: float | None = None,
) -> np.ndarray:
    """The probability of each of ``len(scores)`` levels being played next.

    With probability ``p`` (``replay_prob``; None: the share of levels seen, the paper's proportionate
    schedule) a seen level is replayed from ``replay_distribution``; otherwise an unseen level is drawn
    uniformly. With no unseen level left every episode is a replay; with none seen, uniform."""
    n = len(scores)
    seen = np.asarray(seen, dtype=bool)
    out = np.zeros(n, dtype=np.float64)
    n_seen = int(seen.sum())
    if n_seen == 0:
        return np.full(n, 1.0 / n)
    p = n_seen / n if replay_prob is None else float(replay_prob)
    if n_seen == n:
        p = 1.0
    idx = np.flatnonzero(seen)
    out[idx] = p * replay_distribution(
        np.asarray(scores)[idx], np.asarray(last_sampled)[idx], now, temperature, staleness_coef
    )
    if n_seen < n:
        out[~seen] = (1.0 - p) / (n - n_seen)
    return out / out.sum()


def learning_progress_distribution(fast: np.ndarray, slow: np.ndarray, floor: float) -> np.ndarray:
    """Learning progress: levels weighted by ``|fast - slow|`` (the gap between a fast and a slow moving
    average of their success), mixed with a uniform exploration floor: ``floor / n + (1 - floor) * lp``.
    Uniform while no level shows progress."""
    lp = np.abs(np.asarray(fast, dtype=np.float64) - np.asarray(slow, dtype=np.float64))
    n = len(lp)
    total = lp.sum()
    if total <= 0:
        return np.full(n, 1.0 / n)
    return floor / n + (1.0 - floor) * lp / total


def entropy(probs: np.ndarray) -> float:
    """Shannon entropy (nats) of a distribution."""
    p = np.asarray(probs, dtype=np.float64)
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())

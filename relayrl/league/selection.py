"""Opponent weights from ratings: how likely each candidate is drawn as a learner's next opponent.

``p`` is the rating-predicted probability that the learner beats the candidate (``Ratings.predict_win``);
a candidate that has never been played has a rating too (a snapshot's is its parent's when it was
taken), so it is weighted by its prediction like any other:

- ``hard``: ``(1 - p)^2``: mostly the opponents the learner is predicted to lose to (prioritized
  fictitious self-play's "hard" weighting, on predicted rather than counted win rates);
- ``even``: ``p (1 - p)``: mostly the opponents of about equal strength (the games with the most to learn
  from, and the most information for the ratings).

When every weight is 0 (the learner is predicted to beat every candidate for certain, or to lose to
every one with ``even``), every candidate gets weight 1: a draw must still be possible.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import TypeVar

from relayrl.config.self_play import RATING_WEIGHTS as WEIGHTINGS

K = TypeVar("K", bound=Hashable)


def weight_of(p: float, weighting: str) -> float:
    """The weight of a candidate the learner beats with probability ``p`` (``hard`` or ``even``)."""
    if weighting == "hard":
        return (1.0 - p) ** 2
    if weighting == "even":
        return p * (1.0 - p)
    raise ValueError(f"unknown weighting {weighting!r}; choose one of {', '.join(WEIGHTINGS)}")


def rating_weights(predictions: Mapping[K, float], weighting: str) -> dict[K, float]:
    """Candidate -> weight from candidate -> ``p`` (see the module docstring; all 0: all 1)."""
    weights = {key: weight_of(p, weighting) for key, p in predictions.items()}
    if weights and not sum(weights.values()) > 0:
        return dict.fromkeys(weights, 1.0)
    return weights

"""Every feature with every other: each combination of several policies, self-play and PBT with each
backend is accepted, except the ones docs/architecture.md ("Feature combinations") lists as refused,
which get one line that says why."""

from __future__ import annotations

import itertools

import pytest

from relayrl.config import Config, ConfigError, replace

FEATURES: dict[str, dict[str, object]] = {
    "one policy": {},
    "several policies": {"multi_agent__num_policies": 2},
    "self-play": {"self_play__enabled": True},
    "pbt": {"multi_agent__num_policies": 2, "pbt__enabled": True},
    "pbt + self-play": {"multi_agent__num_policies": 2, "pbt__enabled": True, "self_play__enabled": True},
}
REFUSED = {"pbt + self-play": "self-play.s learners play each other as a league, PBT.s population copies weights"}
"""Feature sets refused on every backend, with (part of) their one-line reason."""


@pytest.mark.parametrize(("feature", "backend"), list(itertools.product(FEATURES, ("local", "ray", "serial"))))
def test_each_feature_runs_on_each_backend_or_is_refused_with_its_reason(feature: str, backend: str) -> None:
    cfg = replace(Config(), sampling__backend=backend, **FEATURES[feature])
    if feature in REFUSED:
        with pytest.raises(ConfigError, match=REFUSED[feature]) as caught:
            cfg.validate()
        assert "\n" not in str(caught.value)
    else:
        cfg.validate()

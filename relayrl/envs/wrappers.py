"""Preprocessing for Atari (ALE/...) and MiniGrid ids.

The optional packages (``ale-py``, ``minigrid``, ``opencv-python``) are imported only when such an env is built.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from relayrl.config import ConfigError


def wrap_atari(env: gym.Env, frame_stack: int) -> gym.Env:
    """Standard Atari preprocessing: 30 no-ops, frame skip 4, 84x84 grayscale, ``frame_stack`` frames.

    ``env`` must be made with ``frameskip=1``. Observations: uint8 ``(frame_stack, 84, 84)``.
    """
    try:
        import cv2  # noqa: F401  (needed by AtariPreprocessing)
    except ImportError as e:
        raise ConfigError(
            "Atari preprocessing needs OpenCV: pip install opencv-python (or opencv-python-headless)."
        ) from e
    env = gym.wrappers.AtariPreprocessing(env, noop_max=30, frame_skip=4, screen_size=84, grayscale_obs=True)
    return gym.wrappers.FrameStackObservation(env, frame_stack)


class MiniGridObsWrapper(gym.ObservationWrapper):
    """MiniGrid observations as a Dict of ``image`` and ``direction`` (the text ``mission`` is dropped).

    ``image`` becomes float32 in [0, 1]: each channel (object, color, state index) is divided by its
    largest index. ``direction`` stays ``Discrete(4)``.
    """

    # Largest OBJECT_TO_IDX, COLOR_TO_IDX, STATE_TO_IDX values in minigrid.core.constants.
    CHANNEL_MAX = np.array([10.0, 5.0, 2.0], dtype=np.float32)

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        spaces = env.observation_space
        if not isinstance(spaces, gym.spaces.Dict) or "image" not in spaces.spaces:
            raise ConfigError(f"MiniGrid env has observation space {spaces}; expected a Dict with an 'image' key.")
        image = spaces["image"]
        self._scale = (1.0 / self.CHANNEL_MAX).astype(np.float32)
        new = {key: space for key, space in spaces.spaces.items() if key not in ("image", "mission")}
        new["image"] = gym.spaces.Box(0.0, 1.0, image.shape, dtype=np.float32)
        self.observation_space = gym.spaces.Dict(new)

    def observation(self, observation: dict[str, Any]) -> dict[str, Any]:
        out = {key: value for key, value in observation.items() if key not in ("image", "mission")}
        out["image"] = observation["image"].astype(np.float32) * self._scale
        return out

"""Stable-Baselines3 PPO with the RL Zoo's tuned MuJoCo hyperparameters, for ``benchmarks.suite``.

    benchmarks/.venvs/sb3/bin/python benchmarks/peer_runners/run_sb3_zoo.py '<params json>'

Params: ``env`` (``HalfCheetah-v5`` ...), ``seed``, ``steps``, ``work_dir``, ``eval_episodes``,
``eval_seed``, optional ``max_seconds`` (stop training after that much wall time: a partial run
whose frames/s still measure the peer's speed). Trains as ``rl_zoo3 train --algo ppo --env <env>`` would with the Zoo's
``hyperparams/ppo.yml`` entry for the v3 env (one env in a ``DummyVecEnv``, ``VecNormalize``
with the entry's gamma), on one torch thread. Writes ``progress.jsonl`` (mean return of the last
100 training episodes every ~10k steps, for the learning curve), then evaluates the final policy
deterministically (``VecNormalize`` statistics frozen, raw rewards; episode i reset with
``eval_seed + i``, as ``relayrl enjoy``) and prints one JSON line.
"""

from __future__ import annotations

import json
import sys
import time
from collections import deque
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

_BIG = {
    "log_std_init": -2,
    "ortho_init": False,
    "activation_fn": torch.nn.ReLU,
    "net_arch": {"pi": [256, 256], "vf": [256, 256]},
}

# rl-baselines3-zoo hyperparams/ppo.yml (the tuned "10 mujoco envs" entries; Ant-v3 uses the plain
# mujoco defaults: normalize and SB3's PPO defaults). All have normalize: true, n_envs: 1.
ZOO: dict[str, dict[str, Any]] = {
    "HalfCheetah": dict(
        batch_size=64, n_steps=512, gamma=0.98, learning_rate=2.0633e-05, ent_coef=0.000401762, clip_range=0.1,
        n_epochs=20, gae_lambda=0.92, max_grad_norm=0.8, vf_coef=0.58096, policy_kwargs=_BIG,
    ),
    "Hopper": dict(
        batch_size=32, n_steps=512, gamma=0.999, learning_rate=9.80828e-05, ent_coef=0.00229519, clip_range=0.2,
        n_epochs=5, gae_lambda=0.99, max_grad_norm=0.7, vf_coef=0.835671, policy_kwargs=_BIG,
    ),
    "Walker2d": dict(
        batch_size=32, n_steps=512, gamma=0.99, learning_rate=5.05041e-05, ent_coef=0.000585045, clip_range=0.1,
        n_epochs=20, gae_lambda=0.95, max_grad_norm=1.0, vf_coef=0.871923,
    ),
    "Ant": dict(),
}  # fmt: skip


class Progress(BaseCallback):
    """Mean return of the last 100 finished training episodes every ``every`` steps -> progress.jsonl;
    stops training after ``max_seconds`` of wall time."""

    def __init__(self, path: Path, t0: float, max_seconds: float | None, every: int = 10_000) -> None:
        super().__init__()
        self.file = path.open("w")
        self.t0, self.every, self.next = t0, every, every
        self.deadline = None if max_seconds is None else t0 + max_seconds
        self.window: deque[float] = deque(maxlen=100)

    def _on_step(self) -> bool:
        for info in self.locals.get("infos", []):
            if "episode" in info:
                self.window.append(float(info["episode"]["r"]))
        if self.num_timesteps >= self.next and self.window:
            self.next += self.every
            row = {
                "env_steps": self.num_timesteps,
                "time": time.time() - self.t0,
                "reward_mean": float(np.mean(self.window)),
            }
            self.file.write(json.dumps(row) + "\n")
            self.file.flush()
        return self.deadline is None or time.time() < self.deadline

    def _on_training_end(self) -> None:
        self.file.close()


def evaluate(model: PPO, train_env: VecNormalize, env_id: str, episodes: int, seed: int) -> list[float]:
    """Deterministic episodes on a fresh env, observations normalized with the frozen training statistics."""
    env = gym.make(env_id)
    returns = []
    for i in range(episodes):
        obs, _ = env.reset(seed=seed + i)
        total, done = 0.0, False
        while not done:
            action, _ = model.predict(train_env.normalize_obs(obs[None]), deterministic=True)
            obs, reward, terminated, truncated, _ = env.step(action[0])
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    env.close()
    return returns


def main() -> None:
    p = json.loads(sys.argv[1])
    torch.set_num_threads(1)
    work = Path(p["work_dir"])
    work.mkdir(parents=True, exist_ok=True)
    family = p["env"].split("-")[0]
    hp = dict(ZOO[family])
    t0 = time.time()
    venv = make_vec_env(p["env"], n_envs=1, seed=p["seed"], vec_env_cls=DummyVecEnv)
    venv = VecNormalize(venv, gamma=hp.get("gamma", 0.99))
    model = PPO("MlpPolicy", venv, seed=p["seed"], device="cpu", verbose=0, **hp)
    model.learn(total_timesteps=p["steps"], callback=Progress(work / "progress.jsonl", t0, p.get("max_seconds")))
    wall = time.time() - t0
    frames = int(model.num_timesteps)
    model.save(str(work / "model.zip"))
    venv.save(str(work / "vecnormalize.pkl"))
    returns = evaluate(model, venv, p["env"], p["eval_episodes"], p["eval_seed"])
    result = {
        "framework": "sb3-zoo",
        "env": p["env"],
        "seed": p["seed"],
        "frames": frames,
        "stopped_by_time": frames < p["steps"],
        "wall_s": wall,
        "fps": frames / wall,
        "final_return": float(np.mean(returns)),
        "final_returns": returns,
        "torch_threads": torch.get_num_threads(),
        "hyperparams": {k: v for k, v in hp.items() if k != "policy_kwargs"}
        | {"policy_kwargs": str(hp.get("policy_kwargs"))},
    }
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()

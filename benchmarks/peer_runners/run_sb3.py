"""Stable-Baselines3 runner for ``benchmarks.compare`` (run with ``benchmarks/.venvs/sb3``'s python).

    benchmarks/.venvs/sb3/bin/python benchmarks/peer_runners/run_sb3.py '<params json>'

PPO with the workload's settings. SB3 has no rollout worker processes holding several envs, so all
``num_workers * envs_per_worker`` envs step in one ``DummyVecEnv`` in this process; ``VecNormalize``
normalizes observations and scales rewards (SB3's closest match to return normalization). Prints
one JSON line: env frames (``model.num_timesteps``), wall seconds, fps and the episode-log analysis.
"""

from __future__ import annotations

import os
import time

import bench_common as bc
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize


class SmallCnn(BaseFeaturesExtractor):
    """The MiniGrid workload's encoder (``bench_common.small_cnn_layers``): 64 features."""

    def __init__(self, observation_space, features_dim: int = 64) -> None:
        super().__init__(observation_space, features_dim)
        self.cnn = torch.nn.Sequential(*bc.small_cnn_layers(observation_space.shape[0]))

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        return self.cnn(observations)


class StopAtTarget(BaseCallback):
    def __init__(self, watch) -> None:
        super().__init__()
        self.watch = watch

    def _on_step(self) -> bool:
        return self.watch is None or not self.watch.hit.is_set()


def main() -> None:
    p = bc.load_params()
    n_envs = p["num_workers"] * p["envs_per_worker"]
    # One learner update per batch: n_envs * n_steps = batch_size.
    n_steps = p["batch_size"] // n_envs
    t0 = time.time()
    image = p["env_kind"] == "atari"
    small_image = p["env_kind"] == "minigrid"
    venv = make_vec_env(bc.ENV_FACTORIES[p["env_kind"]], n_envs=n_envs, seed=p["seed"], vec_env_cls=DummyVecEnv)
    # images: no observation normalization (NatureCNN divides by 255), as in relayrl and Sample Factory
    venv = VecNormalize(venv, norm_obs=not (image or small_image), norm_reward=True, gamma=p["gamma"])
    lr = p["lr"] if p["lr_schedule"] == "constant" else (lambda frac: p["lr"] * frac)
    if image:
        # CnnPolicy: NatureCNN (conv + FC 512) shared by actor and critic, heads directly on it
        policy_kwargs = {"optimizer_kwargs": {"eps": p["adam_eps"]}}
    elif small_image:
        # separate encoders for actor and critic, as relayrl's default (shared_actor_critic=False)
        policy_kwargs = {
            "features_extractor_class": SmallCnn,
            "share_features_extractor": False,
            "normalize_images": False,
            "net_arch": {"pi": list(p["hidden"]), "vf": list(p["hidden"])},
            "activation_fn": {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU}[p["activation"]],
            "optimizer_kwargs": {"eps": p["adam_eps"]},
        }
    else:
        policy_kwargs = {
            "net_arch": {"pi": list(p["hidden"]), "vf": list(p["hidden"])},
            "activation_fn": {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU}[p["activation"]],
            "optimizer_kwargs": {"eps": p["adam_eps"]},
        }
    model = PPO(
        "CnnPolicy" if image else "MlpPolicy",  # MlpPolicy + features_extractor_class for MiniGrid
        venv,
        learning_rate=lr,
        n_steps=n_steps,
        batch_size=p["batch_size"] // p["minibatches"],
        n_epochs=p["epochs"],
        gamma=p["gamma"],
        gae_lambda=p["gae_lambda"],
        clip_range=p["clip"],
        ent_coef=p["ent_coef"],
        vf_coef=p["vf_coef"],
        max_grad_norm=p["max_grad_norm"],
        policy_kwargs=policy_kwargs,
        seed=p["seed"],
        device="cpu",
        verbose=0,
    )
    watch = bc.watch_target(p, lambda: None)
    model.learn(total_timesteps=p["steps"], callback=StopAtTarget(watch))
    venv.close()
    wall = time.time() - t0
    frames = int(model.num_timesteps)
    result = {
        "framework": "sb3",
        "frames": frames,
        "wall_s": wall,
        "fps": frames / wall,
        "n_envs": n_envs,
        "n_steps": n_steps,
        "torch_threads": torch.get_num_threads(),
    }
    result.update(bc.analyse(os.environ[bc.EPISODE_DIR_VAR], t0, p["target"], p["window"]))
    bc.emit(result)


if __name__ == "__main__":
    main()

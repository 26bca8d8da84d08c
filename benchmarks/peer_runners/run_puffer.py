"""PufferLib 3.0.0 runner for ``benchmarks.compare`` (run with ``benchmarks/.venvs/puffer``'s python).

    benchmarks/.venvs/puffer/bin/python benchmarks/peer_runners/run_puffer.py '<params json>'

PufferLib's PPO trainer (``pufferlib.pufferl.PuffeRL``) with the workload's settings
(``puffer_settings``), driven by the loop of its own ``pufferl.train()``: ``evaluate()`` (collect
one batch) then ``train()`` (update) until ``total_timesteps``, then ``close()``. Its final
evaluation episodes are left out: they are not training. The params' ``backend`` picks the vector
backend: ``Serial`` (all envs in this process) or ``Multiprocessing``.

The env is Gymnasium's ``CartPole-v1`` in PufferLib's Gymnasium emulation
(``pufferlib.emulation.GymnasiumPufferEnv``): PufferLib 3.0.0's own CartPole does not work. Inside
the emulation each env carries the common ``EpisodeLog``, so time to 475, steady fps and the final
mean return are measured as for every other framework.

Prints one JSON line: agent steps (PufferLib's own count: it includes one reset step after each
episode end), wall seconds, fps, PufferLib's last logged losses and the episode-log analysis.
"""

from __future__ import annotations

import functools
import os
import time

import bench_common as bc
import numpy as np
import puffer_settings
import pufferlib.emulation
import pufferlib.pufferl
import pufferlib.pytorch
import pufferlib.vector
import torch
from torch import nn

ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU}


def mlp(sizes: list[int], activation: str, out: int, out_gain: float) -> nn.Sequential:
    """relayrl's MLP body and head: orthogonal init, gain sqrt(2) in the body, zero biases."""
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [pufferlib.pytorch.layer_init(nn.Linear(a, b)), ACTIVATIONS[activation]()]
    layers.append(pufferlib.pytorch.layer_init(nn.Linear(sizes[-1], out), std=out_gain))
    return nn.Sequential(*layers)


class ActorCritic(nn.Module):
    """relayrl's default CartPole model: separate actor and critic MLPs (policy head gain 0.01,
    value head 1.0), in PufferLib's policy interface (``forward_eval`` / ``forward`` return logits
    and values)."""

    def __init__(self, env, hidden: list[int], activation: str) -> None:
        super().__init__()
        n_obs = int(np.prod(env.single_observation_space.shape))
        sizes = [n_obs, *hidden]
        self.actor = mlp(sizes, activation, env.single_action_space.n, 0.01)
        self.critic = mlp(sizes, activation, 1, 1.0)

    def forward_eval(self, observations, state=None):
        x = observations.view(observations.shape[0], -1).float()
        return self.actor(x), self.critic(x)

    def forward(self, observations, state=None):
        return self.forward_eval(observations, state)


def main() -> None:
    p = bc.load_params()
    if p["env_kind"] != "cartpole":
        raise SystemExit(f"run_puffer.py runs the cartpole workload only (got env_kind {p['env_kind']!r})")
    backend = p.get("backend", "Serial")
    torch.manual_seed(p["seed"])
    np.random.seed(p["seed"])
    torch.set_num_threads(1)  # one learner thread, as relayrl's default for this MLP
    config = puffer_settings.train_config(p, os.path.join(p["work_dir"], "puffer"))
    make_env = functools.partial(pufferlib.emulation.GymnasiumPufferEnv, env_creator=bc.make_cartpole)
    t0 = time.time()  # as for the other frameworks: before the env workers start
    vecenv = pufferlib.vector.make(make_env, **puffer_settings.vec_settings(p, backend))
    policy = ActorCritic(vecenv.driver_env, list(p["hidden"]), p["activation"])
    trainer = pufferlib.pufferl.PuffeRL(config, vecenv, policy)
    while trainer.global_step < config["total_timesteps"]:
        trainer.evaluate()
        trainer.train()
    # closes the envs (Serial: their episode logs flush; Multiprocessing terminates its workers, whose
    # last 0.2 s of episode records are lost) and saves the final checkpoint
    trainer.close()
    wall = time.time() - t0
    frames = int(trainer.global_step)
    result = {
        "framework": "pufferlib" if backend == "Serial" else "pufferlib-mp",
        "backend": backend,
        "frames": frames,
        "wall_s": wall,
        "fps": frames / wall,
        "updates": trainer.epoch,
        "gradient_steps_per_update": puffer_settings.gradient_steps(config),
        "torch_threads": torch.get_num_threads(),
        "losses": {k: float(v) for k, v in trainer.losses.items()},
    }
    result.update(bc.analyse(os.environ[bc.EPISODE_DIR_VAR], t0, p["target"], p["window"]))
    bc.emit(result)


if __name__ == "__main__":
    main()

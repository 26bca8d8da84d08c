"""Learner speed alone (no workers, no envs): learner samples per second of a PPO update.

    python -m benchmarks.learner_update --model mlp                     # relayrl's Learner.train
    python -m benchmarks.learner_update --model mujoco --reference      # a plain CleanRL-style loop
    python -m benchmarks.learner_update --model mlp --against /tmp/base --rounds 5
    python -m benchmarks.learner_update --model nature-cnn --profile

**Learner samples per second** = batch steps x epochs / seconds per update: the rate at which the
update pushes samples through a forward and backward pass (minibatch steps included, everything
else of the update too: gathering the batch from the slots, advantages, statistics).

Models (``--model``), each with random data in relayrl's trajectory slots:

- ``mlp``: CartPole's observation (4 floats, Discrete(2)) at relayrl's defaults: 64x64 tanh actor
  and critic, batch 2 workers x 16 envs x 32 steps = 1,024, 4 epochs x 4 minibatches;
- ``mujoco``: the ``--preset mujoco`` configuration on HalfCheetah's spaces (17 floats, Box(6)
  actions): 64x64 tanh, batch 2 x 16 x 64 = 2,048, 10 epochs x 8 minibatches;
- ``small-cnn``: MiniGrid's 7x7 view (float 3x7x7, Discrete(7)), defaults otherwise;
- ``nature-cnn``: Atari's frames (uint8 4x84x84, Discrete(6)), defaults otherwise.

Modes: the default times ``Learner.train`` of this checkout over ``--updates`` updates after
warm-up, ``--repeats`` times, and prints the median and the range. ``--reference`` times a
minimal PPO update instead (plain ``nn.Sequential`` actor and critic of the same sizes, GAE, the
same epochs and minibatches on the same tensors, forward, loss, backward, gradient clipping, a
default Adam step; no normalization): the gap to it is the learner's overhead. ``--against DIR``
runs interleaved rounds in subprocesses, this checkout against the relayrl package under ``DIR``
(e.g. ``git archive COMMIT relayrl | tar -x -C DIR``), and prints each arm's median and the median
of the per-round ratios: on a shared machine only interleaved ratios are worth quoting.
``--profile`` prints the torch profiler's table of a few updates.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from torch import nn

import relayrl
from relayrl.config import Config, replace
from relayrl.learning.learner import Learner
from relayrl.presets import preset_config
from relayrl.shared.trajectories import Batch, TrajectoryBuffers

Box = gym.spaces.Box
MODELS: dict[str, tuple[gym.Space, gym.Space, str | None]] = {
    "mlp": (Box(-1.0, 1.0, (4,), dtype=np.float32), gym.spaces.Discrete(2), None),
    "mujoco": (Box(-1.0, 1.0, (17,), dtype=np.float32), Box(-1.0, 1.0, (6,), dtype=np.float32), "mujoco"),
    "small-cnn": (Box(0.0, 1.0, (3, 7, 7), dtype=np.float32), gym.spaces.Discrete(7), None),
    "nature-cnn": (Box(0, 255, (4, 84, 84), dtype=np.uint8), gym.spaces.Discrete(6), None),
}
"""Model name -> (observation space, action space, preset)."""


def make_config(args: argparse.Namespace) -> Config:
    """The configuration of ``--model`` with the ``--workers/--envs/--rollout`` overrides."""
    preset = MODELS[args.model][2]
    cfg = preset_config(preset, env="benchmark") if preset else relayrl.Config(env="benchmark")
    changes = {"sampling__num_workers": args.workers, "sampling__num_envs_per_worker": args.envs}
    if args.rollout is not None:
        changes["sampling__rollout_length"] = args.rollout
    return replace(cfg, **changes)


def make_slots(cfg: Config, obs_space: gym.Space, action_space: gym.Space, rnn_state_size: int) -> TrajectoryBuffers:
    """One trajectory slot per worker, filled with random steps (seeded)."""
    torch.manual_seed(0)
    s = cfg.sampling
    slots = TrajectoryBuffers.allocate(
        s.num_workers, s.rollout_length, s.num_envs_per_worker, obs_space, action_space, rnn_state_size, shared=False
    )
    assert isinstance(slots.obs, torch.Tensor)
    if slots.obs.dtype == torch.uint8:
        slots.obs.random_(0, 256)
    else:
        slots.obs.uniform_()
    slots.rewards.normal_()
    slots.values.normal_()
    if isinstance(action_space, gym.spaces.Discrete):
        slots.actions.random_(0, int(action_space.n))
        slots.log_probs.fill_(-float(np.log(int(action_space.n))))
    else:
        slots.actions.normal_()
        slots.log_probs.normal_(-5.0, 1.0)
    slots.dones.copy_(torch.rand(slots.dones.shape) < 0.02)
    return slots


def _mlp(sizes: list[int], act: type[nn.Module]) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for i, o in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [nn.Linear(i, o), act()]
    return layers


class Reference:
    """A minimal CleanRL-style PPO update of the same sizes (see the module docstring)."""

    def __init__(self, cfg: Config, obs_space: gym.Space, action_space: gym.Space) -> None:
        from relayrl.models.encoders import nature_cnn, small_cnn

        self.cfg = cfg
        act = {"tanh": nn.Tanh, "relu": nn.ReLU, "elu": nn.ELU}[cfg.model.activation]
        hidden = list(cfg.model.hidden_sizes)
        shape = obs_space.shape
        assert shape is not None
        self.image = len(shape) == 3
        self.uint8 = obs_space.dtype == np.uint8

        def body() -> list[nn.Module]:
            if not self.image:
                return _mlp([int(np.prod(shape)), *hidden], act)
            c, h, w = shape
            cnn = nature_cnn(c) if min(h, w) >= 36 else small_cnn(c, h, w)
            n_flat = int(cnn(torch.zeros(1, c, h, w)).shape[1])
            extra: list[nn.Module] = []
            if min(h, w) >= 36:
                extra, n_flat = [nn.Linear(n_flat, 512), nn.ReLU()], 512
            return [*cnn, *extra, *_mlp([n_flat, *hidden], act)]

        self.discrete = isinstance(action_space, gym.spaces.Discrete)
        n_out = int(action_space.n) if isinstance(action_space, gym.spaces.Discrete) else int(action_space.shape[0])
        self.actor = nn.Sequential(*body(), nn.Linear(hidden[-1], n_out))
        self.critic = nn.Sequential(*body(), nn.Linear(hidden[-1], 1))
        self.log_std = nn.Parameter(torch.full((n_out,), cfg.model.log_std_init))
        params = [*self.actor.parameters(), *self.critic.parameters()]
        if not self.discrete:
            params.append(self.log_std)
        self.params = params
        self.optimizer = torch.optim.Adam(params, lr=cfg.algorithm.lr, eps=cfg.algorithm.adam_eps)

    def train(self, batch: Batch) -> None:
        """One update: GAE, then epochs x minibatches of forward, loss, backward, clip, Adam step."""
        from relayrl.algo import gae

        a = self.cfg.algorithm
        obs = batch.obs_steps
        assert isinstance(obs, torch.Tensor)
        adv, ret = gae(batch.rewards, batch.values, batch.bootstrap_value, batch.dones, a.gamma, a.gae_lambda)
        b_obs = obs.reshape(-1, *obs.shape[2:])
        b_act, b_logp = batch.actions.reshape(-1, *batch.actions.shape[2:]), batch.log_probs.reshape(-1)
        b_adv, b_ret, b_val = adv.reshape(-1), ret.reshape(-1), batch.values.reshape(-1)
        n = b_obs.shape[0]
        size = n // a.num_minibatches
        for _ in range(a.num_epochs):
            perm = torch.randperm(n)
            for start in range(0, n, size):
                idx = perm[start : start + size]
                x = b_obs[idx].float() / 255.0 if self.uint8 else b_obs[idx]
                out = self.actor(x)
                if self.discrete:
                    log_p = torch.log_softmax(out, -1)
                    new_logp = log_p.gather(1, b_act[idx].unsqueeze(1)).squeeze(1)
                    entropy = -(log_p.exp() * log_p).sum(-1).mean()
                else:
                    z = (b_act[idx] - out) * torch.exp(-self.log_std)
                    new_logp = (-0.5 * z.square() - self.log_std - 0.9189385).sum(-1)
                    entropy = (0.5 + 0.9189385 + self.log_std).sum()
                value = self.critic(x).squeeze(1)
                logratio = new_logp - b_logp[idx]
                ratio = logratio.exp()
                mb_adv = b_adv[idx]
                mb_adv = (mb_adv - mb_adv.mean()) / (mb_adv.std() + 1e-8)
                pg = torch.max(-mb_adv * ratio, -mb_adv * ratio.clamp(1 - a.clip_coef, 1 + a.clip_coef)).mean()
                v_loss = 0.5 * (value - b_ret[idx]).square().mean()
                loss = pg - a.ent_coef * entropy + a.vf_coef * v_loss
                self.optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(self.params, a.max_grad_norm)
                self.optimizer.step()
        del b_val


def build(args: argparse.Namespace) -> tuple[Callable[[], None], Config, int]:
    """The update to time, its configuration and the batch size in steps."""
    obs_space, action_space, _ = MODELS[args.model]
    cfg = make_config(args)
    device = torch.device(args.device)
    learner = Learner(cfg, obs_space, action_space, device, **({"closed_form": False} if args.autograd else {}))
    slots = make_slots(cfg, obs_space, action_space, learner.model.rnn_state_size)
    workers = list(range(cfg.sampling.num_workers))
    if args.reference:
        ref = Reference(cfg, obs_space, action_space)
        batch = slots.gather(workers, device)

        def update() -> None:
            ref.train(batch)
    else:

        def update() -> None:
            learner.train(slots.gather(workers, device), 0)

    s = cfg.sampling
    return update, cfg, s.num_workers * s.num_envs_per_worker * s.rollout_length


def measure(args: argparse.Namespace) -> dict[str, object]:
    """Samples/s of each repeat (after warm-up) of this process's arm."""
    torch.set_num_threads(args.threads)
    update, cfg, batch = build(args)
    device = torch.device(args.device)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    for _ in range(args.warmup):
        update()
    rates, cpu_rates = [], []
    samples = batch * cfg.algorithm.num_epochs * args.updates
    for _ in range(args.repeats):
        sync()
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(args.updates):
            update()
        sync()
        rates.append(samples / (time.perf_counter() - t0))
        cpu_rates.append(samples / (time.process_time() - c0))
    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(args.updates):
                update()
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=30))
    return {
        "relayrl": relayrl.__file__,
        "rates": rates,
        "cpu_rates": cpu_rates,
        "batch": batch,
        "epochs": cfg.algorithm.num_epochs,
        "mb": cfg.algorithm.num_minibatches,
    }


def _describe(rates: list[float]) -> str:
    return f"{statistics.median(rates):,.0f} samples/s (range {min(rates):,.0f}-{max(rates):,.0f}, n={len(rates)})"


def _arm(args: argparse.Namespace, pythonpath: str, reference: bool = False, new: bool = False) -> tuple[float, float]:
    """Median wall and CPU samples/s of one subprocess run of this benchmark with ``pythonpath``."""
    cmd = [sys.executable, "-m", "benchmarks.learner_update", "--json", "--model", args.model, "--device", args.device]
    cmd += ["--threads", str(args.threads), "--workers", str(args.workers), "--envs", str(args.envs)]
    cmd += ["--updates", str(args.updates), "--repeats", str(args.repeats), "--warmup", str(args.warmup)]
    cmd += ["--rollout", str(args.rollout)] if args.rollout is not None else []
    cmd += ["--reference"] if reference else []
    cmd += ["--autograd"] if new and args.autograd else []
    env = dict(os.environ, PYTHONPATH=pythonpath)
    # ``-m`` puts the working directory first on sys.path: run in the directory whose relayrl is meant
    first = pythonpath.split(os.pathsep)[0]
    run = subprocess.run(cmd, env=env, cwd=first, check=True, capture_output=True, text=True)
    out = json.loads(run.stdout.splitlines()[-1])
    assert Path(out["relayrl"]).is_relative_to(first), f"imported {out['relayrl']}, not relayrl from {first}"
    return statistics.median(out["rates"]), statistics.median(out["cpu_rates"])


def against(args: argparse.Namespace) -> None:
    """Interleaved rounds: this checkout (``new``) against the relayrl package under ``--against``."""
    here = str(Path(__file__).resolve().parents[1])
    base = str(Path(args.against).resolve())
    paths = {"new": here, "base": os.pathsep.join([base, here])}  # base's relayrl, this checkout's benchmark
    wall: dict[str, list[float]] = {"new": [], "base": [], "reference": []}
    cpu: dict[str, list[float]] = {"new": [], "base": [], "reference": []}
    for r in range(args.rounds):
        arms = ["new", "base"] if r % 2 == 0 else ["base", "new"]
        arms += ["reference"] if args.with_reference else []
        for name in arms:
            w, c = _arm(args, paths.get(name, here), reference=name == "reference", new=name == "new")
            wall[name].append(w)
            cpu[name].append(c)
        print(
            f"round {r + 1}: new/base wall {wall['new'][-1] / wall['base'][-1]:.2f}, "
            f"cpu {cpu['new'][-1] / cpu['base'][-1]:.2f}",
            flush=True,
        )
    print(f"{args.model}, {args.rounds} interleaved rounds (each run: the median of {args.repeats} repeats):")
    for metric, results in (("wall", wall), ("cpu", cpu)):
        for name, rates in results.items():
            if rates:
                print(f"  {metric:4s} {name:9s} {_describe(rates)}")
        ratios = [n / b for n, b in zip(results["new"], results["base"], strict=True)]
        print(f"  {metric:4s} new/base  {statistics.median(ratios):.2f}x (range {min(ratios):.2f}-{max(ratios):.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=sorted(MODELS), default="mlp")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (CPU)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--envs", type=int, default=16)
    parser.add_argument("--rollout", type=int, default=None, help="steps per slot (default: the model's config)")
    parser.add_argument("--updates", type=int, default=5, help="updates per repeat")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2, help="updates before timing")
    parser.add_argument("--reference", action="store_true", help="time the minimal CleanRL-style update instead")
    parser.add_argument(
        "--autograd", action="store_true", help="this checkout's learner with autograd, not closed-form gradients"
    )
    parser.add_argument("--profile", action="store_true", help="also print the torch profiler's table")
    parser.add_argument("--against", metavar="DIR", help="interleaved rounds against the relayrl package in DIR")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of --against")
    parser.add_argument("--with-reference", action="store_true", help="--against: a reference run in every round")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.against:
        against(args)
        return
    result = measure(args)
    if args.json:
        print(json.dumps(result))
        return
    what = "reference PPO loop" if args.reference else "Learner.train"
    print(
        f"{args.model} on {args.device} ({args.threads} thread(s)), {what}, batch {result['batch']} x "
        f"{result['epochs']} epochs x {result['mb']} minibatches:\n"
        f"  wall {_describe(result['rates'])}\n  cpu  {_describe(result['cpu_rates'])}"  # type: ignore[arg-type]
    )


if __name__ == "__main__":
    main()

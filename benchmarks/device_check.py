"""Check the --device cuda paths and compare learner devices (run on a machine with a GPU).

    python -m benchmarks.device_check --num-workers 8

Runs CartPole (MLP) and a synthetic Atari-shaped image env (Nature CNN) with the learner on cuda
and on cpu, plus a short recurrent run on cuda, and prints fps and final return for each.
"""

from __future__ import annotations

import argparse
import tempfile

import torch

import relayrl
from relayrl.config import replace


def run(name: str, train_dir: str, **changes) -> None:
    cfg = relayrl.Config(train_dir=train_dir, experiment=name, seed=1)
    cfg = replace(cfg, logging__report_interval=10.0, logging__progress_bar=False, **changes)
    s = relayrl.train(cfg)
    print(
        f"RESULT {name}: device={cfg.device} env_steps={s.env_steps} fps={s.fps:,.0f} "
        f"reward_mean={s.stats.get('reward_mean', float('nan')):.1f} policy_version={s.policy_version}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--num-workers", type=int, default=8)
    args = parser.parse_args()
    print(
        "cuda available:", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else ""
    )
    nw = args.num_workers
    with tempfile.TemporaryDirectory() as d:
        for device in ("cuda", "cpu"):
            run(
                f"cartpole_{device}",
                d,
                env="CartPole-v1",
                device=device,
                train_for_env_steps=300_000,
                sampling__num_workers=nw,
            )
        for device in ("cuda", "cpu"):
            run(
                f"image_{device}",
                d,
                env="benchmarks.synthetic_envs:make_image_env",
                device=device,
                train_for_env_steps=60_000,
                sampling__num_workers=nw,
                sampling__num_envs_per_worker=8,
                model__hidden_sizes=(512,),
            )
        run(
            "rnn_cuda",
            d,
            env="CartPole-v1",
            device="cuda",
            sampling__backend="serial",
            train_for_env_steps=20_000,
            sampling__num_workers=2,
            model__use_rnn=True,
        )


if __name__ == "__main__":
    main()

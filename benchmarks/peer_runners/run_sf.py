"""Sample Factory 2.1.1 runner for ``benchmarks.compare`` (run with ``benchmarks/.venvs/sf``'s python).

    benchmarks/.venvs/sf/bin/python benchmarks/peer_runners/run_sf.py '<params json>'

APPO (Sample Factory's asynchronous PPO) with the workload's settings, mapped onto Sample Factory's
flags in ``sf_argv`` (see docs/benchmarks.md for the mapping and what cannot be matched). Prints one
JSON line: env frames (Sample Factory's own count), wall seconds, fps and the episode-log analysis.
"""

from __future__ import annotations

import os
import time

import bench_common as bc
from sample_factory.algo.runners.runner import AlgoObserver
from sample_factory.algo.utils.context import global_model_factory
from sample_factory.cfg.arguments import parse_full_cfg, parse_sf_args
from sample_factory.envs.env_utils import register_env
from sample_factory.model.encoder import Encoder
from sample_factory.train import make_runner
from torch import nn


class SmallCnnEncoder(Encoder):
    """The MiniGrid workload's encoder (``bench_common.small_cnn_layers``) on the ``obs`` key: 64
    features; the MLP after it is Sample Factory's decoder (``--decoder_mlp_layers``)."""

    def __init__(self, cfg, obs_space) -> None:
        super().__init__(cfg)
        self.cnn = nn.Sequential(*bc.small_cnn_layers(obs_space["obs"].shape[0]))

    def forward(self, obs_dict):
        return self.cnn(obs_dict["obs"])

    def get_out_size(self) -> int:
        return 64


class StopAtTarget(AlgoObserver):
    def __init__(self, watch) -> None:
        self.watch = watch

    def on_training_step(self, runner, training_iteration_since_resume: int) -> None:
        if self.watch.hit.is_set():
            runner._stop_training()


def make_env(full_env_name, cfg=None, env_config=None, render_mode=None):
    return bc.make_env(full_env_name.removeprefix("bench_"))


def sf_argv(p: dict) -> list[str]:
    # Sample Factory's batch_size is the *minibatch* size; one learner iteration consumes
    # batch_size * num_batches_per_epoch samples, i.e. the workload's batch.
    minibatch = p["batch_size"] // p["minibatches"]
    if p["env_kind"] == "atari":
        # Nature CNN (conv 32x8s4, 64x4s2, 64x3s1, FC 512), one torso for actor and critic, uint8 / 255
        model = [
            "--encoder_conv_architecture=convnet_atari",
            "--encoder_conv_mlp_layers",
            *[str(h) for h in p["hidden"]],
            "--obs_scale=255.0",
            "--normalize_input=False",
        ]
    elif p["env_kind"] == "minigrid":
        # the custom small CNN (registered in main), then the MLP as the decoder; separate actor and critic
        model = ["--decoder_mlp_layers", *[str(h) for h in p["hidden"]], "--normalize_input=False"]
    else:
        model = ["--encoder_mlp_layers", *[str(h) for h in p["hidden"]], "--normalize_input=True"]
    return [
        f"--env=bench_{p['env_kind']}",
        f"--experiment=sf_seed{p['seed']}",
        f"--train_dir={p['work_dir']}",
        f"--seed={p['seed']}",
        "--device=cpu",
        f"--train_for_env_steps={p['steps']}",
        f"--num_workers={p['num_workers']}",
        f"--num_envs_per_worker={p['envs_per_worker']}",
        f"--rollout={p['rollout']}",
        f"--batch_size={minibatch}",
        f"--num_batches_per_epoch={p['minibatches']}",
        f"--num_epochs={p['epochs']}",
        f"--learning_rate={p['lr']}",
        "--lr_schedule=constant",
        f"--gamma={p['gamma']}",
        f"--gae_lambda={p['gae_lambda']}",
        f"--ppo_clip_ratio={p['clip']}",
        # the value loss is always clipped in Sample Factory; a huge range switches it off, like the others
        "--ppo_clip_value=1000000.0",
        f"--exploration_loss_coeff={p['ent_coef']}",
        f"--value_loss_coeff={p['vf_coef']}",
        f"--max_grad_norm={p['max_grad_norm']}",
        f"--adam_eps={p['adam_eps']}",
        *model,
        f"--nonlinearity={p['activation']}",
        f"--actor_critic_share_weights={bool(p.get('shared', False))}",
        "--use_rnn=False",
        "--recurrence=1",
        "--normalize_returns=True",
        "--value_bootstrap=True",  # bootstrap truncated episodes, as relayrl and SB3 do
        "--with_vtrace=False",
        "--stats_avg=100",
        "--with_wandb=False",
        "--save_every_sec=120",
        "--experiment_summaries_interval=10",
    ]


def main() -> None:
    p = bc.load_params()
    argv = sf_argv(p)
    register_env(f"bench_{p['env_kind']}", make_env)
    if p["env_kind"] == "minigrid":
        global_model_factory().register_encoder_factory(SmallCnnEncoder)
    parser, _ = parse_sf_args(argv=argv)
    cfg = parse_full_cfg(parser, argv)
    # Sample Factory's runner waits forever for a worker whose env failed to build; building one
    # here first makes such a run fail at once with the env's own error (outside the timed part).
    probe = make_env(f"bench_{p['env_kind']}")
    probe.reset(seed=p["seed"])
    probe.close()
    t0 = time.time()
    cfg, runner = make_runner(cfg)
    watch = bc.watch_target(p, lambda: None)
    if watch is not None:
        runner.register_observer(StopAtTarget(watch))
    status = runner.init()
    if status == 0:
        status = runner.run()
    wall = time.time() - t0
    frames = int(sum(runner.env_steps.values()))
    result = {
        "framework": "sample-factory",
        "status": int(status),
        "frames": frames,
        "wall_s": wall,
        "fps": frames / wall,
        "sf_main_loop_fps": frames / max(runner.timing.main_loop, 1e-9),
    }
    result.update(bc.analyse(os.environ[bc.EPISODE_DIR_VAR], t0, p["target"], p["window"]))
    bc.emit(result)


if __name__ == "__main__":
    main()

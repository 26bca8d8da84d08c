"""The workload's settings mapped onto PufferLib 3.0's (stdlib only, so it is tested without PufferLib).

``run_puffer.py`` passes ``vec_settings`` to ``pufferlib.vector.make`` and ``train_config`` to
``pufferlib.pufferl.PuffeRL``; docs/benchmarks.md ("Against PufferLib") has the settings table and what
cannot be matched. The keys of ``train_config`` are all the ``[train]`` keys that ``PuffeRL`` reads
(``pufferlib/config/default.ini`` plus ``use_rnn`` and ``env``, which its own ``train()`` adds).
"""

from __future__ import annotations

from typing import Any

BACKENDS = ("Serial", "Multiprocessing")


def vec_settings(p: dict[str, Any], backend: str) -> dict[str, Any]:
    """Keyword arguments of ``pufferlib.vector.make`` for ``backend`` (``Serial`` or ``Multiprocessing``).

    The same ``num_workers * envs_per_worker`` envs in both. ``Serial`` steps them all in the trainer's
    process. ``Multiprocessing`` spreads them over ``num_workers`` processes and hands the trainer one
    worker's envs per ``recv`` while the other workers step: PufferLib's default ``batch_size``
    ``auto`` (half the envs, here one worker of two), its double-buffered layout and the nearest to
    relayrl's asynchronous workers. No seed here: ``vector.make`` passes none on; ``PuffeRL`` resets
    the envs from ``train_config``'s seed.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend {backend!r}: choose one of {BACKENDS}")
    num_envs = p["num_workers"] * p["envs_per_worker"]
    if backend == "Serial":
        # no batch_size: with Serial, vector.make would take it as the number of envs
        return {"backend": "Serial", "num_envs": num_envs}
    return {
        "backend": "Multiprocessing",
        "num_envs": num_envs,
        "num_workers": p["num_workers"],
        "batch_size": p["envs_per_worker"],
        "zero_copy": True,
    }


def train_config(p: dict[str, Any], data_dir: str) -> dict[str, Any]:
    """``PuffeRL``'s config dict: the workload's PPO settings, on CPU, without PufferLib's extras.

    One update per ``batch_size`` agent steps, cut into segments of ``rollout`` steps of one env
    (``bptt_horizon``); ``epochs * minibatches`` gradient steps of ``batch_size // minibatches``
    samples each (PufferLib counts ``update_epochs * batch_size / minibatch_size`` minibatches; no
    gradient accumulation). Switched off to match relayrl: prioritized segment sampling (alpha and
    beta 0: uniform, weight 1), value clipping (a huge range), the Muon optimizer (plain Adam with
    relayrl's eps and torch's default betas), torch.compile, and the learning-rate schedule when the
    workload's is constant (PufferLib has cosine annealing or none). Checkpoints only at the end.
    """
    minibatch = p["batch_size"] // p["minibatches"]
    return {
        "env": p["env"],
        "seed": p["seed"],
        "torch_deterministic": True,
        "cpu_offload": False,
        "device": "cpu",
        "optimizer": "adam",
        "anneal_lr": p["lr_schedule"] != "constant",  # its only schedule is cosine
        "precision": "float32",
        "total_timesteps": p["steps"],
        "learning_rate": p["lr"],
        "gamma": p["gamma"],
        "gae_lambda": p["gae_lambda"],
        "update_epochs": p["epochs"],
        "clip_coef": p["clip"],
        "vf_coef": p["vf_coef"],
        "vf_clip_coef": 1e6,  # always clipped in PufferLib; this range never binds (relayrl: no value clipping)
        "max_grad_norm": p["max_grad_norm"],
        "ent_coef": p["ent_coef"],
        "adam_beta1": 0.9,
        "adam_beta2": 0.999,
        "adam_eps": p["adam_eps"],
        "data_dir": data_dir,
        "checkpoint_interval": 10**9,  # PuffeRL also saves at the end, as relayrl does
        "batch_size": p["batch_size"],
        "minibatch_size": minibatch,
        "max_minibatch_size": minibatch,
        "bptt_horizon": p["rollout"],
        "compile": False,
        "compile_mode": "max-autotune-no-cudagraphs",
        "compile_fullgraph": True,
        # V-trace clipping of its advantage cannot be switched off; 1.0 (its default) keeps it nearest to
        # GAE: the ratios are 1 before an update's first minibatch, and clipped at 1 above
        "vtrace_rho_clip": 1.0,
        "vtrace_c_clip": 1.0,
        "prio_alpha": 0.0,
        "prio_beta0": 0.0,
        "use_rnn": False,
    }


def gradient_steps(config: dict[str, Any]) -> int:
    """Minibatch gradient steps per update, as ``PuffeRL`` counts them (``total_minibatches``)."""
    return int(config["update_epochs"] * config["batch_size"] / config["minibatch_size"])

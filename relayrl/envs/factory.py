"""Building envs from a Config: Gymnasium ids (with Atari / MiniGrid preprocessing) or ``module:callable``.

Every failure to build an env becomes a ``ConfigError`` with a one-line message that says what to do.
"""

from __future__ import annotations

import difflib
import inspect
import re
from collections.abc import Callable
from typing import Any

import gymnasium as gym

from relayrl.config import Config, ConfigError
from relayrl.envs.batch import EnvBatch, ListEnvBatch, VectorEnvBatch
from relayrl.envs.faults import EnvRestarter, ObsChecker
from relayrl.envs.parallel_contract import agent_spaces, is_multiagent_env
from relayrl.envs.wrappers import MiniGridObsWrapper, wrap_atari
from relayrl.hooks import import_callable


def _one_line(e: BaseException) -> str:
    return f"{type(e).__name__}: " + " ".join(str(e).split())


def _is_factory(env_id: str) -> bool:
    return ":" in env_id and not re.search(r"-v\d+$", env_id.split(":", 1)[1])


def _import_optional(env_id: str) -> None:
    """Import the package that registers ALE/... or MiniGrid-... ids."""
    if env_id.startswith("ALE/"):
        try:
            import ale_py
        except ImportError as e:
            raise ConfigError(f"env {env_id!r} needs the Atari emulator: pip install ale-py") from e
        gym.register_envs(ale_py)
    elif env_id.startswith("MiniGrid-") or env_id.startswith("BabyAI-"):
        try:
            import minigrid  # noqa: F401  (registers the ids)
        except ImportError as e:
            raise ConfigError(f"env {env_id!r} needs MiniGrid: pip install minigrid") from e


def _gym_error(env_id: str, e: Exception) -> ConfigError:
    if isinstance(e, gym.error.UnregisteredEnv):
        close = difflib.get_close_matches(env_id, list(gym.registry.keys()), n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]}?)" if close else ""
        return ConfigError(
            f"unknown env {env_id!r}: not a registered Gymnasium id{hint}; give a registered id or "
            f"'package.module:callable' ({_one_line(e)})"
        )
    return ConfigError(f"could not build env {env_id!r}: {_one_line(e)}; check --env and --env-kwargs")


def _takes_param(fn: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return True
    kinds = (
        inspect.Parameter.POSITIONAL_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        inspect.Parameter.VAR_POSITIONAL,
    )
    return any(p.kind in kinds for p in params)


def _kwarg(fn: Callable[..., Any], name: str) -> str:
    """How ``fn`` takes keyword ``name``: "required", "optional", "var" (``**kwargs``), "no" or "unknown"."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return "unknown"
    if name in params and params[name].kind != inspect.Parameter.POSITIONAL_ONLY:
        return "required" if params[name].default is inspect.Parameter.empty else "optional"
    return "var" if any(p.kind == inspect.Parameter.VAR_KEYWORD for p in params.values()) else "no"


def _takes_config(cls: Any) -> bool:
    """An env class written as ``__init__(self, config=None)`` takes the env-kwargs dict whole."""
    try:
        params = [p for p in inspect.signature(cls).parameters.values() if p.kind != inspect.Parameter.VAR_KEYWORD]
    except (TypeError, ValueError):
        return False
    return bool(params) and params[0].name in ("config", "env_config", "cfg")


def _call_factory(cfg: Config, render_mode: str | None, num_envs: int | None) -> Any:
    """Call the ``module:callable``: ``fn(env_kwargs)`` (or ``fn()``), ``num_envs=`` for vector envs.

    A ``gym.Env`` / ``VectorEnv`` subclass is called with ``**env_kwargs`` instead, unless its first
    parameter is named ``config`` / ``env_config`` / ``cfg`` (it then gets the dict). ``render_mode`` is
    passed when the callable has a ``render_mode`` parameter.
    """
    fn: Any = import_callable(cfg.env, f"env {cfg.env!r}")
    kwargs = dict(cfg.environment.env_kwargs)
    extra: dict[str, Any] = {} if num_envs is None else {"num_envs": num_envs}
    if render_mode is not None and _kwarg(fn, "render_mode") in ("required", "optional"):
        extra["render_mode"] = render_mode
    takes_num_envs = _kwarg(fn, "num_envs")
    if num_envs is None and takes_num_envs == "required":
        raise ConfigError(f"env factory {cfg.env!r} takes num_envs (a vector env factory); pass --vectorized")
    if num_envs is not None and takes_num_envs == "no":
        raise ConfigError(
            f"env factory {cfg.env!r} does not take num_envs: with --vectorized it must be "
            "callable(env_kwargs, num_envs=N) returning a VectorEnv; drop --vectorized for a single-env factory"
        )
    try:
        if inspect.isclass(fn) and issubclass(fn, (gym.Env, gym.vector.VectorEnv)) and not _takes_config(fn):
            return fn(**kwargs, **extra)
        return fn(kwargs, **extra) if _takes_param(fn) else fn(**extra)
    except ConfigError:
        raise
    except Exception as e:
        raise ConfigError(f"env factory {cfg.env!r} raised {_one_line(e)}; check the factory and --env-kwargs") from e


def make_env(cfg: Config, env_index: int = 0, render_mode: str | None = None) -> Any:
    """One env for ``cfg.env`` (``env_index`` is this env's global index, for factories that care): a
    ``gymnasium.Env``, or a multi-agent env (PettingZoo ``ParallelEnv`` shape, relayrl/envs/parallel_contract.py)
    when the factory returns one."""
    env_cfg = cfg.environment
    if _is_factory(cfg.env):
        env = _call_factory(cfg, render_mode, None)
        if is_multiagent_env(env):
            if env_cfg.max_episode_steps is not None:
                env.close()
                raise ConfigError(
                    f"--max-episode-steps is not supported for the multi-agent env {cfg.env!r}; "
                    "pass the limit through --env-kwargs (e.g. max_cycles) instead"
                )
            return env
        if isinstance(env, gym.vector.VectorEnv):
            raise ConfigError(f"env factory {cfg.env!r} returned a VectorEnv; pass --vectorized to use it")
        if not isinstance(env, gym.Env):
            raise ConfigError(
                f"env factory {cfg.env!r} returned {type(env).__name__}, not a gymnasium.Env; "
                "return a gymnasium.Env, a PettingZoo ParallelEnv (or an object of its shape), "
                "or a VectorEnv with --vectorized"
            )
        if env_cfg.max_episode_steps is not None:
            env = gym.wrappers.TimeLimit(env, env_cfg.max_episode_steps)
        return env

    _import_optional(cfg.env)
    kwargs: dict[str, Any] = dict(env_cfg.env_kwargs)
    is_atari = cfg.env.startswith("ALE/")
    if is_atari:
        kwargs = {"frameskip": 1, **kwargs}
    if env_cfg.max_episode_steps is not None:
        kwargs["max_episode_steps"] = env_cfg.max_episode_steps
    try:
        env = gym.make(cfg.env, render_mode=render_mode, **kwargs)
        if is_atari:
            env = wrap_atari(env, env_cfg.frame_stack)
        elif cfg.env.startswith(("MiniGrid-", "BabyAI-")):
            env = MiniGridObsWrapper(env)
    except ConfigError:
        raise
    except Exception as e:
        raise _gym_error(cfg.env, e) from e
    return env


def make_vector_env(cfg: Config, num_envs: int, render_mode: str | None = None) -> gym.vector.VectorEnv:
    """A ``VectorEnv`` of ``num_envs`` envs: the id's vector entry point, or the ``module:callable``."""
    env_cfg = cfg.environment
    if _is_factory(cfg.env):
        if env_cfg.max_episode_steps is not None:
            raise ConfigError(
                f"--max-episode-steps is not supported for the vectorized factory {cfg.env!r}; "
                "pass the limit through --env-kwargs instead"
            )
        env = _call_factory(cfg, render_mode, num_envs)
        if not isinstance(env, gym.vector.VectorEnv):
            raise ConfigError(
                f"env factory {cfg.env!r} returned {type(env).__name__}, not a gymnasium.vector.VectorEnv; "
                "drop --vectorized or return a VectorEnv"
            )
        return env

    _import_optional(cfg.env)
    kwargs: dict[str, Any] = dict(env_cfg.env_kwargs)
    if env_cfg.max_episode_steps is not None:
        kwargs["max_episode_steps"] = env_cfg.max_episode_steps
    if render_mode is not None:
        kwargs["render_mode"] = render_mode
    try:
        spec = gym.spec(cfg.env)
    except Exception as e:
        raise _gym_error(cfg.env, e) from e
    if spec.vector_entry_point is None:
        raise ConfigError(f"env {cfg.env!r} has no Gymnasium vector entry point; drop --vectorized")
    try:
        return gym.make_vec(cfg.env, num_envs=num_envs, vectorization_mode="vector_entry_point", **kwargs)
    except Exception as e:
        raise _gym_error(cfg.env, e) from e


def make_env_batch(cfg: Config, num_envs: int, seed: int | None, worker_index: int = 0) -> EnvBatch:
    """The ``num_envs`` envs of worker ``worker_index``; env ``j`` is first reset with
    ``seed + worker_index * num_envs + j``. Env errors follow ``cfg.faults`` (see envs/faults.py)."""
    first = worker_index * num_envs
    base_seed = None if seed is None else seed + first
    name = f"worker {worker_index}"
    faults = cfg.faults
    restart = faults.env_error_policy == "restart"
    checker = None
    if cfg.environment.vectorized:
        venv = make_vector_env(cfg, num_envs)
        if faults.check_obs:
            checker = ObsChecker(venv.single_observation_space, name)
        restarter = EnvRestarter(
            1, name, restart, faults.max_consecutive_env_errors, lambda _i: make_vector_env(cfg, num_envs)
        )
        return VectorEnvBatch(venv, seed=base_seed, restarter=restarter, checker=checker)
    envs: list[Any] = []
    try:
        for j in range(num_envs):
            envs.append(make_env(cfg, env_index=first + j))
    except BaseException:
        for env in envs:
            env.close()
        raise
    restarter = EnvRestarter(
        num_envs, name, restart, faults.max_consecutive_env_errors, lambda j: make_env(cfg, env_index=first + j)
    )
    if is_multiagent_env(envs[0]):
        from relayrl.envs.multiagent_batch import MultiAgentEnvBatch

        _, obs_space, _ = agent_spaces(envs[0], cfg.env)
        checker = ObsChecker(obs_space, name) if faults.check_obs else None
        return MultiAgentEnvBatch(envs, cfg.env, seed=base_seed, restarter=restarter, checker=checker)
    if faults.check_obs:
        checker = ObsChecker(envs[0].observation_space, name)
    return ListEnvBatch(envs, seed=base_seed, restarter=restarter, checker=checker)


def probe_spaces(cfg: Config) -> tuple[gym.Space, gym.Space]:
    """The single-env observation and action spaces, from one env built here and closed again (for a
    multi-agent env: every agent's, which must be the same)."""
    obs_space, action_space, _ = probe_env(cfg)
    return obs_space, action_space


def probe_env(cfg: Config) -> tuple[gym.Space, gym.Space, tuple[str, ...] | None]:
    """``(observation space, action space, agents)`` of one env built here and closed again; ``agents``
    is the multi-agent env's ``possible_agents`` (None for a single-agent env). A multi-agent env whose
    agents' spaces differ is refused (``ConfigError`` naming them)."""
    if cfg.environment.vectorized:
        venv = make_vector_env(cfg, 1)
        try:
            return venv.single_observation_space, venv.single_action_space, None
        finally:
            venv.close()
    env = make_env(cfg)
    try:
        if is_multiagent_env(env):
            agents, obs_space, action_space = agent_spaces(env, cfg.env)
            return obs_space, action_space, agents
        return env.observation_space, env.action_space, None
    finally:
        env.close()


def _check_obs(space: gym.Space, where: str) -> None:
    if isinstance(space, gym.spaces.Dict):
        if not space.spaces:
            raise ConfigError(f"unsupported observation space {where}: empty Dict")
        for key, sub in space.spaces.items():
            _check_obs(sub, f"{where}[{key!r}]")
        return
    if isinstance(space, gym.spaces.Discrete) and space.start == 0:
        return
    if isinstance(space, gym.spaces.Box) and len(space.shape) >= 1:
        return
    raise ConfigError(
        f"unsupported observation space {where}: {space}; supported: Box (at least 1-D), Discrete (start 0), "
        "Dict of those (wrap the env to convert it)"
    )


def check_spaces(obs_space: gym.Space, action_space: gym.Space) -> None:
    """Raise ``ConfigError`` naming the unsupported space, if any."""
    _check_obs(obs_space, "obs")
    a = action_space
    if isinstance(a, gym.spaces.Discrete) and a.start == 0:
        return
    if isinstance(a, gym.spaces.MultiDiscrete) and a.nvec.ndim == 1 and not a.start.any():
        return
    if isinstance(a, gym.spaces.Box) and len(a.shape) == 1 and a.is_bounded("both"):
        return
    raise ConfigError(
        f"unsupported action space {a}; supported: Discrete (start 0), 1-D MultiDiscrete (start 0), "
        "1-D Box with finite bounds (wrap the env to convert it)"
    )

"""CPU kernels in numpy, for the small arrays of relayrl's MLPs, where numpy beats torch.

torch's CPU ``tanh`` (2.x, float32) runs at about 2.7 ns per element on the AVX-512 machines the
benchmarks ran on, numpy's at about 0.4 ns (44 us against 7 us for a 256 x 64 activation), and a
numpy call on a few dozen rows costs a fraction of a torch op's dispatch. ``tanh_`` applies numpy's
tanh to a tensor in place, through a view of its memory, wherever that is possible (a contiguous
float32/float64 CPU tensor outside autograd; torch's otherwise): the learner's closed-form forward
pass uses it, and the results agree with torch's to one rounding (about 6e-8). The rest are the
numpy kernels of a rollout worker's inference (``relayrl/models/stacked.py``): in-place activations,
``log_softmax`` and Gumbel-max sampling.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

_NUMPY_DTYPES = (torch.float32, torch.float64)


def numpy_view(x: Tensor) -> np.ndarray | None:
    """A numpy array sharing ``x``'s memory, or None when there can be none (not on the CPU, not a
    float32/float64 tensor, not contiguous, or recorded by autograd)."""
    if x.device.type != "cpu" or x.dtype not in _NUMPY_DTYPES or x.requires_grad or not x.is_contiguous():
        return None
    return x.numpy()


def tanh_(x: Tensor) -> Tensor:
    """``torch.tanh_(x)``, through numpy where ``numpy_view`` allows; returns ``x``."""
    view = numpy_view(x)
    if view is None:
        return torch.tanh_(x)
    np.tanh(view, out=view)
    return x


def _tanh_(x: np.ndarray) -> None:
    np.tanh(x, out=x)


def _relu_(x: np.ndarray) -> None:
    np.maximum(x, 0.0, out=x)


def _elu_(x: np.ndarray) -> None:
    negative = np.minimum(x, 0.0)
    np.expm1(negative, out=negative)
    np.maximum(x, 0.0, out=x)
    x += negative


NUMPY_ACTIVATIONS: dict[str, Callable[[np.ndarray], None]] = {"tanh": _tanh_, "relu": _relu_, "elu": _elu_}
"""In-place activations of numpy arrays, by ``ModelConfig.activation``."""


def log_softmax(x: np.ndarray) -> np.ndarray:
    """``log_softmax`` over the last axis (a new array)."""
    z = x - x.max(-1, keepdims=True)
    z -= np.log(np.exp(z).sum(-1, keepdims=True))
    return z


def gumbel_argmax(log_p: np.ndarray, u: np.ndarray) -> np.ndarray:
    """``distributions.gumbel_argmax`` in numpy: ``argmax(log_p - log(-log(u)))`` (``u`` overwritten;
    a draw of exactly 0 gives that choice a noise of -inf, as in torch)."""
    with np.errstate(divide="ignore"):
        np.log(u, out=u)
        np.negative(u, out=u)
        np.log(u, out=u)
    return (log_p - u).argmax(-1)

"""relayrl/models/cpu_ops.py and relayrl/utils/threads.py: numpy's tanh in place of torch's where it
can be, and the thread counts of torch and numpy's BLAS set together."""

from __future__ import annotations

import numpy as np
import torch
from threadpoolctl import threadpool_info

from relayrl.models.cpu_ops import numpy_view, tanh_
from relayrl.utils.threads import set_math_threads


def test_tanh_runs_in_place_through_numpy_and_matches_torch(monkeypatch):
    calls = []
    numpy_tanh = np.tanh
    monkeypatch.setattr(np, "tanh", lambda *a, **k: calls.append(1) or numpy_tanh(*a, **k))
    x = torch.randn(256, 64) * 3
    want = torch.tanh(x)
    view = x.numpy()
    out = tanh_(x)
    assert out is x
    assert np.shares_memory(view, x.numpy())
    torch.testing.assert_close(x, want, rtol=0, atol=2e-7)
    assert calls == [1]


def test_tanh_falls_back_to_torch_where_numpy_cannot_see_the_tensor():
    strided = torch.randn(8, 6)[:, ::2]
    assert numpy_view(strided) is None
    want = torch.tanh(strided)
    torch.testing.assert_close(tanh_(strided), want)
    half = torch.randn(4, 3).half()
    assert numpy_view(half) is None
    torch.testing.assert_close(tanh_(half.clone()), torch.tanh(half))
    leaf = torch.randn(3, requires_grad=True)
    assert numpy_view(leaf) is None
    assert numpy_view(leaf.detach()) is not None


def test_set_math_threads_sets_torch_and_blas_together():
    before = torch.get_num_threads()
    try:
        set_math_threads(1)
        assert torch.get_num_threads() == 1
        blas = [lib for lib in threadpool_info() if lib["user_api"] == "blas"]
        assert blas and all(lib["num_threads"] == 1 for lib in blas)
    finally:
        set_math_threads(before)

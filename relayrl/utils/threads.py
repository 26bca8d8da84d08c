"""Thread counts of the two math libraries a relayrl process computes with.

torch has its own intra-op thread pool; numpy's matrix products (a rollout worker's MLP inference,
``relayrl/models/stacked.py``) run in the BLAS numpy ships with, whose pool starts one thread per
core and uses them for products above about 64k multiply-adds. Every process that sets torch's
count sets BLAS's to the same, so that workers sharing the cores with the learner do not each start
a pool of their own.
"""

from __future__ import annotations

import torch
from threadpoolctl import threadpool_limits


def set_math_threads(count: int) -> None:
    """torch's intra-op threads and numpy's BLAS threads to ``count`` (at least 1)."""
    count = max(1, int(count))
    torch.set_num_threads(count)
    threadpool_limits(count, user_api="blas")

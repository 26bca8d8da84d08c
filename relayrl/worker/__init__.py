"""What runs in a rollout worker: the worker's context, the rollout loop (``rollout.py``), the process
around it (``process.py``), the messages it exchanges, and the worker side of training info
(``info_delivery.py``)."""

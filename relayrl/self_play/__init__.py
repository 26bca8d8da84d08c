"""Self-play: the learning policy plays frozen snapshots of itself (a training extension; docs/multi-agent.md).

``pool.py`` is the trainer side (the snapshot pool, an ``Extension``); the worker side (drawing each
episode's opponent from the pool's table) is the agent mapping's (relayrl/worker/mapping.py).
"""

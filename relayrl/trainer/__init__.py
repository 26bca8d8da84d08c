"""What runs in the trainer's (main) process: the one training loop and its parts.

``trainer.py`` wires them; ``loop.py`` sequences them; ``sources/`` are the rollout backends;
``state.py`` and ``checkpointer.py`` hold and save the run state; ``info_publisher.py`` is the trainer
side of training info; ``reporting.py`` and ``episode_stats.py`` the console, TensorBoard and progress
file; ``signals.py`` how a run stops.
"""

"""What runs in the main process: the PPO learner and checkpoints."""

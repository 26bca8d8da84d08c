"""The PPO learner (model, optimizer, normalizers, policy version); it runs in the trainer's process."""

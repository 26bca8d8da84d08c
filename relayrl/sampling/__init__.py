"""What runs in a rollout worker: shared-memory buffers, the rollout loop, the process loop."""

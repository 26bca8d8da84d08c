"""Memory the trainer and the workers both touch: trajectory slots, published weights, live step
counters and the training-info blob (allocated by the trainer before the workers start)."""

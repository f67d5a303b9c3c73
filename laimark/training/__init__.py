"""GRPO training: the training data, the rewards in TRL's shape, the trainer setup and its outputs."""

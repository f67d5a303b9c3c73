"""The curriculum: generation prompts, reply parsing, the problem checks, generation runs and calibration."""

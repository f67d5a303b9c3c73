"""Evaluation: HumanEval, generating and scoring samples, statistics and paired comparison."""

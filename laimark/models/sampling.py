"""Sampling backends (hf, ollama, vllm) behind one interface, with per-item seeds.

    sampler = make_sampler("hf", "qwen2.5-coder-0.5b-instruct", batch_size=8)
    outs = sampler.generate([[{"role": "user", "content": "Write fib."}]], n=4,
                            temperature=0.7, max_new_tokens=256, seeds=[item_seed(1, "fib")])

A prompt is a list of chat messages (the model's chat template is applied) or a plain string
(raw completion, no template). `generate` returns, for each prompt, `n` completions with the
prompt removed and the text cut at the first stop string.

Seeding (hf): sample j of prompt i draws its random numbers from its own `torch.Generator`
seeded with `item_seed(seeds[i], j)`, one uniform number per generated token, so the random
choices of an item do not depend on which other items share its batch, on their order, or on
`batch_size`. What can still differ between batch shapes is floating-point noise in the logits
(matrix kernels add in a different order for a different shape): that only matters when a random
draw lands exactly on a token boundary, or at a greedy near-tie. Same inputs, seeds, batch size,
dtype and thread count on the same machine give identical outputs. We chose this over running
every item alone (exactly batch-invariant, but 4-8x slower on CPU: see docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
from collections.abc import Sequence
from typing import Any, Protocol

from laimark.models.loading import DEFAULT_MODEL, DTYPES, EMBEDDED, ModelError, ModelIdentity

log = logging.getLogger(__name__)

BACKENDS = ("hf", "ollama", "vllm")
# Ollama tags of the embedded models, so the default --model works with --backend ollama too.
OLLAMA_TAGS = {
    "qwen2.5-coder-0.5b-instruct": "qwen2.5-coder:0.5b",
    "smollm2-135m-instruct": "smollm2:135m",
}


def item_seed(base_seed: int, *keys: Any) -> int:
    """A 63-bit seed derived from a base seed and stable keys (problem id, sample index, ...).

    Uses SHA-256 of a JSON encoding, never `hash()`, so it is the same in every process.

    >>> item_seed(0, "HumanEval/0", 3) == item_seed(0, "HumanEval/0", 3)
    True
    """
    payload = json.dumps([base_seed, *keys], default=str, separators=(",", ":")).encode()
    return int.from_bytes(hashlib.sha256(payload).digest()[:8], "big") >> 1


def truncate_at_stop(text: str, stop: Sequence[str]) -> str:
    """Cut `text` at the earliest occurrence of any stop string (the stop string is dropped)."""
    cut = min((i for s in stop if s and (i := text.find(s)) >= 0), default=len(text))
    return text[:cut]


def _default_seeds(prompts: Sequence, seeds: Sequence[int] | None) -> list[int]:
    if seeds is None:  # derived from the prompt itself, so it is still stable across runs
        return [item_seed(0, p) for p in prompts]
    if len(seeds) != len(prompts):
        raise ValueError(f"got {len(seeds)} seeds for {len(prompts)} prompts; give one per prompt")
    return [int(s) for s in seeds]


class Sampler(Protocol):
    """What every backend provides. `identity` goes into each output's metadata sidecar."""

    identity: ModelIdentity

    def generate(
        self,
        prompts: Sequence[str | list[dict[str, str]]],
        n: int = 1,
        *,
        temperature: float = 0.0,
        top_p: float = 1.0,
        max_new_tokens: int = 512,
        stop: Sequence[str] = (),
        seeds: Sequence[int] | None = None,
    ) -> list[list[str]]:
        """Return `n` completions per prompt, in prompt order.

        Args:
            prompts: chat message lists (chat template applied) or strings (raw completion).
            n: samples per prompt; with temperature 0 they are identical (computed once).
            temperature: 0 means greedy decoding.
            top_p: nucleus sampling threshold (1.0 disables it).
            max_new_tokens: token budget per completion.
            stop: strings at which a completion is cut.
            seeds: one integer per prompt (e.g. `item_seed(run_seed, task_id)`); sample j of
                prompt i uses `item_seed(seeds[i], j)`. Default: derived from the prompt text.
        """
        ...


class HFSampler:
    """transformers in-process: batched generation with left padding. Works on CPU or GPU."""

    def __init__(self, loaded, batch_size: int = 8, show_progress: bool = False):
        self.model, self.tokenizer, self.identity = loaded.model, loaded.tokenizer, loaded.identity
        self.batch_size = max(1, batch_size)
        self.show_progress = show_progress
        self.tokens_generated = 0  # real (non-padding) new tokens so far, for throughput logs
        self.tokenizer.padding_side = "left"  # generated tokens must follow the last real token
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token

    def encode(self, prompt) -> list[int]:
        """Token ids of one prompt: chat template for message lists, raw text otherwise."""
        if isinstance(prompt, str):
            return self.tokenizer(prompt)["input_ids"]
        text = self.tokenizer.apply_chat_template(
            prompt, add_generation_prompt=True, tokenize=False
        )
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def generate(
        self, prompts, n=1, *, temperature=0.0, top_p=1.0, max_new_tokens=512, stop=(), seeds=None
    ):
        from tqdm import tqdm

        seeds = _default_seeds(prompts, seeds)
        draws = 1 if temperature == 0 else n  # greedy samples are identical: compute once
        rows = [(i, j) for i in range(len(prompts)) for j in range(draws)]
        ids = [self.encode(p) for p in prompts]
        # Longest first: similar lengths share a batch (less padding) and memory peaks early.
        rows.sort(key=lambda r: -len(ids[r[0]]))
        texts: dict[tuple[int, int], str] = {}
        batches = [rows[k : k + self.batch_size] for k in range(0, len(rows), self.batch_size)]
        for batch in tqdm(batches, desc="sampling", unit="batch", disable=not self.show_progress):
            outs = self._generate_batch(
                [ids[i] for i, _ in batch],
                [item_seed(seeds[i], j) for i, j in batch],
                temperature=temperature,
                top_p=top_p,
                max_new_tokens=max_new_tokens,
                stop=stop,
            )
            texts.update(zip(batch, outs, strict=True))
        return [[texts[(i, j if draws > 1 else 0)] for j in range(n)] for i in range(len(prompts))]

    def _generate_batch(self, ids, row_seeds, *, temperature, top_p, max_new_tokens, stop):
        import torch
        from transformers import GenerationConfig, LogitsProcessorList

        pad = self.tokenizer.pad_token_id
        width = max(map(len, ids))
        input_ids = torch.tensor([[pad] * (width - len(x)) + x for x in ids])
        mask = torch.tensor([[0] * (width - len(x)) + [1] * len(x) for x in ids])
        # A fresh config: the checkpoint's defaults (repetition penalty, top_k, ...) would
        # silently change what "temperature 0.7, top_p 0.95" means between models.
        config = GenerationConfig(
            do_sample=False,
            max_new_tokens=max_new_tokens,
            pad_token_id=pad,
            eos_token_id=self._eos_ids(),
            stop_strings=list(stop) or None,
        )
        processors = LogitsProcessorList()
        if temperature > 0:
            processors.append(SeededSampling(row_seeds, temperature, top_p))
        device = self.model.device
        with torch.inference_mode():
            out = self.model.generate(
                input_ids=input_ids.to(device),
                attention_mask=mask.to(device),
                generation_config=config,
                logits_processor=processors,
                tokenizer=self.tokenizer,
            )
        self.tokens_generated += int((out[:, width:] != pad).sum())
        texts = self.tokenizer.batch_decode(out[:, width:], skip_special_tokens=True)
        return [truncate_at_stop(t, stop) for t in texts]

    def _eos_ids(self) -> list[int]:
        """End of turn and end of text: chat models end a turn with e.g. <|im_end|>."""
        found = {self.tokenizer.eos_token_id}
        gen_eos = getattr(self.model.generation_config, "eos_token_id", None)
        found.update(gen_eos if isinstance(gen_eos, list) else [gen_eos])
        for token in ("<|im_end|>", "<|endoftext|>", "<|eot_id|>"):
            tid = self.tokenizer.convert_tokens_to_ids(token)
            if isinstance(tid, int) and tid != self.tokenizer.unk_token_id:
                found.add(tid)
        return sorted(t for t in found if t is not None)


class SeededSampling:
    """A logits processor that samples each row with its own generator, then forces that token.

    generate() runs in greedy mode and picks the single token left with a finite score, so the
    randomness is entirely ours: one uniform draw per row and step from `torch.Generator(seed)`.
    """

    def __init__(self, row_seeds: Sequence[int], temperature: float, top_p: float):
        import torch

        self.generators = [torch.Generator().manual_seed(s) for s in row_seeds]
        self.temperature, self.top_p = temperature, top_p

    def __call__(self, input_ids, scores):
        import torch

        probs = torch.softmax(scores.float() / self.temperature, dim=-1)
        order = None
        if self.top_p < 1.0:  # keep the smallest prefix whose mass reaches top_p (at least one)
            probs, order = probs.sort(dim=-1, descending=True, stable=True)
            probs = probs.masked_fill(probs.cumsum(-1) - probs >= self.top_p, 0.0)
        # Inverse-CDF sampling in float64: with right=True the picked token always has mass > 0.
        cumulative = probs.double().cumsum(-1)
        u = torch.cat([torch.rand(1, generator=g, dtype=torch.float64) for g in self.generators])
        targets = u.to(scores.device).unsqueeze(-1) * cumulative[:, -1:]
        pick = torch.searchsorted(cumulative, targets, right=True).clamp(max=scores.shape[-1] - 1)
        chosen = pick if order is None else order.gather(-1, pick)
        return torch.full_like(scores, float("-inf")).scatter(-1, chosen, 0.0)


class OllamaSampler:
    """The official `ollama` client against an Ollama server (`ollama serve`, default port 11434)."""

    def __init__(self, model: str, host: str | None = None, concurrency: int = 4):
        import ollama

        self.model = OLLAMA_TAGS.get(model, model)
        self.host = host or os.environ.get("OLLAMA_HOST") or "http://localhost:11434"
        self.client = ollama.Client(host=self.host)
        self.concurrency = max(1, concurrency)
        self.identity = ModelIdentity(
            name=self.model,
            kind="ollama",
            path=self.host,
            revision=self._digest(),
            sha256=None,
            adapters=[],
            chain=[self.model],
        )

    def _digest(self) -> str | None:
        """The model's digest on the server (its revision); errors if the model is absent."""
        try:
            listed = self.client.list().models
        except ConnectionError as e:
            raise ModelError(
                f"cannot reach an Ollama server at {self.host}: start one with `ollama serve` "
                "or pass --ollama_host http://HOST:PORT (or use --backend hf)"
            ) from e
        for entry in listed:
            if entry.model in (self.model, f"{self.model}:latest"):
                return entry.digest
        names = ", ".join(e.model or "?" for e in listed) or "none"
        raise ModelError(
            f"model '{self.model}' is not on the Ollama server at {self.host} (it has: {names}); "
            f"run `ollama pull {self.model}` there"
        )

    def _one(self, prompt, seed: int, options: dict[str, Any]) -> str:
        options = {**options, "seed": seed % 2**31}  # llama.cpp takes a 32-bit seed
        if isinstance(prompt, str):
            reply = self.client.generate(model=self.model, prompt=prompt, raw=True, options=options)
            return reply.response or ""
        return (
            self.client.chat(model=self.model, messages=prompt, options=options).message.content
            or ""
        )

    def generate(
        self, prompts, n=1, *, temperature=0.0, top_p=1.0, max_new_tokens=512, stop=(), seeds=None
    ):
        from concurrent.futures import ThreadPoolExecutor

        seeds = _default_seeds(prompts, seeds)
        options = {"temperature": temperature, "top_p": top_p, "num_predict": max_new_tokens}
        if stop:
            options["stop"] = list(stop)
        jobs = [(i, j) for i in range(len(prompts)) for j in range(n)]
        with ThreadPoolExecutor(self.concurrency) as pool:
            texts = list(
                pool.map(
                    lambda ij: self._one(prompts[ij[0]], item_seed(seeds[ij[0]], ij[1]), options),
                    jobs,
                )
            )
        out: list[list[str]] = [[] for _ in prompts]
        for (i, _), text in zip(jobs, texts, strict=True):
            out[i].append(truncate_at_stop(text, stop))
        return out


class VLLMSampler:
    """vLLM on a CUDA GPU (`pip install -e .[vllm]`). Untested here: no GPU on the dev machines."""

    def __init__(self, model: str, adapter: Sequence[str] = (), dtype: str = "bf16"):
        try:
            import vllm
        except ImportError as e:
            raise ModelError(
                "the vllm backend needs vLLM and a CUDA GPU: pip install -e '.[vllm]'. "
                "On a CPU-only machine use --backend hf."
            ) from e
        from laimark.models.loading import resolve_model

        if len(adapter) > 1:
            raise ModelError(
                "vllm takes one adapter; merge earlier rounds first or use --backend hf"
            )
        resolved = resolve_model(model)
        dtypes = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32", "auto": "auto"}
        self.llm = vllm.LLM(
            model=resolved.load_path, dtype=dtypes[dtype], enable_lora=bool(adapter)
        )
        self.lora = vllm.lora.request.LoRARequest("adapter", 1, adapter[0]) if adapter else None
        self.identity = ModelIdentity(
            name=resolved.name,
            kind=resolved.kind,
            path=resolved.load_path,
            revision=None,
            sha256=resolved.sha256,
            adapters=[],
            chain=[resolved.name, *adapter],
        )

    def generate(
        self, prompts, n=1, *, temperature=0.0, top_p=1.0, max_new_tokens=512, stop=(), seeds=None
    ):
        import vllm

        seeds = _default_seeds(prompts, seeds)
        tok = self.llm.get_tokenizer()
        texts = [
            p
            if isinstance(p, str)
            else tok.apply_chat_template(p, add_generation_prompt=True, tokenize=False)
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


def make_sampler(
    backend: str = "hf",
    model: str = DEFAULT_MODEL,
    *,
    adapter: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
    dtype: str = "bf16",
    device: str = "auto",
    batch_size: int = 8,
    ollama_host: str | None = None,
) -> Sampler:
    """Build a sampler. For `hf`, adapters are merged into the weights (sampling is faster so)."""
    adapters = [adapter] if isinstance(adapter, (str, os.PathLike)) else list(adapter or [])
    if backend == "hf":
        from laimark.models.loading import load_model

        return HFSampler(
            load_model(model, adapters, dtype=dtype, device=device, merge=True), batch_size
        )
    if backend == "ollama":
        if adapters:
            raise ModelError(
                "--adapter needs --backend hf or vllm; Ollama serves merged models only"
            )
        return OllamaSampler(model, ollama_host, concurrency=batch_size)
    if backend == "vllm":
        return VLLMSampler(model, adapters, dtype)
    raise ModelError(f"unknown backend '{backend}'; choose one of {', '.join(BACKENDS)}")


def add_model_args(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the model and backend flags every stage script shares."""
    g = parser.add_argument_group("model")
    g.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help=f"embedded name ({', '.join(EMBEDDED)}), Hugging Face id, model folder, "
        f".gguf file, or an Ollama tag with --backend ollama (default: %(default)s)",
    )
    g.add_argument(
        "--adapter",
        nargs="+",
        action="extend",
        metavar="DIR",
        help="LoRA adapter folder; several form a chain (earlier ones merged, in order)",
    )
    g.add_argument("--backend", choices=BACKENDS, default="hf", help="default: %(default)s")
    g.add_argument("--dtype", choices=DTYPES, default="bf16", help="default: %(default)s")
    g.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default)")
    g.add_argument(
        "--ollama_host",
        default=None,
        help="Ollama server URL (default: $OLLAMA_HOST or http://localhost:11434)",
    )
    g.add_argument(
        "--batch_size",
        type=int,
        default=8,
        help="sequences generated together (hf) or concurrent requests (ollama)",
    )
    return parser


def sampler_from_args(args: argparse.Namespace) -> Sampler:
    """make_sampler() from the flags added by add_model_args()."""
    return make_sampler(
        args.backend,
        args.model,
        adapter=args.adapter,
        dtype=args.dtype,
        device=args.device,
        batch_size=args.batch_size,
        ollama_host=args.ollama_host,
    )

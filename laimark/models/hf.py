"""The transformers backend: batched generation in-process, on CPU or GPU, with per-row seeds."""

from __future__ import annotations

from collections.abc import Sequence

from laimark.core.seeds import item_seed
from laimark.core.solve import truncate_at_stop
from laimark.models.loading import end_token_ids
from laimark.models.sampling import chat_template_kwargs, default_seeds


class HFSampler:
    """transformers in-process: batched generation with left padding. Works on CPU or GPU."""

    def __init__(self, loaded, batch_size: int = 8, thinking: bool = False):
        import transformers

        self.model, self.tokenizer = loaded.model, loaded.tokenizer
        self.identity = {**loaded.identity, "backend": f"transformers {transformers.__version__}"}
        self.batch_size = max(1, batch_size)
        self.template_kwargs = chat_template_kwargs(thinking)
        self.tokens_generated = 0  # real (non-padding) new tokens so far, for throughput logs
        self._in_flight = 0  # tokens of the batch being generated (rows x steps so far)
        self.tokenizer.padding_side = "left"  # generated tokens must follow the last real token
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token

    @property
    def live_tokens(self) -> int:
        """Tokens generated so far, the batch in progress included (approximately: its finished
        rows still count)."""
        return self.tokens_generated + self._in_flight

    def encode(self, prompt) -> list[int]:
        """Token ids of one prompt: chat template for message lists, raw text otherwise."""
        if isinstance(prompt, str):
            return self.tokenizer(prompt)["input_ids"]
        text = self.tokenizer.apply_chat_template(
            prompt, add_generation_prompt=True, tokenize=False, **self.template_kwargs
        )
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def generate(
        self, prompts, n=1, *, temperature=0.0, top_p=1.0, max_new_tokens=512, stop=(), seeds=None
    ):
        from tqdm import tqdm

        seeds = default_seeds(prompts, seeds)
        draws = 1 if temperature == 0 else n  # greedy samples are identical: compute once
        rows = [(i, j) for i in range(len(prompts)) for j in range(draws)]
        ids = [self.encode(p) for p in prompts]
        # Longest first: similar lengths share a batch (less padding) and memory peaks early.
        rows.sort(key=lambda r: -len(ids[r[0]]))
        texts: dict[tuple[int, int], str] = {}
        batches = [rows[k : k + self.batch_size] for k in range(0, len(rows), self.batch_size)]
        # A bar of its own (gone when done): a stage's bar may not move for minutes on a CPU.
        for batch in tqdm(batches, desc="sampling", unit="batch", leave=False):
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
        processors = LogitsProcessorList([_StepCounter(self)])
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
        self._in_flight = 0
        self.tokens_generated += int((out[:, width:] != pad).sum())
        texts = self.tokenizer.batch_decode(out[:, width:], skip_special_tokens=True)
        return [truncate_at_stop(t, stop) for t in texts]

    def _eos_ids(self) -> list[int]:
        gen_eos = getattr(self.model.generation_config, "eos_token_id", None)
        return end_token_ids(self.tokenizer, gen_eos)


class _StepCounter:
    """Counts the batch's rows at every decoding step, for a live tokens/s (`live_tokens`)."""

    def __init__(self, sampler: HFSampler):
        self.sampler = sampler

    def __call__(self, input_ids, scores):
        self.sampler._in_flight += int(input_ids.shape[0])
        return scores


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

"""The Ollama backend: the official `ollama` client against a running server."""

from __future__ import annotations

import os
from typing import Any

from laimark.core.seeds import item_seed
from laimark.core.solve import truncate_at_stop
from laimark.models.loading import ModelError, ModelIdentity
from laimark.models.sampling import OLLAMA_TAGS, default_seeds


class OllamaSampler:
    """The official `ollama` client against an Ollama server (`ollama serve`, default port 11434)."""

    def __init__(
        self, model: str, host: str | None = None, concurrency: int = 4, thinking: bool = False
    ):
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
            backend="ollama",
        )
        # Ollama refuses `think` (even false) for a model without the capability: send it only to
        # models that have it, and say so when thinking is asked of one that cannot.
        can_think = "thinking" in (self.client.show(self.model).capabilities or [])
        if thinking and not can_think:
            raise ModelError(
                f"--thinking on: model '{self.model}' has no thinking capability on the Ollama "
                "server; use --thinking off"
            )
        self.think = {"think": thinking} if can_think else {}

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
        reply = self.client.chat(model=self.model, messages=prompt, options=options, **self.think)
        return reply.message.content or ""

    def generate(
        self, prompts, n=1, *, temperature=0.0, top_p=1.0, max_new_tokens=512, stop=(), seeds=None
    ):
        from concurrent.futures import ThreadPoolExecutor

        seeds = default_seeds(prompts, seeds)
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

"""Sampling backends (hf, openvino, ollama, vllm) behind one interface, with per-item seeds.

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
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from laimark.core.config import check
from laimark.core.seeds import item_seed
from laimark.models.loading import DEFAULT_MODEL, DTYPES, EMBEDDED, ModelError, ModelIdentity

log = logging.getLogger(__name__)

BACKENDS = ("auto", "hf", "openvino", "ollama", "vllm")
BACKEND_ENV = "LAIMARK_BACKEND"  # what auto means on this machine, if set (e.g. hf)
# Ollama tags of the embedded models, so the default --model works with --backend ollama too.
OLLAMA_TAGS = {
    "qwen2.5-coder-0.5b-instruct": "qwen2.5-coder:0.5b",
    "smollm2-135m-instruct": "smollm2:135m",
}


def default_seeds(prompts: Sequence, seeds: Sequence[int] | None) -> list[int]:
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


def make_sampler(
    backend: str = "hf",
    model: str = DEFAULT_MODEL,
    *,
    adapter: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
    dtype: str = "auto",
    device: str = "auto",
    batch_size: int = 8,
    ollama_host: str | None = None,
    thinking: bool = False,
) -> Sampler:
    """Build a sampler. `auto` is openvino on a CPU where it runs, else hf (`resolve_backend`).

    For `hf`, adapters are merged into the weights in fp32 (sampling is faster so).

    `thinking` is passed to chat templates that take it (`enable_thinking`, Qwen3) and to Ollama
    (`think`) for models that have the capability; other models ignore it."""
    adapters = [adapter] if isinstance(adapter, (str, os.PathLike)) else list(adapter or [])
    backend = resolve_backend(backend, device)
    if backend == "openvino":
        from laimark.models.openvino import OpenVINOSampler

        if device not in ("auto", "cpu"):
            raise ModelError(f"--backend openvino runs on the CPU, not --device {device}")
        return OpenVINOSampler(model, adapters, dtype, batch_size, thinking=thinking)
    if backend == "hf":
        from laimark.models.hf import HFSampler
        from laimark.models.loading import load_model

        return HFSampler(
            load_model(model, adapters, dtype=dtype, device=device, merge=True),
            batch_size,
            thinking=thinking,
        )
    if backend == "ollama":
        if adapters:
            raise ModelError(
                "--adapter needs --backend hf, openvino or vllm; Ollama serves merged models only"
            )
        from laimark.models.ollama import OllamaSampler

        return OllamaSampler(model, ollama_host, concurrency=batch_size, thinking=thinking)
    if backend == "vllm":
        from laimark.models.vllm import VLLMSampler

        return VLLMSampler(model, adapters, dtype, thinking=thinking, device=device)
    raise ModelError(f"unknown backend '{backend}'; choose one of {', '.join(BACKENDS)}")


def resolve_backend(backend: str, device: str = "auto") -> str:
    """What `--backend auto` means here: `$LAIMARK_BACKEND` if set; else on a CPU, openvino where
    it is installed, else hf; on a GPU, vllm where it is installed (`.[vllm]`; untested: no GPU
    on the development machines), else hf."""
    if backend != "auto":
        return backend
    chosen = os.environ.get(BACKEND_ENV, "auto")
    if chosen != "auto":
        if chosen not in BACKENDS:
            raise ModelError(f"${BACKEND_ENV}={chosen} is not a backend ({', '.join(BACKENDS)})")
        return chosen
    import importlib.util

    from laimark.models.loading import pick_device

    if pick_device(device) != "cpu":
        return "vllm" if importlib.util.find_spec("vllm") else "hf"
    from laimark.models.openvino import unavailable

    why = unavailable()
    if why:
        log.warning("--backend auto: using hf, because %s", why)
        return "hf"
    return "openvino"


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
    g.add_argument(
        "--backend",
        choices=BACKENDS,
        default="auto",
        help=f"auto (default): ${BACKEND_ENV} if set, else openvino on a CPU and vllm on a GPU "
        "where installed, else hf (docs/models.md)",
    )
    add_dtype_device_args(g)
    g.add_argument(
        "--ollama_host",
        default=None,
        help="Ollama server URL (default: $OLLAMA_HOST or http://localhost:11434)",
    )
    g.add_argument(
        "--batch_size",
        type=int,
        default=8,
        help="sequences generated together (hf), in flight at once (openvino), or concurrent "
        "requests (ollama)",
    )
    add_thinking_arg(g)
    return parser


def add_dtype_device_args(group) -> None:
    """--dtype and --device, the same in every command that loads a model."""
    group.add_argument(
        "--dtype",
        choices=DTYPES,
        default="auto",
        help="auto (default): bf16 on GPUs and on CPUs with native bf16, else fp32 "
        "(docs/training.md, Numerics)",
    )
    group.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default)")


def add_thinking_arg(group) -> None:
    """--thinking, shared by the sampling stages and training (which applies the template itself)."""
    group.add_argument(
        "--thinking",
        choices=("off", "on"),
        default="off",
        help="models that can think before answering (Qwen3): 'off' passes "
        "enable_thinking=False to the chat template and think=false to Ollama, as the LAIMARK "
        "paper ran every stage (its solve prompt also ends in /no_think); other models ignore "
        "it (default: %(default)s)",
    )


def chat_template_kwargs(thinking: bool) -> dict:
    """Extra variables for `apply_chat_template`; templates that do not use them ignore them."""
    return {"enable_thinking": thinking}


# How the policy is run, not what it is: the curriculum stages let these change on resume (a run
# begun on hf may go on with openvino); the sidecar lists every session's engine (`engines`).
# Evaluation does not: its samples are the measurement.
ENGINE_FREE = ("model.device", "model.ollama_host", "model.backend", "model.batch_size")


@dataclass(frozen=True)
class ModelConfig:
    """The policy a stage samples from: the flags of `add_model_args`."""

    model: str = DEFAULT_MODEL
    adapter: list[str] | None = None
    backend: str = "auto"
    dtype: str = "auto"
    device: str = "auto"
    ollama_host: str | None = None
    batch_size: int = 8
    thinking: str = "off"

    def __post_init__(self) -> None:
        check(self.batch_size >= 1, "--batch_size must be >= 1")
        check(self.thinking in ("off", "on"), "--thinking must be 'off' or 'on'")


def sampler_for(config: ModelConfig) -> Sampler:
    """make_sampler() for a ModelConfig; the one place a stage gets its sampler from."""
    return make_sampler(
        config.backend,
        config.model,
        adapter=config.adapter,
        dtype=config.dtype,
        device=config.device,
        batch_size=config.batch_size,
        ollama_host=config.ollama_host,
        thinking=config.thinking == "on",
    )
